package ipam

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// OwnerKind says what kind of object holds an address.
type OwnerKind string

// The kinds of holders the controller records.
const (
	OwnerPod  OwnerKind = "pod"
	OwnerNode OwnerKind = "node"
)

// Owner names who holds an address. An owner holds at most one allocation
// of each address family: a pod of a dual-stack subnet holds an IPv4 and an
// IPv6 address, with one MAC.
type Owner struct {
	Kind OwnerKind
	// Namespace is empty for cluster-scoped holders such as nodes.
	Namespace string
	Name      string
}

// PodOwner is the owner of a pod's address.
func PodOwner(namespace, name string) Owner {
	return Owner{Kind: OwnerPod, Namespace: namespace, Name: name}
}

// NodeOwner is the owner of a node's join address.
func NodeOwner(name string) Owner { return Owner{Kind: OwnerNode, Name: name} }

// String is "kind/namespace/name", or "kind/name" without a namespace.
func (o Owner) String() string {
	if o.Namespace == "" {
		return string(o.Kind) + "/" + o.Name
	}
	return string(o.Kind) + "/" + o.Namespace + "/" + o.Name
}

// Usage is a subnet's address accounting; Used+Available+Excluded is the size
// of the CIDR, each figure saturating at MaxUint64.
type Usage struct {
	Used      uint64 // allocations
	Available uint64 // addresses that could still be handed out
	Excluded  uint64 // network, broadcast, gateway and excluded addresses
}

// maxNamedInError caps how many owners an error message lists, so a subnet
// with thousands of offenders still yields a readable message.
const maxNamedInError = 10

// IPAM allocates addresses across non-overlapping subnets. It is safe for
// concurrent use.
type IPAM struct {
	mu      sync.Mutex
	subnets map[string]*subnet       // by subnet name
	owners  map[holderKey]allocation // every allocation, by holder and family
	macs    map[macAddr]Owner        // MACs in use; unique across all holders
}

// holderKey names one family's allocation of an owner.
type holderKey struct {
	owner Owner
	ipv6  bool
}

func keyOf(owner Owner, s *subnet) holderKey { return holderKey{owner: owner, ipv6: !s.is4} }

// allocation is the internal form of Allocation: the MAC by value so it
// never aliases a caller's slice.
type allocation struct {
	subnet *subnet
	ip     netip.Addr
	mac    macAddr
}

func (a allocation) export(owner Owner) Allocation {
	return Allocation{Owner: owner, Subnet: a.subnet.cfg.Name, IP: a.ip, MAC: a.mac.hardwareAddr()}
}

// New returns an IPAM with no subnets.
func New() *IPAM {
	return &IPAM{
		subnets: make(map[string]*subnet),
		owners:  make(map[holderKey]allocation),
		macs:    make(map[macAddr]Owner),
	}
}

// SetSubnet adds a subnet or updates one in place. An update that would leave
// an existing allocation outside the CIDR or on a reserved address fails with
// ErrAllocationsOutside and changes nothing.
func (m *IPAM) SetSubnet(cfg SubnetConfig) error {
	if err := validateConfig(cfg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOverlap(cfg); err != nil {
		return err
	}
	s, exists := m.subnets[cfg.Name]
	if !exists {
		m.subnets[cfg.Name] = newSubnet(cfg)
		return nil
	}
	if s.cfg.equal(cfg) {
		return nil
	}
	free := buildFreeSet(cfg)
	if outside := takeHeld(free, cfg, s.holders); len(outside) > 0 {
		return fmt.Errorf("%w: subnet %q cannot become %s: %d allocations would be out of range or reserved: %s",
			ErrAllocationsOutside, cfg.Name, cfg.CIDR, len(outside), describeHolders(outside, s.holders))
	}
	s.configure(cfg, free)
	return nil
}

func (m *IPAM) checkOverlap(cfg SubnetConfig) error {
	for name, other := range m.subnets {
		if name != cfg.Name && other.cfg.CIDR.Overlaps(cfg.CIDR) {
			return fmt.Errorf("%w: subnet %q (%s) overlaps subnet %q (%s)",
				ErrOverlap, cfg.Name, cfg.CIDR, name, other.cfg.CIDR)
		}
	}
	return nil
}

// takeHeld moves every held address out of free and returns, sorted, those
// that cfg does not let their holders keep. A held address that cfg merely
// excludes is kept: an exclude applies to new allocations, and the address
// goes out of use when its holder releases it.
func takeHeld(free *freeSet, cfg SubnetConfig, holders map[netip.Addr]Owner) []netip.Addr {
	is4 := cfg.CIDR.Addr().Is4()
	var outside []netip.Addr
	for ip := range holders {
		// A family change leaves no held address valid; the family check
		// stops an IPv4 address passing as a low IPv6 one.
		if ip.Is4() != is4 || (!free.take(addrToUint128(ip)) && !excludedOnly(cfg, ip)) {
			outside = append(outside, ip)
		}
	}
	slices.SortFunc(outside, netip.Addr.Compare)
	return outside
}

// describeHolders lists "ip (owner)" pairs, at most maxNamedInError of them.
func describeHolders(ips []netip.Addr, holders map[netip.Addr]Owner) string {
	var b strings.Builder
	for i, ip := range ips {
		if i == maxNamedInError {
			fmt.Fprintf(&b, ", and %d more", len(ips)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s)", ip, holders[ip])
	}
	return b.String()
}

// RemoveSubnet forgets a subnet that holds no allocations. Removing an
// unknown subnet does nothing, so callers can retry freely.
func (m *IPAM) RemoveSubnet(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subnets[name]
	if !ok {
		return nil
	}
	if n := len(s.holders); n > 0 {
		ips := make([]netip.Addr, 0, n)
		for ip := range s.holders {
			ips = append(ips, ip)
		}
		slices.SortFunc(ips, netip.Addr.Compare)
		return fmt.Errorf("%w: subnet %q still has %d allocations: %s",
			ErrSubnetInUse, name, n, describeHolders(ips, s.holders))
	}
	delete(m.subnets, name)
	return nil
}

// Subnet returns a copy of a subnet's configuration.
func (m *IPAM) Subnet(name string) (SubnetConfig, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subnets[name]
	if !ok {
		return SubnetConfig{}, false
	}
	return s.cfg.clone(), true
}

// Subnets returns the subnet names, sorted.
func (m *IPAM) Subnets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.subnets))
	for name := range m.subnets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Release frees the owner's allocations, IPv4 first. It returns none if
