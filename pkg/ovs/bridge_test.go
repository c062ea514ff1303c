package ovs_test

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

func TestEnsureBridge(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	br := ovs.Bridge{Name: "br-int", DatapathType: ovs.DatapathNetdev, FailMode: ovs.FailModeSecure,
		ExternalIDs: map[string]string{"ovnet.io/owner": "daemon"}, OtherConfig: map[string]string{"disable-in-band": "true"}}

	f.step(t, 1, func() error { return f.client.EnsureBridge(ctx, br) })
	// A key written by someone else, as ovn-controller writes ct-zone-*.
	f.vsctl(t, "br-set-external-id", "br-int", "ct-zone-x", "7")

	tests := []struct {
		name   string
		change func(*ovs.Bridge)
		txns   uint64
		get    []string
		want   string
	}{
		{"created as netdev", nil, 0, []string{"get", "bridge", "br-int", "datapath_type"}, "netdev"},
		{"fail mode secure", nil, 0, []string{"get-fail-mode", "br-int"}, "secure"},
		{"local internal port", nil, 0, []string{"get", "interface", "br-int", "type"}, "internal"},
		{"other_config", nil, 0, []string{"get", "bridge", "br-int", "other_config:disable-in-band"}, `"true"`},
		{"external_id changed", func(b *ovs.Bridge) { b.ExternalIDs = map[string]string{"ovnet.io/owner": "other"} }, 1,
			[]string{"br-get-external-id", "br-int", "ovnet.io/owner"}, "other"},
		{"foreign key kept", nil, 0, []string{"br-get-external-id", "br-int", "ct-zone-x"}, "7"},
		{"datapath changed", func(b *ovs.Bridge) { b.DatapathType = ovs.DatapathSystem }, 1,
			[]string{"get", "bridge", "br-int", "datapath_type"}, "system"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				tt.change(&br)
			}
			f.step(t, tt.txns, func() error { return f.client.EnsureBridge(ctx, br) })
			if got := f.vsctl(t, tt.get...); got != tt.want {
				t.Fatalf("ovs-vsctl %v = %q, want %q", tt.get, got, tt.want)
			}
		})
	}
	if got := f.vsctl(t, "list-br"); got != "br-int" {
		t.Fatalf("ovs-vsctl list-br = %q, want only br-int", got)
	}
}

func TestSetOpenvSwitchExternalIDs(t *testing.T) {
	f := newFixture(t)
	ctx := testContext(t)
	ids := map[string]string{
		"system-id": "node1", "ovn-remote": "tcp:10.0.0.1:6642", "ovn-encap-type": "geneve",
		"ovn-encap-ip": "10.0.0.2", "ovn-bridge-datapath-type": "netdev",
	}
	f.step(t, 1, func() error { return f.client.SetOpenvSwitchExternalIDs(ctx, ids) })
	f.step(t, 0, func() error { return f.client.SetOpenvSwitchExternalIDs(ctx, ids) })
	f.vsctl(t, "set", "open_vswitch", ".", "external_ids:hostname=node1")
	f.step(t, 1, func() error {
		return f.client.SetOpenvSwitchExternalIDs(ctx, map[string]string{"ovn-encap-ip": "10.0.0.3"})
	})
	for key, want := range map[string]string{"ovn-remote": `"tcp:10.0.0.1:6642"`, "ovn-encap-ip": `"10.0.0.3"`,
		"hostname": "node1", "system-id": "node1", "ovn-bridge-datapath-type": "netdev"} {
		if got := f.vsctl(t, "get", "open_vswitch", ".", "external_ids:"+key); got != want {
			t.Errorf("external_ids:%s = %s, want %s", key, got, want)
		}
	}
}
