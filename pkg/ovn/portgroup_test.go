package ovn_test

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/ovnet/ovnet/pkg/ovn"
	"github.com/ovnet/ovnet/pkg/ovsdb/nbdb"
	"github.com/ovnet/ovnet/test/harness"
)

var policyOwner = ovn.Owner{Kind: ovn.KindNetworkPolicy, Namespace: "ns", Name: "p"}

// podPorts makes switch s1 with pod ports of the names given.
func podPorts(t *testing.T, c *ovn.Client, names ...string) {
	t.Helper()
	ops, err := c.SwitchOps(ovn.Switch{Name: "s1", Owner: subnetOwner})
	commit(t, c, ops, err)
	for _, name := range names {
		ops, err = c.SwitchPortOps(ovn.SwitchPort{Switch: "s1", Name: name, Owner: ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: name}})
		commit(t, c, ops, err)
	}
}

func TestPortGroupConverges(t *testing.T) {
	c, view := connect(t)
	podPorts(t, c, "a.ns", "b.ns")
	var ops []ovsdb.Operation
	var err error
	allow := ovn.ACL{Name: "ns/p", Direction: nbdb.ACLDirectionToLport, Priority: 1001, Match: "outport == @pg_x && tcp.dst == 80",
		Action: nbdb.ACLActionAllowRelated}
	logged := ovn.ACL{Name: "ns/p", Direction: nbdb.ACLDirectionFromLport, Priority: 1001, Match: "inport == @pg_x",
		Action: nbdb.ACLActionAllowRelated, Severity: "notice", Options: map[string]string{"apply-after-lb": "true"}}
	steps := []struct {
		name      string
		want      ovn.PortGroup
		wantPorts int
	}{
		{"create, a port not yet in NB left out", ovn.PortGroup{Name: "pg_x", Owner: policyOwner, Ports: []string{"a.ns", "c.ns"}, ACLs: []ovn.ACL{allow}}, 1},
		{"add a port and an ACL", ovn.PortGroup{Name: "pg_x", Owner: policyOwner, Ports: []string{"a.ns", "b.ns"}, ACLs: []ovn.ACL{allow, logged}}, 2},
		{"remove a port and an ACL", ovn.PortGroup{Name: "pg_x", Owner: policyOwner, Ports: []string{"b.ns"}, ACLs: []ovn.ACL{logged}}, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ops, err := c.PortGroupOps(st.want)
			commit(t, c, ops, err)
			if again, err := c.PortGroupOps(st.want); err != nil || len(again) != 0 {
				t.Fatalf("second ensure: %d ops, %v; want none", len(again), err)
			}
			waitFor(t, "port group rows", func() bool {
				pgs := harness.List(t, view, func(pg *nbdb.PortGroup) bool { return pg.Name == "pg_x" })
				acls := harness.List[nbdb.ACL](t, view, nil)
				return len(pgs) == 1 && len(pgs[0].Ports) == st.wantPorts && len(pgs[0].ACLs) == len(st.want.ACLs) &&
					len(acls) == len(st.want.ACLs)
			})
		})
	}
	acl := harness.List[nbdb.ACL](t, view, nil)[0]
	if !acl.Log || acl.Severity == nil || *acl.Severity != "notice" || acl.Name == nil || *acl.Name != "ns/p" ||
		acl.Options["apply-after-lb"] != "true" {
		t.Errorf("acl %+v: want logged at notice, named ns/p, applied after lb", acl)
	}
	ops, err = c.DeletePortGroupOps("pg_x")
	commit(t, c, ops, err)
	waitFor(t, "port group and its ACLs gone", func() bool {
		return len(harness.List[nbdb.PortGroup](t, view, nil)) == 0 && len(harness.List[nbdb.ACL](t, view, nil)) == 0
	})
}

