package controller

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// waiters remembers pods waiting for an address in a subnet (full, or not
// ready yet), so that a release there or the subnet becoming ready retries
// them at once rather than at their next timed retry.
type waiters struct {
	mu       sync.Mutex
	bySubnet map[string]map[types.NamespacedName]struct{}
	// wakes counts wake-ups per subnet; a pod that failed after a wake-up
	// it did not see is retried at once instead of waiting for the next.
	wakes map[string]uint64
	// wake carries the pods to retry into the pod controller's queue.
	wake chan event.GenericEvent
}

// namespaceWaitKey is the waiters' key of pods refused in the subnet their
// namespace gave them, retried when the namespace's subnet may have
// changed. No Subnet can have it: Kubernetes names hold no space.
func namespaceWaitKey(namespace string) string { return "namespace " + namespace }

func newWaiters() *waiters {
	return &waiters{bySubnet: map[string]map[types.NamespacedName]struct{}{}, wakes: map[string]uint64{},
		wake: make(chan event.GenericEvent, 4096)}
}

// seen returns the subnet's wake-up count, read before an attempt.
func (w *waiters) seen(subnet string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wakes[subnet]
}

// add makes pod wait for subnet; seen is the count read before the attempt
// that failed.
func (w *waiters) add(subnet string, pod types.NamespacedName, seen uint64) {
	w.mu.Lock()
	missed := w.wakes[subnet] != seen
	if !missed {
		if w.bySubnet[subnet] == nil {
			w.bySubnet[subnet] = map[types.NamespacedName]struct{}{}
		}
		w.bySubnet[subnet][pod] = struct{}{}
	}
	w.mu.Unlock()
	if missed {
		w.send(pod)
	}
}

// wakeAll retries every pod waiting on subnet. A full channel drops the
// wake-up; the pod's timed retry still comes.
func (w *waiters) wakeAll(subnet string) {
	w.mu.Lock()
	pods := w.bySubnet[subnet]
	delete(w.bySubnet, subnet)
	w.wakes[subnet]++
	w.mu.Unlock()
	for key := range pods {
		w.send(key)
	}
}

// requeue hands every pod to the pod controller's queue; unlike a wake-up
// it is never dropped, so it waits while the channel is full.
func (w *waiters) requeue(ctx context.Context, pods []types.NamespacedName) {
	for _, key := range pods {
		select {
		case w.wake <- event.GenericEvent{Object: podStub(key)}:
		case <-ctx.Done():
			return
		}
	}
}

func podStub(key types.NamespacedName) *corev1.Pod {
	p := &corev1.Pod{}
	p.Namespace, p.Name = key.Namespace, key.Name
	return p
}

func (w *waiters) send(key types.NamespacedName) {
	select {
	case w.wake <- event.GenericEvent{Object: podStub(key)}:
	default:
	}
}
