package netpol

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/ovnet/ovnet/pkg/ovnname"
)

// PrivateSubnet describes a subnet made private (Kube-OVN's
// ovn.kubernetes.io/private and allow): its pods accept traffic only from
// inside the subnet, from the Allow CIDRs and from the nodes.
type PrivateSubnet struct {
	Name  string
	CIDR  netip.Prefix
	Allow []netip.Prefix
	// NodeCIDR is the join subnet, whence kubelet probes come.
	NodeCIDR netip.Prefix
}

// PrivateACLs returns the ACLs of a private subnet's switch. The drop
// outranks every policy (see priority.go). The low allow-related ACL makes
// the switch track connections, so replies to connections its pods open
// to the outside come back although their source is outside.
func PrivateACLs(s PrivateSubnet) []ACL {
	fam := string(familyOfPrefix(s.CIDR))
	sources := []string{s.CIDR.Masked().String()}
	for _, p := range append([]netip.Prefix{s.NodeCIDR}, s.Allow...) {
		if p.IsValid() && string(familyOfPrefix(p)) == fam {
			sources = append(sources, p.Masked().String())
		}
	}
	sort.Strings(sources[1:])
	name := ovnname.PrivateSubnetACL(s.Name)
	return []ACL{
		{Name: name, Direction: ToLport, Priority: PriorityPrivateDrop, Action: ActionDrop,
			Match: fam + ".dst == " + s.CIDR.Masked().String() + " && " + fam + ".src != {" + strings.Join(sources, ", ") + "}"},
		{Name: name, Direction: ToLport, Priority: PriorityPrivateTrack, Action: ActionAllowRelated,
			Match: fam + ".dst == " + s.CIDR.Masked().String()},
	}
}