func TestAddressSetConverges(t *testing.T) {
	c, view := connect(t)
	for _, addrs := range [][]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.2", "10.0.0.3"}, {}} {
		want := ovn.AddressSet{Name: "as_x", Owner: policyOwner, Addresses: addrs}
		ops, err := c.AddressSetOps(want)
		commit(t, c, ops, err)
		if again, err := c.AddressSetOps(want); err != nil || len(again) != 0 {
			t.Fatalf("second ensure: %d ops, %v; want none", len(again), err)
		}
		waitFor(t, "addresses", func() bool {
			sets := harness.List[nbdb.AddressSet](t, view, nil)
			return len(sets) == 1 && sameSet(sets[0].Addresses, addrs)
		})
	}
	// Owners sharing the policy's name (found through the same index
	// entry) keep their sets.
	others := []ovn.Owner{
		{Kind: ovn.KindNetworkPolicy, Namespace: policyOwner.Namespace, Name: "q"},
		{Kind: ovn.KindNetworkPolicy, Namespace: "other", Name: policyOwner.Name},
		{Kind: ovn.KindPeerSelector, Name: policyOwner.Name},
	}
	for i, o := range others {
		ops, err := c.AddressSetOps(ovn.AddressSet{Name: fmt.Sprintf("as_other%d", i), Owner: o})
		commit(t, c, ops, err)
	}
	ops, err := c.DeleteOwnedAddressSetsOps(policyOwner, nil)
	commit(t, c, ops, err)
	waitFor(t, "only the other owners' sets left", func() bool {
		return slices.Equal(addressSetNames(t, view), []string{"as_other0", "as_other1", "as_other2"})
	})
}

