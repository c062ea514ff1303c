package controller

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/ovnet/ovnet/pkg/annotation"
)

// podPolicyChanges passes the pod updates policies depend on: labels, the
// recorded address, and the pod finishing. Creates and deletes always pass.
var podPolicyChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		oldPod, okOld := e.ObjectOld.(*corev1.Pod)
		newPod, okNew := e.ObjectNew.(*corev1.Pod)
		if !okOld || !okNew {
			return true
		}
		return !maps.Equal(oldPod.Labels, newPod.Labels) || finished(oldPod) != finished(newPod) ||
			oldPod.Annotations[annotation.Allocated] != newPod.Annotations[annotation.Allocated] ||
			oldPod.Annotations[annotation.IPAddress] != newPod.Annotations[annotation.IPAddress]
	},
}

// podsAfterFirstList drops the pods of the informer's first list. A
// process reconciles every policy and namespace from their own first list,
// against every pod in the cache, and fills a peer set from the cache when
// a policy first uses it; mapping each pod to the policies that select it
// on top only took a restart's CPU (at 20,000 pods and 2000 policies, more
// than the bootstrap itself).
var podsAfterFirstList = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList },
}

// namespacePolicyChanges passes the namespace updates policies depend on:
// labels (namespaceSelectors) and the ACL logging annotation.
var namespacePolicyChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
			e.ObjectOld.GetAnnotations()[annotation.ACLLogging] != e.ObjectNew.GetAnnotations()[annotation.ACLLogging]
	},
}

// namespaceLabelChanges passes namespace label changes only: they move
// the namespace's pods in or out of namespaceSelectors.
var namespaceLabelChanges = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	DeleteFunc: func(event.DeleteEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
	},
}
