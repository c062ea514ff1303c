package ipam

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is an inclusive run of addresses of one family.
type Range struct{ First, Last netip.Addr }

// String formats the range in the syntax ParseExcludes reads back.
func (r Range) String() string {
	if r.First == r.Last {
		return r.First.String()
	}
	return r.First.String() + rangeSeparator + r.Last.String()
}

// rangeSeparator joins the ends of a range in Kube-OVN's exclude_ips syntax.
const rangeSeparator = ".."

// ParseCIDR parses a subnet in CIDR notation and checks it can serve as one.
func ParseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := validatePrefix(p); err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

// validatePrefix holds the rules shared by ParseCIDR and SetSubnet.
func validatePrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("%w: CIDR %s is not valid", ErrInvalidConfig, p)
	}
	if p.Addr().Is4In6() {
		return fmt.Errorf("%w: %s is an IPv4-mapped IPv6 prefix, write the IPv4 form", ErrInvalidConfig, p)
	}
	if p.Masked() != p {
		return fmt.Errorf("%w: %s: host bits set, did you mean %s", ErrInvalidConfig, p, p.Masked())
	}
	// Both families lose the network address and IPv4 the broadcast too, so
	// the last two prefix lengths leave nothing to hand out.
	if p.Bits() >= p.Addr().BitLen()-1 {
		return fmt.Errorf("%w: %s is too small: a /%d has no assignable addresses", ErrInvalidConfig, p, p.Bits())
	}
	return nil
}

// ParseExcludes parses Kube-OVN's exclude_ips syntax: a comma separated list
// of single addresses and "first..last" ranges. An empty string yields nil.
func ParseExcludes(s string) ([]Range, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ranges []Range
	for i, entry := range strings.Split(s, ",") {
		r, err := parseRange(strings.TrimSpace(entry))
		if err != nil {
			return nil, fmt.Errorf("exclude entry %d: %w", i+1, err)
		}
		ranges = append(ranges, r)
	}
	return ranges, nil
}

func parseRange(s string) (Range, error) {
	firstText, lastText, isRange := strings.Cut(s, rangeSeparator)
	first, err := parseAddr(firstText)
	if err != nil {
		return Range{}, err
	}
	if !isRange {
		return Range{first, first}, nil
	}
	last, err := parseAddr(lastText)
	if err != nil {
		return Range{}, err
	}
	if first.Is4() != last.Is4() {
		return Range{}, fmt.Errorf("%w: range %q mixes IPv4 and IPv6", ErrFamilyMismatch, s)
	}
	if last.Less(first) {
		return Range{}, fmt.Errorf("%w: range %q ends before it starts", ErrInvalidConfig, s)
	}
	return Range{first, last}, nil
}

// ParsePool parses Kube-OVN's ip_pool syntax: a comma separated list of
// addresses, tried in the order given. An empty string yields nil.
func ParsePool(s string) ([]netip.Addr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	entries := strings.Split(s, ",")
	pool := make([]netip.Addr, 0, len(entries))
	seen := make(map[netip.Addr]bool, len(entries))
	for i, entry := range entries {
		a, err := parseAddr(entry)
		if err != nil {
			return nil, fmt.Errorf("pool entry %d: %w", i+1, err)
		}
		if seen[a] {
			return nil, fmt.Errorf("%w: pool entry %d: %s is listed twice", ErrInvalidRequest, i+1, a)
		}
		seen[a] = true
		pool = append(pool, a)
	}
	return pool, nil
}

// parseAddr parses one address, refusing forms that would never match a
// subnet: zones and IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, fmt.Errorf("%w: empty address", ErrInvalidRequest)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w: %s has a zone, which subnets never contain", ErrInvalidRequest, a)
	}
	if a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%w: %s is IPv4-mapped IPv6, write %s", ErrInvalidRequest, a, a.Unmap())
	}
	return a, nil
}

// LastAddr is the highest address of p, of either family.
func LastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
