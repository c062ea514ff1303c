package uninstall

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Departure decides, when the daemon is told to stop, whether the node
// leaves ovnet (the daemon's DaemonSet is gone, being deleted, or
// replaced by another of the same name: helm uninstall) or the daemon
// merely restarts (an update, a rollout, a deleted pod, a node drain),
// when everything must stay so pods keep their network. In doubt (no pod
// name, an API error) it keeps the node as it is.
//
// It reads the daemon's own Pod and that Pod's DaemonSet, directly from
// the API server: a cache could lag behind a deletion.
type Departure struct {
	API client.Reader
	// Pod is the daemon's own Pod (downward API); empty disables the
	// decision: the node is never cleaned on exit.
	Pod types.NamespacedName
}

// The daemon's own Pod (already granted) and its DaemonSet, read once on exit.
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get

// Verdict is a Departure's decision and why.
type Verdict struct {
	Leaving bool
	Reason  string
}

// Decide asks the API server about the daemon's Pod and its DaemonSet.
func (d Departure) Decide(ctx context.Context) (Verdict, error) {
	if d.Pod.Name == "" {
		return Verdict{Reason: "no pod name given (--pod-name): a restart cannot be told from an uninstall"}, nil
	}
	pod := &corev1.Pod{}
	if err := d.API.Get(ctx, d.Pod, pod); err != nil {
		return Verdict{}, fmt.Errorf("get own pod %s: %w", d.Pod, err)
	}
	ref := daemonSetOwner(pod)
	if ref == nil {
		return Verdict{Reason: "pod " + d.Pod.String() + " has no DaemonSet owner"}, nil
	}
	ds := &appsv1.DaemonSet{}
	err := d.API.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}, ds)
	if apierrors.IsNotFound(err) {
		ds = nil
	} else if err != nil {
		return Verdict{}, fmt.Errorf("get DaemonSet %s/%s: %w", pod.Namespace, ref.Name, err)
	}
	return verdict(*ref, ds), nil
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
