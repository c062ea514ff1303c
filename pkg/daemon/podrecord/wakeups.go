package podrecord

import "sync"

// wakeups hands out one-shot wake-ups per key: wake closes the channel of
// every waiter of a key at once, and a waiter that gives up withdraws its
// own channel only, so others waiting on the same key (a runtime retrying
// a sandbox with a new container ID) keep theirs.
type wakeups[K comparable] struct {
	mu sync.Mutex
	// waiters holds, per key, the channels not yet closed.
	waiters map[K]map[chan struct{}]struct{}
}

// next returns a channel closed on the key's next wake, and a function
// that withdraws it; withdrawing after the wake does nothing.
func (w *wakeups[K]) next(key K) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters == nil {
		w.waiters = map[K]map[chan struct{}]struct{}{}
	}
	ch := make(chan struct{})
	if w.waiters[key] == nil {
		w.waiters[key] = map[chan struct{}]struct{}{}
	}
	w.waiters[key][ch] = struct{}{}
	return ch, func() { w.withdraw(key, ch) }
}

func (w *wakeups[K]) withdraw(key K, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.waiters[key], ch)
	if len(w.waiters[key]) == 0 {
		delete(w.waiters, key)
	}
}

// wake closes and drops every channel waiting on key.
func (w *wakeups[K]) wake(key K) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[key] {
		close(ch)
	}
	delete(w.waiters, key)
}

// pending counts the channels waiting on key.
func (w *wakeups[K]) pending(key K) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiters[key])
}
