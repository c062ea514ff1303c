package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReach(t *testing.T) {
	tcpPort, udpPort := startServer(t)
	silentTCP, silentUDP := silentPorts(t)
	closed := closedPort(t)
	target := func(proto string, port int) string { return proto + "/127.0.0.1:" + strconv.Itoa(port) }

	args := []string{"reach", "--timeout", "300ms",
		target("tcp", tcpPort), target("udp", udpPort), target("tcp", closed),
		target("udp", silentUDP), target("tcp", silentTCP), target("tcp", tcpPort)}
	var out bytes.Buffer
	if err := run(args, &out); err != nil {
		t.Fatalf("run(%q): %v", args, err)
	}
	want := []struct{ prefix, contains string }{
		{target("tcp", tcpPort) + " ok ", "proto=tcp"},
		{target("udp", udpPort) + " ok ", "proto=udp"},
		{target("tcp", closed) + " fail ", "refused"},
		{target("udp", silentUDP) + " fail ", "timeout after 300ms"},
		{target("tcp", silentTCP) + " fail ", "timeout after 300ms"},
		{target("tcp", tcpPort) + " ok ", "local=127.0.0.1:" + strconv.Itoa(tcpPort)},
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want one per target (%d):\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w.prefix) || !strings.Contains(lines[i], w.contains) {
			t.Errorf("line %d = %q, want prefix %q containing %q", i, lines[i], w.prefix, w.contains)
		}
	}
}

// All targets are probed at once: a TCP listener that never answers sees
// every connection open at the same time.
func TestReachIsConcurrent(t *testing.T) {
	const targets = 20
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	open, most := 0, 0
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open++
			most = max(most, open)
			mu.Unlock()
			go func() {
				// The client closes when its timeout ends.
				_, _ = io.Copy(io.Discard, conn)
				conn.Close()
				mu.Lock()
				open--
				mu.Unlock()
			}()
		}
	}()
	list := make([]target, targets)
	for i := range list {
		list[i] = target{proto: "tcp", addr: l.Addr().String()}
	}
	for i, r := range reach(list, 2*time.Second) {
		if r.err == nil {
			t.Fatalf("target %d answered %q; the listener never writes", i, r.answer)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most != targets {
		t.Errorf("at most %d of %d connections were open at once; want all of them", most, targets)
	}
}

func TestReachUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no targets", []string{"reach"}},
		{"no protocol", []string{"reach", "127.0.0.1:80"}},
		{"unknown protocol", []string{"reach", "sctp/127.0.0.1:80"}},
		{"no port", []string{"reach", "tcp/127.0.0.1"}},
		{"bad timeout", []string{"reach", "--timeout", "soon", "tcp/127.0.0.1:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ue usageError
			if err := run(tt.args, io.Discard); !errors.As(err, &ue) {
				t.Fatalf("run(%q) = %v; want a usage error", tt.args, err)
			}
		})
	}
}
