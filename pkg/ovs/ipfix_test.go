package ovs_test

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// SetIPFIX writes what `ovs-vsctl list ipfix` shows, updates the same row
// when a value changes, writes nothing when none does, and DeleteIPFIX
// leaves no row and no reference.
func TestIPFIX(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	mark := map[string]string{"ovnet.io/owner": "ovnet-daemon"}
	first := ovs.IPFIX{Targets: []string{"192.0.2.9:4739", "192.0.2.5:4739"}, Sampling: 1, CacheActiveTimeout: 2,
		ExternalIDs: mark}
	f.step(t, 1, func() error { return f.client.SetIPFIX(ctx, "br-int", first) })
	f.step(t, 0, func() error { return f.client.SetIPFIX(ctx, "br-int", first) })
	uuid := f.vsctl(t, "get", "bridge", "br-int", "ipfix")
	checks := []struct{ column, want string }{
		{"targets", `["192.0.2.5:4739", "192.0.2.9:4739"]`},
		{"sampling", "1"},
		{"cache_active_timeout", "2"},
		{"cache_max_flows", "[]"},
	}
	for _, c := range checks {
		if got := f.vsctl(t, "get", "ipfix", uuid, c.column); got != c.want {
			t.Errorf("ipfix %s = %s, want %s", c.column, got, c.want)
		}
	}

	changed := first
	changed.Sampling, changed.CacheMaxFlows = 400, 1000
	f.step(t, 1, func() error { return f.client.SetIPFIX(ctx, "br-int", changed) })
	if got := f.vsctl(t, "get", "bridge", "br-int", "ipfix"); got != uuid {
		t.Errorf("ipfix row %s after a change, want the same row %s updated", got, uuid)
	}
	got, err := f.client.IPFIX("br-int")
	if err != nil || got == nil || got.Sampling != 400 || got.CacheMaxFlows != 1000 || got.ExternalIDs["ovnet.io/owner"] != "ovnet-daemon" {
		t.Errorf("IPFIX() = %+v, %v; want the new sampling and bound, and the mark", got, err)
	}

	f.step(t, 1, func() error { return f.client.DeleteIPFIX(ctx, "br-int") })
	f.step(t, 0, func() error { return f.client.DeleteIPFIX(ctx, "br-int") })
	if got := f.vsctl(t, "--bare", "--columns=_uuid", "list", "ipfix"); got != "" {
		t.Errorf("IPFIX rows left: %q", got)
	}
	if got, err := f.client.IPFIX("br-int"); err != nil || got != nil {
		t.Errorf("IPFIX() after delete = %+v, %v; want none", got, err)
	}
	if err := f.client.SetIPFIX(ctx, "br-gone", first); err == nil {
		t.Error("SetIPFIX on a missing bridge succeeded")
	}
}
