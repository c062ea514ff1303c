package controller

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
)

// podChanges passes the pod updates the pod reconciler acts on and drops
// the rest, about half of all pod events in a busy cluster: the kubelet's
// status reports while the pod runs, and the update caused by the
// controller's own annotation patch. Creates and deletes always pass.
var podChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		oldPod, okOld := e.ObjectOld.(*corev1.Pod)
		newPod, okNew := e.ObjectNew.(*corev1.Pod)
		if !okOld || !okNew {
			return true
		}
		return podUpdateMatters(oldPod, newPod)
	},
}

func podUpdateMatters(oldPod, newPod *corev1.Pod) bool {
	if finished(newPod) != finished(oldPod) || !newPod.DeletionTimestamp.Equal(oldPod.DeletionTimestamp) {
		return true
	}
	oldAllocated := oldPod.Annotations[annotation.Allocated] == annotation.True
	newAllocated := newPod.Annotations[annotation.Allocated] == annotation.True
	if newAllocated && !oldAllocated {
		return false // our own record landing
	}
	return !sameAnnotations(oldPod.Annotations, newPod.Annotations)
}

func sameAnnotations(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
