package daemon

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
	"github.com/ovnet/ovnet/pkg/ovnname"
	"github.com/ovnet/ovnet/pkg/ovs"
)

func podKey(p cni.PodRef) types.NamespacedName {
	return types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
}

// mirrorWanted is the keyMirror value for a pod's annotations.
func mirrorWanted(annotations map[string]string) string {
	if annotations[annotation.Mirror] == annotation.True {
		return annotation.True
	}
	return "false"
}

// applyBandwidth sets both of a pod's limits on the datapath in use.
// Into the pod: a linux-htb QoS on its OVS port, which shapes what OVS
// sends into the veth on either datapath. Out of the pod: OVS ingress
// policing on the kernel datapath (Kube-OVN's mechanism); on the userspace
// datapath, which ignores policing, a token bucket on the pod's end.
func (d *Daemon) applyBandwidth(ctx context.Context, a attachment, bw annotation.Bandwidth) error {
	if err := d.ovs.SetPortEgressRate(ctx, a.HostName, bw.Ingress); err != nil {
		return err
	}
	if d.cfg.DatapathType == ovs.DatapathSystem {
		return d.ovs.SetInterfaceIngressPolicing(ctx, a.HostName, bw.Egress)
	}
	have, err := podEgressRate(a.Netns, a.IfName)
	if err != nil || have == bw.Egress {
		return err
	}
	return shapePodEgress(a.Netns, a.IfName, bw.Egress)
}

// syncMirror makes mirror0 copy all pod traffic when the node mirrors
// everything, and otherwise that of the ports whose pods asked for it.
func (d *Daemon) syncMirror(ctx context.Context) error {
	d.mirrorMu.Lock()
	defer d.mirrorMu.Unlock()
	want := ovs.Mirror{Name: DefaultMirror, OutputPort: DefaultMirror, SelectAll: d.cfg.EnableMirror}
	if !want.SelectAll {
		ports, err := d.ovs.ListPorts(d.cfg.Bridge)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if p.ExternalIDs[keyMirror] == annotation.True {
				want.Ports = append(want.Ports, p.Name)
			}
		}
	}
	return d.ovs.EnsureMirror(ctx, d.cfg.Bridge, want)
}

// PodReconciler keeps a running pod's bandwidth limits and mirroring in
// line with its annotations, and re-applies them after a daemon restart;
// it changes nothing that already matches.
type PodReconciler struct {
	daemon   *Daemon
	recorder events.EventRecorder
}

// Reconcile converges one pod's attachments on this node.
func (r *PodReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := r.daemon.cache.Get(ctx, req.NamespacedName, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // DEL removes its ports.
		}
		return ctrl.Result{}, err
	}
	attachments, err := r.daemon.attachmentsOf(req.NamespacedName)
	if err != nil || len(attachments) == 0 {
		return ctrl.Result{}, err
	}
	bw, err := annotation.ParseBandwidth(pod.Annotations)
	if err != nil {
		// The limits in force stay until the annotation is fixed.
		r.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "InvalidBandwidth", "ApplyBandwidth",
			"%v; keeping the limits in force", err)
		return ctrl.Result{}, nil
	}
	for _, a := range attachments {
		if err := r.daemon.applyBandwidth(ctx, a, bw); err != nil {
			return ctrl.Result{}, fmt.Errorf("pod %s: %w", req.NamespacedName, err)
		}
		ids := map[string]string{keyMirror: mirrorWanted(pod.Annotations)}
		port := ovs.Port{Bridge: r.daemon.cfg.Bridge, Name: a.HostName, ExternalIDs: ids}
		if err := r.daemon.ovs.EnsurePort(ctx, port); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, r.daemon.syncMirror(ctx)
}

// attachmentsOf finds the pod's ports on the bridge.
func (d *Daemon) attachmentsOf(pod types.NamespacedName) ([]attachment, error) {
	ports, err := d.ovs.ListPorts(d.cfg.Bridge)
	if err != nil {
		return nil, err
	}
	var out []attachment
	for _, p := range ports {
		if a, ok := attachmentOf(p); ok && p.ExternalIDs[keyIfaceID] == ovnname.PodPort(pod.Namespace, pod.Name) {
			out = append(out, a)
		}
	}
	return out, nil
}

// policyAnnotationsChanged passes pod updates that touch what the
// reconciler applies; creations pass too, which after a restart is how
// every running pod gets re-checked.
var policyAnnotationsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		before, after := e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()
		for _, key := range []string{annotation.IngressRate, annotation.EgressRate, annotation.IngressBandwidth,
			annotation.EgressBandwidth, annotation.Mirror} {
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
		For(&corev1.Pod{}, builder.WithPredicates(policyAnnotationsChanged)).
		Complete(r)
}
