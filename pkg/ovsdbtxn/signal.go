package ovsdbtxn

import (
	"sync"
	"sync/atomic"

	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
)

// ChangeSignal is a broadcast of cache changes: Next returns a channel
// closed at the next change. libovsdb offers no way to remove a cache event
// handler, so one handler feeds every waiter through this.
type ChangeSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

// WatchCache returns a signal fed by every add, update and delete in the
// client's cache. Register it before monitoring starts, so no change slips
// between the snapshot and the first wait; the cache outlives reconnections.
func WatchCache(c client.Client) *ChangeSignal {
	s := &ChangeSignal{ch: make(chan struct{})}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { s.Notify() },
		UpdateFunc: func(string, model.Model, model.Model) { s.Notify() },
		DeleteFunc: func(string, model.Model) { s.Notify() },
	})
	return s
}

// Next returns a channel closed at the next change. Take it before
// checking the condition waited for, so a change in between is not missed.
func (s *ChangeSignal) Next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// Notify wakes every waiter.
func (s *ChangeSignal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// OnRowsAddedOrDeleted calls fn after each row of table the cache gains
// or loses, from libovsdb's event goroutine; fn must not block. Rows
// changed in place do not call it, nor does anything after Close.
func (c *Client) OnRowsAddedOrDeleted(table string, fn func()) {
	h := c.handlers.add(fn)
	call := func(t string) {
		if f := h.Load(); f != nil && t == table {
			(*f)()
		}
	}
	c.db.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(t string, _ model.Model) { call(t) },
		DeleteFunc: func(t string, _ model.Model) { call(t) },
	})
}

// handlers hold functions that libovsdb's cache calls, so that Close can
// let go of them: libovsdb cannot remove a handler.
type handlers struct {
	mu  sync.Mutex
	fns []*atomic.Pointer[func()]
}

func (h *handlers) add(fn func()) *atomic.Pointer[func()] {
	p := &atomic.Pointer[func()]{}
	p.Store(&fn)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns = append(h.fns, p)
	return p
}

func (h *handlers) detach() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.fns {
		p.Store(nil)
	}
	h.fns = nil
}
