package uninstall

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// watchGrace bounds how long Decide waits for the DaemonSet watch to
// report a deletion when the API server no longer answers its question:
// helm deletes the DaemonSet first, so its watch event precedes the pod's
// stop by far more than this.
const watchGrace = 5 * time.Second

// The daemon's DaemonSet, read on exit and watched, in the release
// namespace (the chart puts a Role for kube-system there).
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch,namespace=kube-system

// Departure decides, when the daemon is told to stop, whether the node
// leaves ovnet (the daemon's DaemonSet is gone, being deleted, or
// replaced by another of the same name: helm uninstall) or the daemon
// merely restarts (an update, a rollout, a deleted pod, a node drain),
// when everything must stay so pods keep their network. In doubt (no pod
// name, the API server unreachable and no deletion seen) it keeps the
// node as it is.
//
// It asks the API server directly on exit, since a cache could lag behind
// a deletion; when that fails (helm uninstall deletes the daemon's RBAC
// and service account right after the DaemonSet) it relies on what its
// watch of the DaemonSet saw.
type Departure struct {
	api client.Reader
	pod types.NamespacedName

	mu sync.Mutex
	// owner is the Pod's controlling DaemonSet, once read.
	owner *metav1.OwnerReference
	// seen holds the DaemonSets (by UID) the watch saw deleted or being
	// deleted.
	seen map[types.UID]string
}

// NewDeparture returns the decision of the daemon whose own Pod is pod
// (the downward API's name and namespace); an empty name never leaves.
func NewDeparture(api client.Reader, pod types.NamespacedName) *Departure {
	return &Departure{api: api, pod: pod, seen: map[types.UID]string{}}
}

// Enabled says whether the daemon knows its Pod.
func (d *Departure) Enabled() bool { return d.pod.Name != "" }

// Verdict is a Departure's decision and why.
type Verdict struct {
	Leaving bool
	Reason  string
}

// Decide asks the API server about the daemon's DaemonSet.
func (d *Departure) Decide(ctx context.Context) (Verdict, error) {
	if !d.Enabled() {
		return Verdict{Reason: "no pod name given (--pod-name): a restart cannot be told from an uninstall"}, nil
	}
	ref, err := d.Owner(ctx)
	if err != nil {
		return Verdict{}, err
	}
	if ref == nil {
		return Verdict{Reason: "pod " + d.pod.String() + " has no DaemonSet owner"}, nil
	}
	ds := &appsv1.DaemonSet{}
	err = d.api.Get(ctx, types.NamespacedName{Namespace: d.pod.Namespace, Name: ref.Name}, ds)
	switch {
	case err == nil:
		return verdict(*ref, ds), nil
	case apierrors.IsNotFound(err):
		return verdict(*ref, nil), nil
	}
	if what := d.awaitSeen(ctx, ref.UID); what != "" {
		return Verdict{Leaving: true, Reason: "the watch saw DaemonSet " + ref.Name + " " + what +
			"; the API server now answers: " + err.Error()}, nil
	}
	return Verdict{}, fmt.Errorf("get DaemonSet %s/%s: %w", d.pod.Namespace, ref.Name, err)
}

// Owner reads the daemon's Pod for its controlling DaemonSet, once: the
// reference never changes. Nil when the Pod has none.
func (d *Departure) Owner(ctx context.Context) (*metav1.OwnerReference, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owner != nil {
		return d.owner, nil
	}
	pod := &corev1.Pod{}
	if err := d.api.Get(ctx, d.pod, pod); err != nil {
		return nil, fmt.Errorf("get own pod %s: %w", d.pod, err)
	}
	d.owner = daemonSetOwner(pod)
	return d.owner, nil
}

// awaitSeen waits, bounded, until the watch reports the DaemonSet uid
// deleted, and returns what it saw, or "".
func (d *Departure) awaitSeen(ctx context.Context, uid types.UID) string {
	deadline := time.After(watchGrace)
	for {
		d.mu.Lock()
		what := d.seen[uid]
		d.mu.Unlock()
		if what != "" {
			return what
		}
		select {
		case <-ctx.Done():
			return ""
		case <-deadline:
			return ""
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Handler records, from the DaemonSet informer, the DaemonSets deleted or
// being deleted.
func (d *Departure) Handler() toolscache.ResourceEventHandlerFuncs {
	record := func(obj any, deleted bool) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		ds, ok := obj.(*appsv1.DaemonSet)
		if !ok || (!deleted && ds.DeletionTimestamp == nil) {
			return
		}
		what := "being deleted"
		if deleted {
			what = "deleted"
		}
		d.mu.Lock()
		d.seen[ds.UID] = what
		d.mu.Unlock()
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { record(obj, false) },
		UpdateFunc: func(_, obj any) { record(obj, false) },
		DeleteFunc: func(obj any) { record(obj, true) },
	}
}

// verdict is the decision once the owner reference and its DaemonSet
// (nil when gone) are known.
func verdict(ref metav1.OwnerReference, ds *appsv1.DaemonSet) Verdict {
	switch {
	case ds == nil:
		return Verdict{Leaving: true, Reason: "DaemonSet " + ref.Name + " is gone"}
	case ds.UID != ref.UID:
		return Verdict{Leaving: true, Reason: "DaemonSet " + ref.Name + " was deleted and created again"}
	case ds.DeletionTimestamp != nil:
		return Verdict{Leaving: true, Reason: "DaemonSet " + ref.Name + " is being deleted"}
	}
	return Verdict{Reason: "DaemonSet " + ref.Name + " stays: a restart or an update"}
}

// daemonSetOwner returns the pod's controlling DaemonSet reference.
func daemonSetOwner(pod *corev1.Pod) *metav1.OwnerReference {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "DaemonSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return nil
	}
	return ref
}
