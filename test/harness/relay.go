package harness

import (
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
)

// RelayIntoNetNS makes a TCP server of the test's loopback reachable at
// the same address inside a network namespace: it listens on that
// address in the namespace and relays each connection to the server,
// bytes as they are (TLS stays end to end), until tb's cleanup. remote is
// an OVSDB remote ("ssl:127.0.0.1:6642") or HOST:PORT. A chassis in its
// own namespace reaches the databases over their unix sockets; a TLS
// remote is TCP, and the namespace's 127.0.0.1 is its own.
func RelayIntoNetNS(tb T, nsName, remote string) {
	tb.Helper()
	addr := remote
	if i := strings.Index(remote, ":"); i >= 0 && !strings.Contains(remote[:i], ".") {
		addr = remote[i+1:]
	}
	l, err := listenInNetNS(nsName, addr)
	if err != nil {
		tb.Fatalf("relay of %s into %s: %v", remote, nsName, err)
	}
	serveForwarder(tb, l, "", addr)
}

// listenInNetNS opens a TCP listener in the named namespace.
func listenInNetNS(nsName, addr string) (net.Listener, error) {
	return openInNetNS(nsName, func() (net.Listener, error) { return net.Listen("tcp", addr) })
}

// openInNetNS opens a socket in the named namespace: a socket belongs to
// the namespace of the thread creating it. The thread is never unlocked,
// so Go discards it instead of running other code there.
func openInNetNS[S any](nsName string, open func() (S, error)) (S, error) {
	type result struct {
		s   S
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := enterNetNS(nsName); err != nil {
			done <- result{err: err}
			return
		}
		s, err := open()
		done <- result{s, err}
	}()
	r := <-done
	return r.s, r.err
}

// NewNetNS creates a network namespace with lo up, deleted at tb's
// cleanup, for a chassis (ChassisOptions.NetNS, NodeOptions.NetNS) that
// needs something in it before it starts, such as RelayIntoNetNS.
func NewNetNS(tb T) string {
	tb.Helper()
	name := UniqueName("ns")
	addNetNS(tb, name)
	return name
}

// HoldUDPPort binds addr (UDP) in the named namespace, standing for
// another program of the node holding the port, until release is called
// or tb's test ends.
func HoldUDPPort(tb T, nsName string, addr netip.AddrPort) (release func()) {
	tb.Helper()
	conn, err := openInNetNS(nsName, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	})
	if err != nil {
		tb.Fatalf("hold UDP %s in %s: %v", addr, nsName, err)
	}
	var once sync.Once
	release = func() { once.Do(func() { conn.Close() }) }
	tb.Cleanup(release)
	return release
}
