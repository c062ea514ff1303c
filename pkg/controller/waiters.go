package controller

import (
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
	// wake carries the pods to retry into the pod controller's queue.
	wake chan event.GenericEvent
}

func newWaiters() *waiters {
	return &waiters{bySubnet: map[string]map[types.NamespacedName]struct{}{}, wake: make(chan event.GenericEvent, 4096)}
}

func (w *waiters) add(subnet string, pod types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bySubnet[subnet] == nil {
		w.bySubnet[subnet] = map[types.NamespacedName]struct{}{}
	}
	w.bySubnet[subnet][pod] = struct{}{}
}

// wakeAll retries every pod waiting on subnet. A full channel drops the
// wake-up; the pod's timed retry still comes.
func (w *waiters) wakeAll(subnet string) {
	w.mu.Lock()
	pods := w.bySubnet[subnet]
	delete(w.bySubnet, subnet)
	w.mu.Unlock()
	for key := range pods {
		p := &corev1.Pod{}
		p.Namespace, p.Name = key.Namespace, key.Name
		select {
		case w.wake <- event.GenericEvent{Object: p}:
		default:
		}
	}
}
