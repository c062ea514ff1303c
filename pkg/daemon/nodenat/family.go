package nodenat

import (
	"net/netip"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Family is the address family of one of the node's two tables: `ip
// ovnet` and `ip6 ovnet` have the same chains and sets, each holding the
// addresses of its own family.
type Family struct {
	// table is the nftables family.
	table nftables.TableFamily
	// nat is the NFPROTO a NAT expression rewrites addresses of.
	nat uint32
	// addrLen is an address's length in bytes.
	addrLen uint32
	// saddrOffset and daddrOffset are the addresses' offsets in the
	// network header.
	saddrOffset, daddrOffset uint32
	// addrType is a set key of one address.
	addrType nftables.SetDatatype
	// loopback is what "to a local address" leaves out: node ports are
	// not answered on loopback, as kube-proxy's are not.
	loopback netip.Prefix
}

// The two families.
var (
	IPv4 = Family{table: nftables.TableFamilyIPv4, nat: unix.NFPROTO_IPV4, addrLen: 4,
		saddrOffset: 12, daddrOffset: 16, addrType: nftables.TypeIPAddr, loopback: netip.MustParsePrefix("127.0.0.0/8")}
	IPv6 = Family{table: nftables.TableFamilyIPv6, nat: unix.NFPROTO_IPV6, addrLen: 16,
		saddrOffset: 8, daddrOffset: 24, addrType: nftables.TypeIP6Addr, loopback: netip.MustParsePrefix("::1/128")}
)

// Families are both, IPv4 first.
var Families = []Family{IPv4, IPv6}

// String is "ip" or "ip6", as nft names the table's family.
func (f Family) String() string {
	if f.Is4() {
		return "ip"
	}
	return "ip6"
}

// Is4 reports whether f is IPv4.
func (f Family) Is4() bool { return f.table == nftables.TableFamilyIPv4 }

// Has reports whether a is of the family.
func (f Family) Has(a netip.Addr) bool { return a.IsValid() && a.Unmap().Is4() == f.Is4() }

// addrPortType is "addr . inet_service".
func (f Family) addrPortType() nftables.SetDatatype {
	return nftables.MustConcatSetType(f.addrType, nftables.TypeInetService)
}

// targetType is "addr . inet_proto . inet_service".
func (f Family) targetType() nftables.SetDatatype {
	return nftables.MustConcatSetType(f.addrType, nftables.TypeInetProto, nftables.TypeInetService)
}
