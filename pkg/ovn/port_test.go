package ovn_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
)

// A port changed in any column ovnet owns converges to the new description
// in one write, and the next call finds nothing to do. The columns are
// compared and written by hand (no model mapper), so each is exercised.
func TestSwitchPortUpdatesEachColumn(t *testing.T) {
	c, view := connect(t)
	ops, err := c.SwitchOps(ovn.Switch{Name: "s1", Owner: subnetOwner})
	commit(t, c, ops, err)
	vlan := 7
	owner := ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: "p"}
	port := ovn.SwitchPort{Switch: "s1", Name: "p.ns", Addresses: []string{"0a:00:00:00:00:01 10.0.0.2"},
		PortSecurity: []string{"0a:00:00:00:00:01 10.0.0.2"}, Owner: owner}
	tests := []struct {
		name   string
		change func(p *ovn.SwitchPort)
	}{
		{"created", func(*ovn.SwitchPort) {}},
		{"addresses", func(p *ovn.SwitchPort) { p.Addresses = []string{"0a:00:00:00:00:02 10.0.0.3"} }},
		{"port security dropped", func(p *ovn.SwitchPort) { p.PortSecurity = nil }},
		{"type and options", func(p *ovn.SwitchPort) {
			p.Type, p.Options = ovn.PortTypeLocalnet, map[string]string{"network_name": "phys"}
		}},
		{"tag set", func(p *ovn.SwitchPort) { p.Tag = &vlan }},
		{"extra external id", func(p *ovn.SwitchPort) { p.ExternalIDs = map[string]string{"ovnet.io/statefulset": "web"} }},
		{"tag, options and type cleared", func(p *ovn.SwitchPort) { p.Tag, p.Options, p.Type = nil, nil, ovn.PortTypeNormal }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change(&port)
			ops, err := c.SwitchPortOps(port)
			commit(t, c, ops, err)
			waitFor(t, "port as described", func() bool {
				have := view.SwitchPort(t, port.Name)
				return have != nil && portIs(have, port)
			})
			if ops, err := c.SwitchPortOps(port); err != nil || len(ops) != 0 {
				t.Fatalf("second call gave %d ops (err %v), want none", len(ops), err)
			}
		})
	}
	if ports := view.PortsOf(t, view.Switch(t, "s1")); !slices.Equal(ports, []string{"p.ns"}) {
		t.Fatalf("switch s1 holds ports %v, want [p.ns]", ports)
	}
}

// portIs reports whether the row holds what want describes.
func portIs(have *nbdb.LogicalSwitchPort, want ovn.SwitchPort) bool {
	ids := want.Owner.ExternalIDs()
	maps.Copy(ids, want.ExternalIDs)
	ids[ovn.ExternalIDSwitch] = want.Switch
	sameTag := (have.Tag == nil) == (want.Tag == nil) && (have.Tag == nil || *have.Tag == *want.Tag)
	return have.Type == want.Type && slices.Equal(have.Addresses, want.Addresses) &&
		slices.Equal(have.PortSecurity, want.PortSecurity) &&
		maps.Equal(have.Options, want.Options) && maps.Equal(have.ExternalIDs, ids) && sameTag
}
