package harness

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovnet/ovnet/test/harness/wait"
)

// farPort is the far probe server's port in these tests.
const farPort = 8080

// TestUnderlayAddr checks the node addresses handed out on the underlay.
func TestUnderlayAddr(t *testing.T) {
	tests := []struct {
		node int
		want string
	}{
		{1, "172.18.0.1/24"},
		{2, "172.18.0.2/24"},
		{253, "172.18.0.253/24"},
	}
	for _, tt := range tests {
		if got := UnderlayAddr(tt.node).String(); got != tt.want {
			t.Errorf("UnderlayAddr(%d) = %s, want %s", tt.node, got, tt.want)
		}
	}
	if UnderlayPrefix.Contains(FarIP) || UnderlayPrefix.Contains(FarAltIP) || !UnderlayPrefix.Contains(ExternalHostIP) {
		t.Errorf("underlay %s: want the external host %s on it and the far addresses %s, %s off it",
			UnderlayPrefix, ExternalHostIP, FarIP, FarAltIP)
	}
}

// TestUnderlayOutside builds an underlay with one chassis, the external
// host and the far network, checks that the chassis's namespace reaches
// the far server on both its addresses through the external host, which
// sees the chassis's address, and that the external host routes a prefix
// via the chassis; then that the cleanups left no namespace, interface or
// process behind.
func TestUnderlayOutside(t *testing.T) {
	before := childProcesses(t)
	var names []string
	var started map[int]string
	running := t.Run("running", func(t *testing.T) {
		central := StartOVNCentral(t)
		ch := StartChassis(t, ChassisOptions{Name: "node1", SB: central.SB, NetNS: UniqueName("node"), EncapIP: UnderlayAddr(1).Addr().String()})
		ul := NewUnderlay(t)
		ul.AttachChassis(t, ch, UnderlayAddr(1))
		names = []string{ch.NetNS, ul.NetNS, ul.External.NetNS, ul.Far.NetNS}

		capture := ul.External.Capture(t, "tcp", "port", fmt.Sprint(farPort))
		ul.Far.Serve(t, farPort)
		probe := Build(t, "./test/image/probe", "probe")
		for _, ip := range ul.Far.IPs {
			target := netip.AddrPortFrom(ip, farPort).String()
			out, err := execIn(ch.NetNS, probe, "connect", "tcp", target, "--timeout", "2s")
			if err != nil {
				t.Fatalf("chassis to far %s: %v\n%s", target, err, out)
			}
			if want := "client=" + UnderlayAddr(1).Addr().String() + ":"; !strings.Contains(out, want) {
				t.Errorf("far server at %s answered %q, want %s", target, out, want)
			}
		}
		// The far server's own check (Serve) runs inside the far host; the
		// chassis's connections crossed the underlay.
		wait.For(t, 5*time.Second, "the external host saw the chassis's connections", func() error {
			lines := capture.Lines()
			for _, ip := range ul.Far.IPs {
				want := UnderlayAddr(1).Addr().String() + "."
				if !containsLine(lines, want, ip.String()+"."+fmt.Sprint(farPort)) {
					return fmt.Errorf("no packet %s* > %s.%d among %q", want, ip, farPort, lines)
				}
			}
			return nil
		})

		ul.Unplug(t, ch)
		if out, err := execIn(ch.NetNS, probe, "connect", "tcp", netip.AddrPortFrom(FarIP, farPort).String()); err == nil {
			t.Errorf("unplugged chassis still reaches the far server: %s", out)
		}
		ul.Plug(t, ch)
		wait.For(t, 10*time.Second, "plugged chassis reaches the far server again", func() error {
			out, err := execIn(ch.NetNS, probe, "connect", "tcp", netip.AddrPortFrom(FarIP, farPort).String())
			if err != nil {
				return fmt.Errorf("%w: %s", err, out)
			}
			return nil
		})

		pods := netip.MustParsePrefix("10.16.0.0/16")
		ul.External.Route(t, pods, UnderlayAddr(1).Addr())
		out, err := ul.External.Exec("ip", "route", "get", "10.16.0.5")
		if err != nil || !strings.Contains(out, "via "+UnderlayAddr(1).Addr().String()) {
			t.Errorf("external host's route to 10.16.0.5: %v: %s", err, out)
		}
		started = newProcesses(before, childProcesses(t))
	})
	if !running {
		return
	}
	for pid, comm := range started {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("%s (pid %d) still exists after cleanup (kill -0: %v)", comm, pid, err)
		}
	}
	list := run(t, "ip", "netns", "list")
	for _, ns := range names {
		if netnsExists(ns) || strings.Contains(list, ns) {
			t.Errorf("namespace %s still exists after cleanup: %s", ns, list)
		}
	}
}

// containsLine reports whether a line holds all of parts.
func containsLine(lines []string, parts ...string) bool {
	for _, line := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
