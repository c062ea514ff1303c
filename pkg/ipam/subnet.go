package ipam

import (
	"fmt"
	"net/netip"
	"slices"
)

// SubnetConfig describes one subnet. The gateway, the excludes, the network
// address and, for IPv4, the broadcast address are never handed out.
type SubnetConfig struct {
	Name    string
	CIDR    netip.Prefix
	Gateway netip.Addr // zero means the subnet has no gateway
	// Excludes may reach outside CIDR; only the part inside counts.
	Excludes []Range
}

func (c SubnetConfig) equal(o SubnetConfig) bool {
	return c.Name == o.Name && c.CIDR == o.CIDR && c.Gateway == o.Gateway &&
		slices.Equal(c.Excludes, o.Excludes)
}

func (c SubnetConfig) clone() SubnetConfig {
	c.Excludes = slices.Clone(c.Excludes)
	return c
}

// subnet is the live state of one configured subnet.
type subnet struct {
	cfg         SubnetConfig
	is4         bool
	first, last uint128              // bounds of the CIDR
	free        *freeSet             // addresses that may still be handed out
	reserved    uint128              // addresses in the CIDR never handed out
	holders     map[netip.Addr]Owner // allocated addresses and who holds them
	cursor      uint128              // last dynamic allocation; next-fit resumes after it
}

func newSubnet(cfg SubnetConfig) *subnet {
	s := &subnet{holders: make(map[netip.Addr]Owner)}
	s.configure(cfg, buildFreeSet(cfg))
	return s
}

// configure installs a validated config and its matching free space, from
// which the addresses in s.holders have already been taken.
func (s *subnet) configure(cfg SubnetConfig, free *freeSet) {
	s.cfg = cfg.clone()
	s.is4 = cfg.CIDR.Addr().Is4()
	s.first, s.last = prefixBounds(cfg.CIDR)
	s.free = free
	held := uint128{0, uint64(len(s.holders))}
	s.reserved = s.last.sub(s.first).addOne().sub(free.size).sub(held)
	if s.cursor.less(s.first) || s.last.less(s.cursor) {
		s.cursor = s.first
	}
}

// buildFreeSet returns the free space of an empty subnet with this config.
func buildFreeSet(cfg SubnetConfig) *freeSet {
	first, last := prefixBounds(cfg.CIDR)
	free := newFreeSet(first, last)
	free.take(first)
	if cfg.CIDR.Addr().Is4() {
		free.take(last)
	}
	if cfg.Gateway.IsValid() {
		free.take(addrToUint128(cfg.Gateway))
	}
	for _, r := range cfg.Excludes {
		lo, hi := addrToUint128(r.First), addrToUint128(r.Last)
		if !hi.less(first) && !last.less(lo) {
			free.removeRange(max128(lo, first), min128(hi, last))
		}
	}
	return free
}

func max128(a, b uint128) uint128 {
	if a.less(b) {
		return b
	}
	return a
}

func min128(a, b uint128) uint128 {
	if a.less(b) {
		return a
	}
	return b
}

func validateConfig(cfg SubnetConfig) error {
	if cfg.Name == "" {
		return fmt.Errorf("%w: subnet name is empty", ErrInvalidConfig)
	}
	if err := validatePrefix(cfg.CIDR); err != nil {
		return fmt.Errorf("subnet %q: %w", cfg.Name, err)
	}
	if err := validateGateway(cfg); err != nil {
		return err
	}
	for _, r := range cfg.Excludes {
		if err := validateExclude(cfg, r); err != nil {
			return err
		}
	}
	return nil
}

func validateGateway(cfg SubnetConfig) error {
	gw := cfg.Gateway
	switch {
	case !gw.IsValid():
		return nil
	case gw.Is4() != cfg.CIDR.Addr().Is4():
		return fmt.Errorf("%w: %w: subnet %q gateway %s is not the family of %s",
			ErrInvalidConfig, ErrFamilyMismatch, cfg.Name, gw, cfg.CIDR)
	case !cfg.CIDR.Contains(gw):
		return fmt.Errorf("%w: subnet %q gateway %s is outside %s", ErrInvalidConfig, cfg.Name, gw, cfg.CIDR)
	}
	if reason := specialAddress(cfg.CIDR, gw); reason != "" {
		return fmt.Errorf("%w: subnet %q gateway %s is the %s of %s", ErrInvalidConfig, cfg.Name, gw, reason, cfg.CIDR)
	}
	return nil
}

func validateExclude(cfg SubnetConfig, r Range) error {
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		return fmt.Errorf("%w: subnet %q exclude %s is not a valid range", ErrInvalidConfig, cfg.Name, r)
	case r.First.Is4() != cfg.CIDR.Addr().Is4() || r.Last.Is4() != r.First.Is4():
		return fmt.Errorf("%w: %w: subnet %q exclude %s is not the family of %s",
			ErrInvalidConfig, ErrFamilyMismatch, cfg.Name, r, cfg.CIDR)
	case r.Last.Less(r.First):
		return fmt.Errorf("%w: subnet %q exclude %s ends before it starts", ErrInvalidConfig, cfg.Name, r)
	}
	return nil
}

// specialAddress names the role of an address no host may take: the network
// address (IPv6's subnet-router anycast) or the IPv4 broadcast address.
func specialAddress(p netip.Prefix, a netip.Addr) string {
	first, last := prefixBounds(p)
	switch u := addrToUint128(a); {
	case u == first:
		return "network address"
	case u == last && p.Addr().Is4():
		return "broadcast address"
	}
	return ""
}

// excludedOnly reports whether a is an ordinary host address of cfg that
// only an exclude keeps from being handed out: a holder may keep such an
// address when the exclude comes after its allocation.
func excludedOnly(cfg SubnetConfig, a netip.Addr) bool {
	if !cfg.CIDR.Contains(a) || specialAddress(cfg.CIDR, a) != "" || a == cfg.Gateway {
		return false
	}
	for _, r := range cfg.Excludes {
		if !a.Less(r.First) && !r.Last.Less(a) {
			return true
		}
	}
	return false
}

// reservedReason explains why an in-range, unheld, non-free address is
// refused; it runs only on the error path.
func (s *subnet) reservedReason(a netip.Addr) string {
	if reason := specialAddress(s.cfg.CIDR, a); reason != "" {
		return reason
	}
	if a == s.cfg.Gateway {
		return "gateway"
	}
	return "excluded"
}

// checkFree reports why address a cannot be given to a new holder.
func (s *subnet) checkFree(a netip.Addr) error {
	switch {
	case a.Is4() != s.is4:
		return fmt.Errorf("%w: %s is not the family of subnet %q (%s)", ErrFamilyMismatch, a, s.cfg.Name, s.cfg.CIDR)
	case !s.cfg.CIDR.Contains(a):
		return fmt.Errorf("%w: %s is outside subnet %q (%s)", ErrOutOfRange, a, s.cfg.Name, s.cfg.CIDR)
	case s.free.contains(addrToUint128(a)):
		return nil
	}
	if holder, ok := s.holders[a]; ok {
		return &TakenError{IP: a, Holder: holder}
	}
	return fmt.Errorf("%w: %s is the %s of subnet %q", ErrReserved, a, s.reservedReason(a), s.cfg.Name)
}