// A policy's sets are found by owner in one pass, and deleted by name:
// only the owner's, a name NB does not hold passed over.
func TestAddressSetsByOwnerAndName(t *testing.T) {
	c, view := connect(t)
	other := ovn.Owner{Kind: ovn.KindNetworkPolicy, Namespace: policyOwner.Namespace, Name: "q"}
	for name, o := range map[string]ovn.Owner{"as_a": policyOwner, "as_b": policyOwner, "as_q": other,
		"as_ps": {Kind: ovn.KindPeerSelector, Name: "ps"}} {
		ops, err := c.AddressSetOps(ovn.AddressSet{Name: name, Owner: o})
		commit(t, c, ops, err)
	}
	byOwner, err := c.AddressSetsByOwner(ovn.KindNetworkPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range byOwner {
		slices.Sort(names)
	}
	want := map[ovn.Owner][]string{policyOwner: {"as_a", "as_b"}, other: {"as_q"}}
	if len(byOwner) != len(want) || !slices.Equal(byOwner[policyOwner], want[policyOwner]) || !slices.Equal(byOwner[other], want[other]) {
		t.Errorf("AddressSetsByOwner = %v, want %v", byOwner, want)
	}
	ops, err := c.DeleteNamedAddressSetsOps(policyOwner, []string{"as_a", "as_q", "as_gone"})
	commit(t, c, ops, err)
	waitFor(t, "as_a deleted, the other owner's as_q kept", func() bool {
		return slices.Equal(addressSetNames(t, view), []string{"as_b", "as_ps", "as_q"})
	})
}

// addressSetNames lists the names of the address sets in the view, sorted.
func addressSetNames(t *testing.T, view *harness.NBView) []string {
	t.Helper()
	var names []string
	for _, as := range harness.List[nbdb.AddressSet](t, view, nil) {
		names = append(names, as.Name)
	}
	sort.Strings(names)
	return names
}

func TestSwitchACLsLeaveOthersAlone(t *testing.T) {
	c, view := connect(t)
	ops, err := c.SwitchOps(ovn.Switch{Name: "s1", Owner: subnetOwner})
	commit(t, c, ops, err)
	drop := ovn.ACL{Name: "subnet/s1/private", Direction: nbdb.ACLDirectionToLport, Priority: 3000,
		Match: "ip4.dst == 10.0.0.0/24 && ip4.src != {10.0.0.0/24}", Action: nbdb.ACLActionDrop}
	ops, err = c.SwitchACLsOps("s1", subnetOwner, []ovn.ACL{drop})
	commit(t, c, ops, err)
	if again, err := c.SwitchACLsOps("s1", subnetOwner, []ovn.ACL{drop}); err != nil || len(again) != 0 {
		t.Fatalf("second ensure: %d ops, %v; want none", len(again), err)
	}
	waitFor(t, "acl on switch", func() bool {
		ls := view.Switch(t, "s1")
		return ls != nil && len(ls.ACLs) == 1
	})
	ops, err = c.SwitchACLsOps("s1", subnetOwner, nil)
	commit(t, c, ops, err)
	waitFor(t, "acl removed", func() bool {
		ls := view.Switch(t, "s1")
		return ls != nil && len(ls.ACLs) == 0 && len(harness.List[nbdb.ACL](t, view, nil)) == 0
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, x := range a {
		in[x] = true
	}
	for _, x := range b {
		if !in[x] {
			return false
		}
	}
	return true
}

// A port deleted and made again under its name is a new row: the group
// names the new one, however the old one's UUID was remembered.
func TestPortGroupFollowsRecreatedPort(t *testing.T) {
	c, view := connect(t)
	ops, err := c.SwitchOps(ovn.Switch{Name: "s1", Owner: subnetOwner})
	commit(t, c, ops, err)
	port := ovn.SwitchPort{Switch: "s1", Name: "a.ns", Owner: ovn.Owner{Kind: ovn.KindPod, Namespace: "ns", Name: "a"}}
	want := ovn.PortGroup{Name: "pg_y", Owner: policyOwner, Ports: []string{"a.ns"}}
	portUUID := func() string {
		ports := harness.List(t, view, func(p *nbdb.LogicalSwitchPort) bool { return p.Name == "a.ns" })
		if len(ports) != 1 {
			return ""
		}
		return ports[0].UUID
	}
	var first string
	for round := range 2 {
		ops, err = c.SwitchPortOps(port)
		commit(t, c, ops, err)
		ops, err = c.PortGroupOps(want)
		commit(t, c, ops, err)
		waitFor(t, "the group naming the port", func() bool {
			pgs := harness.List(t, view, func(pg *nbdb.PortGroup) bool { return pg.Name == "pg_y" })
			uuid := portUUID()
			return uuid != "" && len(pgs) == 1 && len(pgs[0].Ports) == 1 && pgs[0].Ports[0] == uuid
		})
		if round == 0 {
			first = portUUID()
			ops, err = c.DeleteSwitchPortOps("a.ns")
			commit(t, c, ops, err)
			waitFor(t, "the port gone", func() bool { return portUUID() == "" })
		} else if portUUID() == first {
			t.Fatalf("the port made again kept its UUID %s: the test shows nothing", first)
		}
	}
}

// One port's membership is edited group by group, the other members
// untouched; a group or port not in NB takes no op, and a group already
// right takes none either.
func TestPortMembership(t *testing.T) {
	c, view := connect(t)
	podPorts(t, c, "a.ns", "b.ns")
	var ops []ovsdb.Operation
	var err error
	for _, g := range []string{"pg_in", "pg_out"} {
		ops, err = c.PortGroupOps(ovn.PortGroup{Name: g, Owner: policyOwner, Ports: []string{"a.ns"}})
		commit(t, c, ops, err)
	}
	members := func(group string) []string {
		pgs := harness.List(t, view, func(pg *nbdb.PortGroup) bool { return pg.Name == group })
		if len(pgs) != 1 {
			return nil
		}
		var names []string
		for _, p := range harness.List(t, view, func(p *nbdb.LogicalSwitchPort) bool { return slices.Contains(pgs[0].Ports, p.UUID) }) {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		return names
	}
	steps := []struct {
		name    string
		port    string
		want    map[string]bool
		wantOps int
		in, out []string
	}{
		{"b joins one group, leaves one it is not in, a group not in NB ignored", "b.ns",
			map[string]bool{"pg_in": true, "pg_out": false, "pg_none": true}, 1, []string{"a.ns", "b.ns"}, []string{"a.ns"}},
		{"a leaves one group", "a.ns", map[string]bool{"pg_in": true, "pg_out": false}, 1, []string{"a.ns", "b.ns"}, nil},
		{"nothing to change", "a.ns", map[string]bool{"pg_in": true, "pg_out": false}, 0, []string{"a.ns", "b.ns"}, nil},
		{"a port not in NB", "c.ns", map[string]bool{"pg_in": true, "pg_out": true}, 0, []string{"a.ns", "b.ns"}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ops, err := c.PortMembershipOps(st.port, st.want)
			if err != nil || len(ops) != st.wantOps {
				t.Fatalf("%d ops, %v; want %d", len(ops), err, st.wantOps)
			}
			commit(t, c, ops, err)
			waitFor(t, "members", func() bool {
				return slices.Equal(members("pg_in"), st.in) && slices.Equal(members("pg_out"), st.out)
			})
		})
	}
}
