package daemon

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/cni"
)

// podWatch lets ADD wait for the controller's record on a pod: the pod
// informer's events wake the waiters of that pod, which then re-read the
// cache. No polling, and a pod addressed before ADD arrives costs nothing.
type podWatch struct {
	// cache is the informer-backed reader of this node's pods.
	cache client.Reader
	// events wakes the waiters of a pod on each of its informer events.
	events wakeups[types.NamespacedName]
}

func newPodWatch(cache client.Reader) *podWatch {
	return &podWatch{cache: cache}
}

// handler is registered on the pod informer.
func (w *podWatch) handler() toolscache.ResourceEventHandler {
	wake := func(obj any) {
		if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			w.events.wake(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { wake(obj) },
		UpdateFunc: func(_, obj any) { wake(obj) },
		DeleteFunc: wake,
	}
}

// addressedPod is a pod with the controller's parsed record.
type addressedPod struct {
	Pod     *corev1.Pod
	Address annotation.Address
}

// waitAddressed returns the pod once the controller marked it allocated,
// or an error saying what was last seen when ctx ends first.
func (w *podWatch) waitAddressed(ctx context.Context, ref cni.PodRef) (addressedPod, error) {
	key := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	for {
		changed, withdraw := w.events.next(key)
		got, state, err := w.read(ctx, key, ref.UID)
		if err != nil || got.Pod != nil {
			withdraw()
			return got, err
		}
		select {
		case <-ctx.Done():
			withdraw()
			return addressedPod{}, fmt.Errorf("%w: pod %s %s", errAddressTimeout, key, state)
		case <-changed:
		}
	}
}

// read looks the pod up once: the pod when addressed, otherwise a phrase
// saying why not yet; an error only for a record that can never work.
func (w *podWatch) read(ctx context.Context, key types.NamespacedName, uid string) (addressedPod, string, error) {
	pod := &corev1.Pod{}
	if err := w.cache.Get(ctx, key, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return addressedPod{}, "is not (yet) known on this node", nil
		}
		return addressedPod{}, "could not be read: " + err.Error(), nil
	}
	if uid != "" && string(pod.UID) != uid {
		return addressedPod{}, fmt.Sprintf("has uid %s, the runtime asked for %s", pod.UID, uid), nil
	}
	addr, ok, err := annotation.ParseAddress(pod.Annotations)
	if err != nil {
		return addressedPod{}, "", fmt.Errorf("%w: pod %s: %v", errBadRecord, key, err)
	}
	if !ok {
		return addressedPod{}, "has no address from ovnet-controller yet (see the pod's events)", nil
	}
	return addressedPod{Pod: pod, Address: addr}, "", nil
}