// the owner held nothing, so a repeated release is harmless.
func (m *IPAM) Release(owner Owner) []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	held := m.held(owner)
	out := make([]Allocation, 0, len(held))
	for _, a := range held {
		m.drop(owner, a)
		out = append(out, a.export(owner))
	}
	return out
}

// familyKeys lists an owner's possible allocations, IPv4 first.
func familyKeys(owner Owner) [2]holderKey {
	return [2]holderKey{{owner: owner}, {owner: owner, ipv6: true}}
}

// held lists the owner's allocations, IPv4 first; m.mu is held.
func (m *IPAM) held(owner Owner) []allocation {
	var out []allocation
	for _, key := range familyKeys(owner) {
		if a, ok := m.owners[key]; ok {
			out = append(out, a)
		}
	}
	return out
}

// drop forgets an allocation and returns its address, and its MAC unless
// the owner's other family uses it too, to the pool.
func (m *IPAM) drop(owner Owner, a allocation) {
	key := keyOf(owner, a.subnet)
	delete(m.owners, key)
	delete(a.subnet.holders, a.ip)
	if excludedOnly(a.subnet.cfg, a.ip) {
		a.subnet.reserved = a.subnet.reserved.addOne() // excluded since it was handed out
	} else {
		a.subnet.free.put(addrToUint128(a.ip))
	}
	other := m.owners[holderKey{owner: owner, ipv6: !key.ipv6}]
	if a.mac != (macAddr{}) && other.mac != a.mac {
		delete(m.macs, a.mac)
	}
}

// Lookup returns the owner's allocation, the IPv4 one when it holds both.
func (m *IPAM) Lookup(owner Owner) (Allocation, bool) {
	if held := m.Holdings(owner); len(held) > 0 {
		return held[0], true
	}
	return Allocation{}, false
}

// Holdings returns every allocation of the owner, IPv4 first.
func (m *IPAM) Holdings(owner Owner) []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	held := m.held(owner)
	out := make([]Allocation, len(held))
	for i, a := range held {
		out[i] = a.export(owner)
	}
	return out
}

// Allocations returns a snapshot of a subnet's allocations, sorted by IP.
func (m *IPAM) Allocations(subnet string) []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subnets[subnet]
	if !ok {
		return nil
	}
	out := make([]Allocation, 0, len(s.holders))
	for _, owner := range s.holders {
		out = append(out, m.owners[keyOf(owner, s)].export(owner))
	}
	slices.SortFunc(out, func(a, b Allocation) int { return a.IP.Compare(b.IP) })
	return out
}

// HeldExcluded returns, sorted by IP, the allocations whose addresses the
// subnet's excludes cover: handed out before the exclude was added.
func (m *IPAM) HeldExcluded(subnet string) []Allocation {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subnets[subnet]
	if !ok || len(s.cfg.Excludes) == 0 {
		return nil
	}
	var out []Allocation
	for ip, owner := range s.holders {
		if excludedOnly(s.cfg, ip) {
			out = append(out, m.owners[keyOf(owner, s)].export(owner))
		}
	}
	slices.SortFunc(out, func(a, b Allocation) int { return a.IP.Compare(b.IP) })
	return out
}

// Usage returns a subnet's address accounting; it costs O(1).
func (m *IPAM) Usage(subnet string) (Usage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subnets[subnet]
	if !ok {
		return Usage{}, false
	}
	return Usage{
		Used:      uint64(len(s.holders)),
		Available: s.free.size.saturate(),
		Excluded:  s.reserved.saturate(),
	}, true
}
