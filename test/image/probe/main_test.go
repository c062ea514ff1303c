package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startServer serves one ephemeral TCP and one UDP port on loopback until
// the test ends, and returns them.
func startServer(t *testing.T) (tcpPort, udpPort int) {
	t.Helper()
	srv, err := listen("0", "0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.tcp[0].Addr().(*net.TCPAddr).Port, srv.udp[0].LocalAddr().(*net.UDPAddr).Port
}

// silentPorts returns a TCP port that completes handshakes but never answers
// and a UDP port that never answers.
func silentPorts(t *testing.T) (tcpPort, udpPort int) {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); u.Close() })
	return l.Addr().(*net.TCPAddr).Port, u.LocalAddr().(*net.UDPAddr).Port
}

// closedPort returns a port nothing listens on (just released).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func TestConnect(t *testing.T) {
	tcpPort, udpPort := startServer(t)
	silentTCP, silentUDP := silentPorts(t)
	closed := closedPort(t)
	hostport := func(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

	tests := []struct {
		name  string
		proto string
		addr  string
		ipv6  bool
		// want are substrings of the answer; wantErr of the error.
		want    []string
		wantErr string
	}{
		{name: "tcp ipv4", proto: "tcp", addr: hostport("127.0.0.1", tcpPort),
			want: []string{"proto=tcp", "local=127.0.0.1:" + strconv.Itoa(tcpPort), "client=127.0.0.1:", "host="}},
		{name: "udp ipv4", proto: "udp", addr: hostport("127.0.0.1", udpPort),
			want: []string{"proto=udp", "local=127.0.0.1:" + strconv.Itoa(udpPort), "client=127.0.0.1:"}},
		{name: "udp ipv4 other loopback address answers from it", proto: "udp", addr: hostport("127.0.0.2", udpPort),
			want: []string{"local=127.0.0.2:" + strconv.Itoa(udpPort)}},
		{name: "tcp ipv6", proto: "tcp", addr: hostport("::1", tcpPort), ipv6: true,
			want: []string{"local=[::1]:" + strconv.Itoa(tcpPort), "client=[::1]:"}},
		{name: "udp ipv6", proto: "udp", addr: hostport("::1", udpPort), ipv6: true,
			want: []string{"local=[::1]:" + strconv.Itoa(udpPort), "client=[::1]:"}},
		{name: "tcp refused", proto: "tcp", addr: hostport("127.0.0.1", closed), wantErr: "refused"},
		{name: "tcp no answer", proto: "tcp", addr: hostport("127.0.0.1", silentTCP), wantErr: "no answer: timeout after 200ms"},
		{name: "udp no answer", proto: "udp", addr: hostport("127.0.0.1", silentUDP), wantErr: "no answer: timeout after 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.ipv6 && !hasIPv6Loopback() {
				t.Skip("no IPv6 loopback here")
			}
			got, err := connect(tt.proto, tt.addr, 200*time.Millisecond)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("connect = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer %q lacks %q", got, w)
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	tcpPort, _ := startServer(t)
	tests := []struct {
		name      string
		args      []string
		wantOut   string
		wantUsage bool
		wantErr   bool
	}{
		{name: "connect with flag after the address", args: []string{"connect", "tcp", "127.0.0.1:" + strconv.Itoa(tcpPort), "--timeout", "2s"}, wantOut: "proto=tcp"},
		{name: "connect with flag first", args: []string{"connect", "--timeout=2s", "tcp", "127.0.0.1:" + strconv.Itoa(tcpPort)}, wantOut: "proto=tcp"},
		{name: "addrs lists loopback", args: []string{"addrs"}, wantOut: "lo up"},
		{name: "no command", args: nil, wantUsage: true},
		{name: "unknown command", args: []string{"frobnicate"}, wantUsage: true},
		{name: "connect bad protocol", args: []string{"connect", "sctp", "127.0.0.1:80"}, wantUsage: true},
		{name: "connect missing port", args: []string{"connect", "tcp", "127.0.0.1"}, wantUsage: true},
		{name: "connect bad timeout", args: []string{"connect", "tcp", "127.0.0.1:80", "--timeout", "soon"}, wantUsage: true},
		{name: "serve without ports", args: []string{"serve"}, wantUsage: true},
		{name: "serve bad port", args: []string{"serve", "--tcp", "80,http"}, wantUsage: true},
		{name: "serve port out of range", args: []string{"serve", "--udp", "70000"}, wantUsage: true},
		{name: "connect refused is a failure, not usage", args: []string{"connect", "tcp", "127.0.0.1:" + strconv.Itoa(closedPort(t))}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out)
			var ue usageError
			switch {
			case tt.wantUsage:
				if !errors.As(err, &ue) {
					t.Fatalf("run(%q) = %v; want a usage error", tt.args, err)
				}
			case tt.wantErr:
				if err == nil || errors.As(err, &ue) {
					t.Fatalf("run(%q) = %v; want a failure that is not a usage error", tt.args, err)
				}
			default:
				if err != nil {
					t.Fatalf("run(%q): %v", tt.args, err)
				}
				if !strings.Contains(out.String(), tt.wantOut) {
					t.Errorf("output %q lacks %q", out.String(), tt.wantOut)
				}
			}
		})
	}
}
