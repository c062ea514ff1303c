package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

const (
	// maxRetryWaiting caps the backoff of a pod waiting for an address: a
	// pod whose wait ends without any event it is woken by (an address
	// freed, its subnet ready) is still retried every few minutes.
	maxRetryWaiting = 5 * time.Minute
	// eventRepeat is how long one reason stays unrepeated: Events live an
	// hour, so a long wait is reported again before its Event expires.
	eventRepeat = 30 * time.Minute
)

// retries spaces out the attempts and the Events of pods whose address
// request fails the same way again and again: the retry delay doubles from
// retryWaiting up to maxRetryWaiting, and an Event is emitted when the
// reason changes, not on every attempt.
type retries struct {
	mu    sync.Mutex
	byPod map[types.NamespacedName]retryState
}

type retryState struct {
	reason    string
	delay     time.Duration
	lastEvent time.Time
}

func newRetries() *retries {
	return &retries{byPod: map[types.NamespacedName]retryState{}}
}

// failed records a failed attempt; it returns the delay before the next
// one and whether this failure deserves an Event.
func (r *retries) failed(pod types.NamespacedName, reason string, now time.Time) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, seen := r.byPod[pod]
	if !seen || st.reason != reason {
		r.byPod[pod] = retryState{reason: reason, delay: retryWaiting, lastEvent: now}
		return retryWaiting, true
	}
	st.delay = min(2*st.delay, maxRetryWaiting)
	event := now.Sub(st.lastEvent) >= eventRepeat
	if event {
		st.lastEvent = now
	}
	r.byPod[pod] = st
	return st.delay, event
}

// forget drops a pod that was addressed or is gone.
func (r *retries) forget(pod types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byPod, pod)
}
