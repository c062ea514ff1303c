package cniserver

import (
	"sync/atomic"
	"testing"
	"time"
)

// Commands of one container run one at a time; other containers' do not
// wait; the lock of a container nobody holds is dropped.
func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	unlock := k.lock("a")
	var entered atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		u := k.lock("a")
		entered.Store(true)
		u()
	}()
	other := make(chan struct{})
	go func() {
		k.lock("b")()
		close(other)
	}()
	select {
	case <-other:
	case <-time.After(5 * time.Second):
		t.Fatal("another container's command waited")
	}
	time.Sleep(20 * time.Millisecond)
	if entered.Load() {
		t.Fatal("a second command of container a ran while the first held its lock")
	}
	unlock()
	<-done
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.locks) != 0 {
		t.Fatalf("locks left: %v", k.locks)
	}
}
