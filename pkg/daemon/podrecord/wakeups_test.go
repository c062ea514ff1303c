package podrecord

import (
	"testing"
)

// Several ADDs of one pod wait at once (a runtime retrying a sandbox with
// a new container ID): each waiter is woken and withdrawn on its own.
func TestWakeupsWaitersAreIndependent(t *testing.T) {
	tests := []struct {
		name string
		// withdrawn are the waiters (of three) that gave up before the wake.
		withdrawn []int
	}{
		{"none gave up", nil},
		{"the first gave up", []int{0}},
		{"the last gave up", []int{2}},
		{"two gave up", []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w wakeups[string]
			var chans []<-chan struct{}
			var withdraws []func()
			for range 3 {
				ch, withdraw := w.next("default/a")
				chans, withdraws = append(chans, ch), append(withdraws, withdraw)
			}
			other, _ := w.next("default/b")
			gone := map[int]bool{}
			for _, i := range tt.withdrawn {
				withdraws[i]()
				gone[i] = true
			}
			if got, want := w.pending("default/a"), 3-len(tt.withdrawn); got != want {
				t.Fatalf("%d waiters pending after %d of 3 gave up, want %d", got, len(tt.withdrawn), want)
			}
			w.wake("default/a")
			for i, ch := range chans {
				if gone[i] {
					continue
				}
				select {
				case <-ch:
				default:
					t.Errorf("waiter %d was not woken", i)
				}
			}
			select {
			case <-other:
				t.Error("a waiter of another pod was woken")
			default:
			}
			for _, withdraw := range withdraws {
				withdraw() // after the wake: nothing left to withdraw
			}
			if n := w.pending("default/a"); n != 0 {
				t.Errorf("%d waiters left after the wake", n)
			}
			if n := w.pending("default/b"); n != 1 {
				t.Errorf("the other pod's waiter is gone: %d pending", n)
			}
		})
	}
}
