package podconfig

import (
	"net"
	"net/netip"
	"testing"

	"github.com/ovnet/ovnet/pkg/annotation"
	"github.com/ovnet/ovnet/pkg/daemon/attachments"
	"github.com/ovnet/ovnet/pkg/ovs"
)

// The veth pair asked for follows the attachment, the node's MTU (the
// uplink's for an underlay pod) and the datapath: the userspace one needs
// the pod to fill its checksums.
func TestPodInterface(t *testing.T) {
	addr := annotation.Address{Holding: annotation.Holding{IP: netip.MustParseAddr("10.16.0.5"),
		MAC: net.HardwareAddr{0x0a, 0, 0, 0, 0, 5}}, Subnet: netip.MustParsePrefix("10.16.0.0/16"),
		Gateway: netip.MustParseAddr("10.16.0.1")}
	uplink := func() int { return 1480 }
	tests := []struct {
		name         string
		datapath     string
		hostName     string
		wantHost     string
		wantChecksum bool
		underlay     bool
		underlayMTU  func() int
		wantMTU      int
	}{
		{"kernel datapath, name derived", ovs.DatapathSystem, "", attachments.HostInterfaceName("ctr", "eth0"), false, false, uplink, 1400},
		{"userspace datapath", ovs.DatapathNetdev, "", attachments.HostInterfaceName("ctr", "eth0"), true, false, uplink, 1400},
		{"name given", ovs.DatapathSystem, "given_h", "given_h", false, false, uplink, 1400},
		{"underlay pod: the uplink's MTU", ovs.DatapathNetdev, "", attachments.HostInterfaceName("ctr", "eth0"), true, true, uplink, 1480},
		{"underlay pod, no uplink MTU reader", ovs.DatapathNetdev, "", attachments.HostInterfaceName("ctr", "eth0"), true, true, nil, 1400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{Bridge: "br-int", DatapathType: tt.datapath, MTU: 1400, UnderlayMTU: tt.underlayMTU}, nil, nil)
			p := Pod{Attachment: attachments.Attachment{HostName: tt.hostName, ContainerID: "ctr", IfName: "eth0",
				Netns: "/run/netns/p"}, Address: addr, Underlay: tt.underlay}
			got := c.podInterface(p)
			want := podInterface{HostName: tt.wantHost, Netns: "/run/netns/p", IfName: "eth0", Address: addr, MTU: tt.wantMTU,
				TxChecksumOff: tt.wantChecksum}
			if got.HostName != want.HostName || got.Netns != want.Netns || got.IfName != want.IfName ||
				got.MTU != want.MTU || got.TxChecksumOff != want.TxChecksumOff || got.Address.IP != addr.IP {
				t.Fatalf("podInterface = %+v, want %+v", got, want)
			}
		})
	}
}
