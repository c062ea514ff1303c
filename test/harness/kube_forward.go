package harness

import (
	"io"
	"net"
	"runtime"
	"sync"

	"github.com/vishvananda/netns"
)

// forwarder listens on the host's loopback and relays each connection to
// target inside a network namespace, so the test process and kubectl reach
// an API server that listens in a node's namespace only (kind publishes
// its API server on the host's 127.0.0.1 the same way).
type forwarder struct {
	listener net.Listener
	target   string
	// dials carries dial requests to the goroutine whose thread is in the
	// namespace: a socket belongs to the namespace of the thread creating it.
	dials chan chan dialResult
	wg    sync.WaitGroup

	mu sync.Mutex
	// open are the relayed connections, closed at cleanup so that watches
	// do not keep it waiting.
	open map[net.Conn]bool
}

type dialResult struct {
	conn net.Conn
	err  error
}

// startForwarder relays 127.0.0.1:<free port> to target in the named
// network namespace until tb's cleanup.
func startForwarder(tb T, nsName, target string) *forwarder {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("forwarder: %v", err)
	}
	return serveForwarder(tb, l, nsName, target)
}

// serveForwarder relays every connection l accepts to target, dialled in
// the named network namespace ("" for the test's own), until tb's cleanup.
func serveForwarder(tb T, l net.Listener, nsName, target string) *forwarder {
	tb.Helper()
	f := &forwarder{listener: l, target: target, dials: make(chan chan dialResult), open: map[net.Conn]bool{}}
	ready := make(chan error, 1)
	go f.dialer(nsName, ready)
	if err := <-ready; err != nil {
		l.Close()
		close(f.dials)
		tb.Fatalf("forwarder into %s: %v", nsName, err)
	}
	f.wg.Add(1)
	go f.accept()
	tb.Cleanup(func() {
		l.Close()
		f.closeAll()
		f.wg.Wait()
		close(f.dials)
	})
	return f
}

// Addr is the host address the forwarder listens on.
func (f *forwarder) Addr() string { return f.listener.Addr().String() }

// dialer moves its locked thread into the namespace and dials there for
// every request. The thread is never unlocked, so Go discards it when the
// goroutine ends instead of running other code in the namespace.
func (f *forwarder) dialer(nsName string, ready chan<- error) {
	if nsName != "" {
		runtime.LockOSThread()
		if err := enterNetNS(nsName); err != nil {
			ready <- err
			return
		}
	}
	ready <- nil
	for reply := range f.dials {
		conn, err := net.Dial("tcp", f.target)
		reply <- dialResult{conn: conn, err: err}
	}
}

// enterNetNS moves the calling, locked thread into the named namespace.
func enterNetNS(nsName string) error {
	handle, err := netns.GetFromName(nsName)
	if err != nil {
		return err
	}
	defer handle.Close()
	return netns.Set(handle)
}

// accept relays connections until the listener closes.
func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.listener.Accept()
		if err != nil {
			return
		}
		reply := make(chan dialResult, 1)
		f.dials <- reply
		res := <-reply
		if res.err != nil {
			conn.Close()
			continue
		}
		f.wg.Add(1)
		f.track(conn, res.conn)
		go f.relay(conn, res.conn)
	}
}

// track records open connections; closeAll closes them.
func (f *forwarder) track(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		f.open[c] = true
	}
}

func (f *forwarder) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.open {
		c.Close()
	}
}

// relay copies both ways until either side closes.
func (f *forwarder) relay(a, b net.Conn) {
	defer f.wg.Done()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src) // either side's end or error ends the relay
		done <- struct{}{}
	}
	go pipe(a, b)
	go pipe(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
	f.mu.Lock()
	delete(f.open, a)
	delete(f.open, b)
	f.mu.Unlock()
}
