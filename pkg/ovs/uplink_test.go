package ovs_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ovnet/ovnet/pkg/ovs"
	"github.com/ovnet/ovnet/test/harness/wait"
)

// TestUplinkOf: the database alone, with link states written as
// ovs-vswitchd writes them, so each case is exact.
func TestUplinkOf(t *testing.T) {
	f := newFixture(t)
	// br-phy: its local port, a NIC, a patch port (always "up") and a
	// bond of two NICs; br-int holds a plain system port.
	f.vsctl(t, "add-br", "br-phy",
		"--", "add-port", "br-phy", "eth1",
		"--", "add-port", "br-phy", "patch-x", "--", "set", "Interface", "patch-x", "type=patch", "options:peer=none",
		"--", "add-bond", "br-phy", "bond0", "eth2", "eth3",
		"--", "add-port", "br-phy", "vlan10", "--", "set", "Interface", "vlan10", "type=internal",
		"--", "add-br", "br-int", "--", "add-port", "br-int", "veth-pod")
	links := func(states map[string]string) {
		for name, state := range states {
			f.vsctl(t, "set", "Interface", name, "link_state="+state)
		}
		f.vsctl(t, "set", "Interface", "patch-x", "link_state=up")
	}

	tests := []struct {
		name    string
		states  map[string]string
		iface   string
		ok      bool
		anyUp   bool
		members []string
	}{
		{"all up", map[string]string{"eth1": "up", "eth2": "up", "eth3": "up"}, "br-phy", true, true,
			[]string{"eth1", "eth2", "eth3"}},
		{"cable of eth1 pulled, bond up", map[string]string{"eth1": "down"}, "br-phy", true, true, nil},
		{"one bond member left", map[string]string{"eth2": "down"}, "br-phy", true, true, nil},
		{"every physical member down, patch up", map[string]string{"eth3": "down"}, "br-phy", true, false, nil},
		{"another internal port of the bridge", nil, "vlan10", true, false, nil},
		{"a system port is not a bridge's own device", nil, "veth-pod", false, false, nil},
		{"unknown to OVS", nil, "eth0", false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links(tt.states)
			wait.For(t, 5*time.Second, "the cache shows the link states", func() error {
				up, ok, err := f.client.UplinkOf(tt.iface)
				if err != nil {
					return wait.Stop(err)
				}
				if ok != tt.ok || up.AnyUp() != tt.anyUp {
					return fmt.Errorf("UplinkOf(%s) = %+v, ok %v; want ok %v, any up %v", tt.iface, up, ok, tt.ok, tt.anyUp)
				}
				if ok && up.Bridge != "br-phy" {
					return wait.Stop(fmt.Errorf("bridge %q, want br-phy", up.Bridge))
				}
				if tt.members != nil && !slices.Equal(names(up.Members), tt.members) {
					return wait.Stop(fmt.Errorf("members %v, want %v", names(up.Members), tt.members))
				}
				return nil
			})
		})
	}
}

func names(members []ovs.MemberLink) []string {
	var out []string
	for _, m := range members {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}
