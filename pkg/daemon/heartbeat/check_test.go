package heartbeat

import (
	"strings"
	"testing"

	"github.com/ovnet/ovnet/pkg/ovs"
)

func TestMembersFault(t *testing.T) {
	tests := []struct {
		name   string
		uplink ovs.BridgeUplink
		want   string
	}{
		{"one member up", ovs.BridgeUplink{Bridge: "br-phy", Members: []ovs.MemberLink{
			{Name: "eth1", LinkState: "down"}, {Name: "eth2", LinkState: "up"}}}, ""},
		{"cable pulled", ovs.BridgeUplink{Bridge: "br-phy", Members: []ovs.MemberLink{{Name: "eth1", LinkState: "down"}}},
			"no physical port of OVS bridge br-phy has its link up (eth1 down)"},
		{"not reported yet", ovs.BridgeUplink{Bridge: "br-ex", Members: []ovs.MemberLink{{Name: "eth0"}}},
			"(eth0 unknown)"},
		{"no physical port", ovs.BridgeUplink{Bridge: "br-ex"}, "the bridge has no physical port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := membersFault("br-x", tt.uplink)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("fault %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("fault %v, want one saying %q", err, tt.want)
			}
		})
	}
}
