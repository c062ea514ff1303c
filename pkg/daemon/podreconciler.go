package daemon

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/podconfig"
)

// PodReconciler keeps a running pod's interface in line with its
// annotations: the prefix and default route of its address record (which
// follows the subnet's gateway and CIDR), its bandwidth limits and its
// mirroring; it re-applies them after a daemon restart, and the
// configurator changes nothing that already matches.
type PodReconciler struct {
	// Cache reads this node's pods.
	Cache client.Reader
	// Configurator applies the limits and mirroring.
	Configurator *podconfig.Configurator
	// Recorder tells the pod's owner about annotations that do not parse.
	Recorder events.EventRecorder
}

// Reconcile converges one pod's attachments on this node.
func (r *PodReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := r.Cache.Get(ctx, req.NamespacedName, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // DEL removes its ports.
		}
		return ctrl.Result{}, err
	}
	list, err := r.Configurator.AttachmentsOf(pod.Namespace, pod.Name)
	if err != nil || len(list) == 0 {
		return ctrl.Result{}, err
	}
	// A record that does not parse is the controller's to repair; until
	// then the interface keeps what it has.
	if addr, ok, err := annotation.ParseAddress(pod.Annotations); ok && err == nil {
		if err := r.Configurator.Readdress(list, addr); err != nil {
			return ctrl.Result{}, fmt.Errorf("pod %s: %w", req.NamespacedName, err)
		}
	}
	bw, err := annotation.ParseBandwidth(pod.Annotations)
	if err != nil {
		// The limits in force stay until the annotation is fixed.
		r.Recorder.Eventf(pod, nil, corev1.EventTypeWarning, "InvalidBandwidth", "ApplyBandwidth",
			"%v; keeping the limits in force", err)
		return ctrl.Result{}, nil
	}
	mirror := pod.Annotations[annotation.Mirror] == annotation.True
	if err := r.Configurator.Update(ctx, list, bw, mirror); err != nil {
		return ctrl.Result{}, fmt.Errorf("pod %s: %w", req.NamespacedName, err)
	}
	return ctrl.Result{}, nil
}

// appliedAnnotationsChanged passes pod updates that touch what the
// reconciler applies; creations pass too, which after a restart is how
// every running pod gets re-checked.
var appliedAnnotationsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, after := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
		for _, key := range []string{annotation.CIDRWritten, annotation.GatewayWritten, annotation.IngressRate,
			annotation.EgressRate, annotation.IngressBandwidth, annotation.EgressBandwidth, annotation.Mirror} {
			if before[key] != after[key] {
				return true
			}
		}
		return false
	},
	DeleteFunc: func(event.DeleteEvent) bool { return false },
}

// SetupWithManager watches this node's pods.
func (r *PodReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("pod-policy").
		For(&corev1.Pod{}, builder.WithPredicates(appliedAnnotationsChanged)).
		Complete(r)
}
