package heartbeat

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ovnet/ovnet/pkg/daemon/nslink"
)

// netnsWithUplink makes, over netlink alone, a network namespace holding
// a veth "up0" (its peer "up1" beside it) with 192.0.2.1/24 and a default
// route through it.
func netnsWithUplink(t *testing.T) *nslink.Namespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it creates a network namespace and a veth")
	}
	name := fmt.Sprintf("hb%d", os.Getpid())
	made := make(chan error, 1)
	go func() {
		// NewNamed moves the calling thread into the new namespace; the
		// thread is locked and dies with the goroutine.
		runtime.LockOSThread()
		ns, err := netns.NewNamed(name)
		if err == nil {
			ns.Close()
		}
		made <- err
	}()
	if err := <-made; err != nil {
		t.Fatalf("create network namespace: %v", err)
	}
	t.Cleanup(func() { _ = netns.DeleteNamed(name) })
	ns, err := nslink.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	h := ns.Link
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("add veth", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0"}, PeerName: "up1"}))
	up0, err := h.LinkByName("up0")
	must("find up0", err)
	addr, _ := netlink.ParseAddr("192.0.2.1/24")
	must("address up0", h.AddrAdd(up0, addr))
	must("up1 up", setUp(h, "up1", true))
	must("up0 up", setUp(h, "up0", true))
	must("default route", h.RouteAdd(&netlink.Route{LinkIndex: up0.Attrs().Index, Gw: net.ParseIP("192.0.2.254")}))
	return ns
}

func setUp(h *netlink.Handle, name string, up bool) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	if up {
		return h.LinkSetUp(link)
	}
	return h.LinkSetDown(link)
}

func TestUplinkUp(t *testing.T) {
	ns := netnsWithUplink(t)
	c := &Checker{NetNS: ns}
	type change struct {
		link string
		up   bool
	}
	tests := []struct {
		name   string
		nodeIP string
		change *change // made before the check
		fault  string  // "" when the uplink is fine
	}{
		{"holds the node address", "192.0.2.1", nil, ""},
		{"address elsewhere: the default route's interface", "198.51.100.7", nil, ""},
		{"peer down: no carrier", "192.0.2.1", &change{"up1", false}, "up0 has no carrier"},
		{"peer back", "192.0.2.1", &change{"up1", true}, ""},
		{"uplink down: its default route goes", "198.51.100.7", &change{"up0", false}, "no default route"},
		{"holder down", "192.0.2.1", nil, "up0 is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				if err := setUp(ns.Link, tt.change.link, tt.change.up); err != nil {
					t.Fatal(err)
				}
			}
			err := c.uplinkUp(netip.MustParseAddr(tt.nodeIP))
			switch {
			case tt.fault == "" && err != nil:
				t.Fatalf("uplinkUp: %v", err)
			case tt.fault != "" && (err == nil || !strings.Contains(err.Error(), tt.fault)):
				t.Fatalf("uplinkUp = %v, want a fault mentioning %q", err, tt.fault)
			}
		})
	}
}
