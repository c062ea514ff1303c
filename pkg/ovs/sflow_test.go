package ovs_test

import (
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

// SetSFlow writes what `ovs-vsctl list sflow` shows, updates the same row
// when a value changes, writes nothing when none does; without targets it
// removes only a row carrying its mark, and DeleteSFlow leaves no row and
// no reference.
func TestSFlow(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	newBridge(t, f)
	mark := map[string]string{"ovnet.io/owner": "ovnet-daemon"}
	first := ovs.SFlow{Targets: []string{"192.0.2.9:6343", "192.0.2.5:6343"}, Sampling: 64, Polling: 1, Header: 128,
		ExternalIDs: mark}
	f.step(t, 1, func() error { return f.client.SetSFlow(ctx, "br-int", first) })
	f.step(t, 0, func() error { return f.client.SetSFlow(ctx, "br-int", first) })
	uuid := f.vsctl(t, "get", "bridge", "br-int", "sflow")
	checks := []struct{ column, want string }{
		{"targets", `["192.0.2.5:6343", "192.0.2.9:6343"]`},
		{"sampling", "64"},
		{"polling", "1"},
		{"header", "128"},
		{"agent", "[]"},
		{"external_ids", `{"ovnet.io/owner"=ovnet-daemon}`},
	}
	for _, c := range checks {
		if got := f.vsctl(t, "get", "sflow", uuid, c.column); got != c.want {
			t.Errorf("sflow %s = %s, want %s", c.column, got, c.want)
		}
	}

	changed := first
	changed.Sampling, changed.Agent = 400, "br-int"
	f.step(t, 1, func() error { return f.client.SetSFlow(ctx, "br-int", changed) })
	if got := f.vsctl(t, "get", "bridge", "br-int", "sflow"); got != uuid {
		t.Errorf("sflow row %s after a change, want the same row %s updated", got, uuid)
	}
	got, err := f.client.SFlow("br-int")
	if err != nil || got == nil || got.Sampling != 400 || got.Agent != "br-int" || got.ExternalIDs["ovnet.io/owner"] != "ovnet-daemon" {
		t.Errorf("SFlow() = %+v, %v; want the new sampling and agent, and the mark", got, err)
	}

	// No targets: another writer's mark leaves the row, the writer's own
	// removes it.
	f.step(t, 0, func() error {
		return f.client.SetSFlow(ctx, "br-int", ovs.SFlow{ExternalIDs: map[string]string{"ovnet.io/owner": "someone"}})
	})
	f.step(t, 1, func() error { return f.client.SetSFlow(ctx, "br-int", ovs.SFlow{ExternalIDs: mark}) })
	if got := f.vsctl(t, "--bare", "--columns=_uuid", "list", "sflow"); got != "" {
		t.Errorf("sFlow rows left after setting no targets: %q", got)
	}

	f.step(t, 1, func() error { return f.client.SetSFlow(ctx, "br-int", first) })
	f.step(t, 1, func() error { return f.client.DeleteSFlow(ctx, "br-int") })
	f.step(t, 0, func() error { return f.client.DeleteSFlow(ctx, "br-int") })
	if got := f.vsctl(t, "--bare", "--columns=_uuid", "list", "sflow"); got != "" {
		t.Errorf("sFlow rows left: %q", got)
	}
	if got, err := f.client.SFlow("br-int"); err != nil || got != nil {
		t.Errorf("SFlow() after delete = %+v, %v; want none", got, err)
	}
	if err := f.client.SetSFlow(ctx, "br-gone", first); err == nil {
		t.Error("SetSFlow on a missing bridge succeeded")
	}
}

// CheckSFlow refuses what ovs-vswitchd would not run, naming the value,
// and accepts an agent given as an address or an interface name.
func TestCheckSFlow(t *testing.T) {
	good := ovs.SFlow{Targets: []string{"192.0.2.5:6343"}, Sampling: 400, Polling: 30, Header: 128}
	tests := []struct {
		name string
		edit func(*ovs.SFlow)
		want string // "" accepts
	}{
		{"defaults", func(*ovs.SFlow) {}, ""},
		{"agent interface", func(x *ovs.SFlow) { x.Agent = "eth0" }, ""},
		{"agent address", func(x *ovs.SFlow) { x.Agent = "2001:db8::1" }, ""},
		{"no target", func(x *ovs.SFlow) { x.Targets = nil }, "no target"},
		{"host name", func(x *ovs.SFlow) { x.Targets = []string{"collector:6343"} }, `target "collector:6343": want IP:port`},
		{"no port", func(x *ovs.SFlow) { x.Targets = []string{"192.0.2.5"} }, `target "192.0.2.5"`},
		{"sampling 0", func(x *ovs.SFlow) { x.Sampling = 0 }, "sampling 0: want 1 (every packet)"},
		{"polling 0", func(x *ovs.SFlow) { x.Polling = 0 }, "polling 0 s: want 1"},
		{"polling beyond a day", func(x *ovs.SFlow) { x.Polling = 86401 }, "polling 86401 s"},
		{"header too large", func(x *ovs.SFlow) { x.Header = 2000 }, "header 2000 bytes: want 1"},
		{"agent with a slash", func(x *ovs.SFlow) { x.Agent = "eth0/1" }, `agent "eth0/1"`},
		{"agent name too long", func(x *ovs.SFlow) { x.Agent = "a-very-long-interface" }, `agent "a-very-long-interface"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := good
			tt.edit(&x)
			err := ovs.CheckSFlow(x)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckSFlow(%+v) = %v, want accepted", x, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckSFlow(%+v) = %v, want an error containing %q", x, err, tt.want)
			case tt.want != "" && !strings.HasPrefix(err.Error(), "sFlow: "):
				t.Errorf("CheckSFlow error %q does not name sFlow", err)
			}
		})
	}
}
