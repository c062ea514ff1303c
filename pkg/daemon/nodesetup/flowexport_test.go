package nodesetup_test

import (
	"testing"

	"github.com/ovnet/ovnet/pkg/daemon/nodesetup"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// TestEnsureBridgeFlowExport follows the daemon through IPFIX and sFlow
// on, a restart, sFlow off, and sFlow off again after someone else set
// their own agent on br-int, against a real Open_vSwitch database: what
// `ovs-vsctl get bridge br-int ipfix/sflow` shows follows the
// configuration, and only the daemon's own rows are removed.
func TestEnsureBridgeFlowExport(t *testing.T) {
	ctx, client, vsctl := openVswitchDB(t)
	both := nodesetup.Config{NodeName: "n1", Bridge: "br-int", DatapathType: "netdev",
		IPFIX: ovs.IPFIX{Targets: []string{"192.0.2.5:4739"}, Sampling: 400, CacheActiveTimeout: 60},
		SFlow: ovs.SFlow{Targets: []string{"192.0.2.5:6343"}, Sampling: 400, Polling: 30, Header: 128}}
	ipfixOnly := both
	ipfixOnly.SFlow = ovs.SFlow{}

	var ipfixRow string
	for _, step := range []struct {
		name   string
		cfg    nodesetup.Config
		before func()
		// sflowTargets is the sFlow row's targets, "" for no row.
		sflowTargets string
	}{
		{"both on", both, nil, `["192.0.2.5:6343"]`},
		{"restart", both, nil, `["192.0.2.5:6343"]`},
		{"sFlow off", ipfixOnly, nil, ""},
		{"someone else's agent kept", ipfixOnly, func() {
			vsctl("--", "--id=@s", "create", "sflow", `targets="198.51.100.9:6343"`, "--", "set", "bridge", "br-int", "sflow=@s")
		}, `["198.51.100.9:6343"]`},
	} {
		if step.before != nil {
			step.before()
		}
		if err := nodesetup.New(step.cfg, client, nil).EnsureBridge(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got := ""
		if vsctl("get", "bridge", "br-int", "sflow") != "[]" {
			got = vsctl("get", "sflow", vsctl("get", "bridge", "br-int", "sflow"), "targets")
		}
		if got != step.sflowTargets {
			t.Errorf("%s: sFlow targets %q, want %q", step.name, got, step.sflowTargets)
		}
		// IPFIX is configured throughout: the same row, never rewritten.
		row := vsctl("get", "bridge", "br-int", "ipfix")
		if ipfixRow == "" {
			ipfixRow = row
		}
		if row != ipfixRow || vsctl("get", "ipfix", row, "targets") != `["192.0.2.5:4739"]` {
			t.Errorf("%s: IPFIX row %s (targets %s), want %s kept", step.name, row, vsctl("get", "ipfix", row, "targets"), ipfixRow)
		}
	}
}
