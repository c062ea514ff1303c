package netpol

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// ipBlock is an ipBlock peer: the addresses of a CIDR minus its exceptions.
type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

// parseIPBlock checks an ipBlock peer of either family; its exceptions
// must be of its family and inside it, as the API server checks too.
func parseIPBlock(b *networkingv1.IPBlock) (ipBlock, error) {
	cidr, err := netip.ParsePrefix(strings.TrimSpace(b.CIDR))
	if err != nil {
		return ipBlock{}, fmt.Errorf("ipBlock cidr %q: %w", b.CIDR, err)
	}
	if cidr.Addr().Zone() != "" || cidr.Addr().Is4In6() {
		return ipBlock{}, fmt.Errorf("ipBlock cidr %s is not a plain IPv4 or IPv6 prefix", cidr)
	}
	block := ipBlock{cidr: cidr.Masked()}
	for _, e := range b.Except {
		ex, err := netip.ParsePrefix(strings.TrimSpace(e))
		if err != nil {
			return ipBlock{}, fmt.Errorf("ipBlock except %q: %w", e, err)
		}
		if ex.Addr().Is4() != block.cidr.Addr().Is4() || !block.cidr.Contains(ex.Addr()) || ex.Bits() < block.cidr.Bits() {
			return ipBlock{}, fmt.Errorf("ipBlock except %s is not inside %s", ex, block.cidr)
		}
		block.except = append(block.except, ex.Masked())
	}
	return block, nil
}

// contains reports whether the block holds ip.
func (b ipBlock) contains(ip netip.Addr) bool {
	if !b.cidr.Contains(ip) {
		return false
	}
	for _, ex := range b.except {
		if ex.Contains(ip) {
			return false
		}
	}
	return true
}

// match is the block as a match on field.
func (b ipBlock) match(field string) string {
	m := field + " == " + b.cidr.String()
	if len(b.except) == 0 {
		return m
	}
	except := make([]string, len(b.except))
	for i, ex := range b.except {
		except[i] = ex.String()
	}
	sort.Strings(except)
	return "(" + m + " && " + field + " != {" + strings.Join(except, ", ") + "})"
}
