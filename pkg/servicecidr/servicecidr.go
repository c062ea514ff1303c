package servicecidr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Check refuses ranges that are not prefixes or two of one family: a
// Service has at most one ClusterIP per family.
func Check(cidrs []netip.Prefix) error {
	seen := map[bool]netip.Prefix{}
	for _, p := range cidrs {
		if !p.IsValid() {
			return errors.New("service CIDR: not a prefix")
		}
		if other, ok := seen[p.Addr().Is4()]; ok {
			return fmt.Errorf("service CIDRs %s and %s are of one family; give at most one per family", other, p)
		}
		seen[p.Addr().Is4()] = p
	}
	return nil
}

// Parse reads a comma-separated list of Service ranges; "" is none.
func Parse(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, field := range strings.Split(s, ",") {
		if field = strings.TrimSpace(field); field == "" {
			continue
		}
		p, err := netip.ParsePrefix(field)
		if err != nil {
			return nil, fmt.Errorf("service CIDR %q: %w", field, err)
		}
		out = append(out, p.Masked())
	}
	return out, Check(out)
}

// Of is the range of the family of a (IPv4 or IPv6) among cidrs.
func Of(cidrs []netip.Prefix, a netip.Addr) (netip.Prefix, bool) {
	for _, p := range cidrs {
		if p.IsValid() && p.Addr().Is4() == a.Unmap().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}
