package ovs

import "fmt"

// Tunnel types between chassis, the values of ovn-encap-type in the
// Open_vSwitch row that ovn-controller reads. Every node of a cluster
// needs the same one: two chassis without a common type get no tunnel.
const (
	EncapGeneve = "geneve"
	EncapVXLAN  = "vxlan"
)

// Bytes a tunnel adds in front of a pod's IP packet: the outer IP header,
// UDP, the tunnel header and the pod's Ethernet header (the outer Ethernet
// header is not part of the uplink's MTU).
const (
	// geneveOverhead is 100 as Kube-OVN takes it, against 58 that OVN's
	// one option needs today (IPv4 20, UDP 8, Geneve 8, the 8-byte
	// option carrying the logical ports, Ethernet 14): it leaves room for
	// an IPv6 underlay (78) and for options OVN may add, and keeps the
	// pod MTU users of Kube-OVN know (1400 under 1500).
	geneveOverhead = 100
	// vxlanOverhead is exact, IPv4 20, UDP 8, VXLAN 8, Ethernet 14:
	// VXLAN has no options to grow.
	vxlanOverhead = 50
	// ipv6Extra is how much longer the outer header is over IPv6.
	ipv6Extra = 20
)

// CheckEncapType refuses a tunnel type ovnet does not configure.
func CheckEncapType(encap string) error {
	switch encap {
	case EncapGeneve, EncapVXLAN:
		return nil
	}
	return fmt.Errorf("encap type %q: want %s or %s", encap, EncapGeneve, EncapVXLAN)
}

// EncapOverhead is what a tunnel of type encap adds to every packet that
// crosses nodes, its outer header over IPv6 when ipv6 is true; 0 for a
// type CheckEncapType refuses.
func EncapOverhead(encap string, ipv6 bool) int {
	switch encap {
	case EncapGeneve:
		// geneveOverhead already covers an IPv6 underlay.
		return geneveOverhead
	case EncapVXLAN:
		if ipv6 {
			return vxlanOverhead + ipv6Extra
		}
		return vxlanOverhead
	}
	return 0
}
