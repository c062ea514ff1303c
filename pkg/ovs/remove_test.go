package ovs_test

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// DeleteBridge leaves no row behind: not the bridge, its ports and
// interfaces, its mirror, nor the QoS and queues of its ports; another
// bridge and its port stay as they were, and a second call sends nothing.
func TestDeleteBridge(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	if err := f.client.EnsurePort(ctx, podPort("c1")); err != nil {
		t.Fatal(err)
	}
	if err := f.client.SetPortEgressRate(ctx, "abc_h", 10e6); err != nil {
		t.Fatal(err)
	}
	if err := f.client.EnsureMirror(ctx, "br-int", ovs.Mirror{Name: "m0", OutputPort: "mirror0", SelectAll: true}); err != nil {
		t.Fatal(err)
	}
	f.vsctl(t, "add-br", "br-other", "--", "add-port", "br-other", "keep")

	f.step(t, 1, func() error { return f.client.DeleteBridge(ctx, "br-int") })
	f.step(t, 0, func() error { return f.client.DeleteBridge(ctx, "br-int") })

	if got := f.vsctl(t, "list-br"); got != "br-other" {
		t.Errorf("bridges = %q, want only br-other", got)
	}
	if got := f.vsctl(t, "list-ports", "br-other"); got != "keep" {
		t.Errorf("ports of br-other = %q, want keep", got)
	}
	for _, table := range []string{"qos", "queue", "mirror"} {
		if got := f.vsctl(t, "--bare", "--columns=_uuid", "list", table); got != "" {
			t.Errorf("%s rows left: %q", table, got)
		}
	}
	for _, name := range []string{"abc_h", "mirror0", "br-int"} {
		if got := f.vsctl(t, "--bare", "--columns=name", "find", "interface", "name="+name); got != "" {
			t.Errorf("interface %s left", name)
		}
	}
}

// RemoveOpenvSwitchExternalIDs removes the keys named, keeps every other,
// and writes nothing when none is there.
func TestRemoveOpenvSwitchExternalIDs(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	ids := map[string]string{"ovn-remote": "tcp:10.0.0.1:6642", "ovn-encap-ip": "10.0.0.2"}
	if err := f.client.SetOpenvSwitchExternalIDs(ctx, ids); err != nil {
		t.Fatal(err)
	}
	f.vsctl(t, "set", "open_vswitch", ".", "external_ids:site=lab")

	remove := []string{"ovn-remote", "ovn-encap-ip", "never-set"}
	f.step(t, 1, func() error { return f.client.RemoveOpenvSwitchExternalIDs(ctx, remove) })
	f.step(t, 0, func() error { return f.client.RemoveOpenvSwitchExternalIDs(ctx, remove) })
	if got := f.vsctl(t, "get", "open_vswitch", ".", "external_ids"); got != "{site=lab}" {
		t.Errorf("external_ids = %s, want {site=lab}", got)
	}
	have, err := f.client.OpenvSwitchExternalIDs()
	if err != nil || len(have) != 1 || have["site"] != "lab" {
		t.Errorf("OpenvSwitchExternalIDs() = %v, %v; want site=lab alone", have, err)
	}
}
