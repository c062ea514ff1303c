package ipam

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Allocation is an address held by an owner.
type Allocation struct {
	Owner  Owner
	Subnet string
	IP     netip.Addr
	MAC    net.HardwareAddr // nil only for a Reserve made without a MAC
}

// Request asks for an address in a subnet.
type Request struct {
	Owner  Owner
	Subnet string
	IP     netip.Addr       // zero means any address
	Pool   []netip.Addr     // when IP is zero and Pool is set: the first free entry, in order
	MAC    net.HardwareAddr // nil means keep the owner's MAC, or a new random one
}

// maxRandomMACTries bounds the search for an unused random MAC; with 46
// random bits a collision even once is already unlikely.
const maxRandomMACTries = 8

// maxPoolReasons caps how many refused pool entries ErrPoolExhausted explains.
const maxPoolReasons = 3

// Allocate gives req.Owner an address in req.Subnet. An owner whose current
// allocation already satisfies req gets it back unchanged. Otherwise the new
// allocation is made first and the old one released only on success, so a
// failed request never costs the owner its address. A moving owner keeps its
// MAC unless req.MAC says otherwise.
func (m *IPAM) Allocate(req Request) (Allocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, mac, err := m.checkRequest(req.Owner, req.Subnet, req.MAC)
	if err != nil {
		return Allocation{}, err
	}
	old, had := m.owners[keyOf(req.Owner, s)]
	if had && old.subnet == s && ipSatisfies(old.ip, req) && (mac == macAddr{} || mac == old.mac) {
		return old.export(req.Owner), nil
	}
	ip, dynamic, err := m.chooseIP(s, req, old)
	if err != nil {
		return Allocation{}, err
	}
	if mac, err = m.chooseMAC(req.Owner, mac, m.currentMAC(req.Owner, old)); err != nil {
		return Allocation{}, err
	}
	a := m.commit(req.Owner, allocation{subnet: s, ip: ip, mac: mac})
	if dynamic {
		s.cursor = addrToUint128(ip)
	}
	return a.export(req.Owner), nil
}

// checkRequest validates the parts shared by Allocate and Reserve.
func (m *IPAM) checkRequest(owner Owner, subnetName string, hw net.HardwareAddr) (*subnet, macAddr, error) {
	if owner.Kind == "" || owner.Name == "" {
		return nil, macAddr{}, fmt.Errorf("%w: empty owner", ErrInvalidRequest)
	}
	s, ok := m.subnets[subnetName]
	if !ok {
		return nil, macAddr{}, fmt.Errorf("%w: %q requested by %s", ErrUnknownSubnet, subnetName, owner)
	}
	if hw == nil {
		return s, macAddr{}, nil
	}
	mac, err := toMACAddr(hw)
	if err != nil {
		return nil, macAddr{}, fmt.Errorf("owner %s: %w", owner, err)
	}
	return s, mac, nil
}

// ipSatisfies reports whether ip meets the request's address constraint.
func ipSatisfies(ip netip.Addr, req Request) bool {
	switch {
	case req.IP.IsValid():
		return ip == req.IP.Unmap()
	case len(req.Pool) > 0:
		return slices.ContainsFunc(req.Pool, func(p netip.Addr) bool { return p.Unmap() == ip })
	}
	return true
}

// chooseIP picks the address for a request without changing any state;
// dynamic is true when next-fit picked it.
func (m *IPAM) chooseIP(s *subnet, req Request, old allocation) (ip netip.Addr, dynamic bool, err error) {
	switch {
	case old.subnet == s && ipSatisfies(old.ip, req):
		// Only the MAC changes; the owner keeps its address.
		return old.ip, false, nil
	case req.IP.IsValid():
		ip = req.IP.Unmap()
		return ip, false, s.checkFree(ip)
	case len(req.Pool) > 0:
		ip, err = choosePoolIP(s, req)
		return ip, false, err
	}
	u, ok := s.free.next(s.cursor.addOne())
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("%w: subnet %q (%s) has no free address for %s",
			ErrSubnetFull, s.cfg.Name, s.cfg.CIDR, req.Owner)
	}
	return uint128ToAddr(u, s.is4), true, nil
}

// choosePoolIP returns the first pool entry that is free, or explains why
// none is.
func choosePoolIP(s *subnet, req Request) (netip.Addr, error) {
	var reasons []string
	for _, p := range req.Pool {
		ip := p.Unmap()
		err := s.checkFree(ip)
		if err == nil {
			return ip, nil
		}
		if len(reasons) < maxPoolReasons {
			reasons = append(reasons, err.Error())
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: none of the %d pool addresses is free for %s in subnet %q: %s",
		ErrPoolExhausted, len(req.Pool), req.Owner, s.cfg.Name, strings.Join(reasons, "; "))
}

// chooseMAC settles the MAC: the requested one if nobody else holds it,
// otherwise the owner's current one, otherwise a new random one.
func (m *IPAM) chooseMAC(owner Owner, want, current macAddr) (macAddr, error) {
	if want == (macAddr{}) && current != (macAddr{}) {
		return current, nil
	}
	if want != (macAddr{}) {
		if holder, taken := m.macs[want]; taken && holder != owner {
			return macAddr{}, fmt.Errorf("%w: %s is held by %s", ErrMACTaken, want.hardwareAddr(), holder)
		}
		return want, nil
	}
	for range maxRandomMACTries {
		if mac := randomMAC(); !m.macInUse(mac) {
			return mac, nil
		}
	}
	return macAddr{}, fmt.Errorf("%w: no unused random MAC for %s after %d tries", ErrMACTaken, owner, maxRandomMACTries)
}

// currentMAC is the MAC the owner keeps when a request names none: that of
// its allocation of the same family, else that of its other family.
func (m *IPAM) currentMAC(owner Owner, old allocation) macAddr {
	if old.mac != (macAddr{}) {
		return old.mac
	}
	for _, a := range m.held(owner) {
		if a.mac != (macAddr{}) {
			return a.mac
		}
	}
	return macAddr{}
}

func (m *IPAM) macInUse(mac macAddr) bool {
	_, taken := m.macs[mac]
	return taken
}

// commit records a checked allocation, releasing whatever the owner held
// before. The new address must be free or be the owner's current one, which
// drop returns to the free space just before it is taken again.
func (m *IPAM) commit(owner Owner, a allocation) allocation {
	if old, had := m.owners[keyOf(owner, a.subnet)]; had {
		m.drop(owner, old)
	}
	if !a.subnet.free.take(addrToUint128(a.ip)) {
		a.subnet.reserved = a.subnet.reserved.subOne() // a recorded holder of an excluded address
	}
	a.subnet.holders[a.ip] = owner
	if a.mac != (macAddr{}) {
		m.macs[a.mac] = owner
	}
	m.owners[keyOf(owner, a.subnet)] = a
	return a
}

// Reserve records an allocation that already exists, typically one read back
// after a restart. Reserving the same owner, IP and MAC again does nothing; a
// different allocation for the owner replaces its current one.
func (m *IPAM) Reserve(a Allocation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, mac, err := m.checkRequest(a.Owner, a.Subnet, a.MAC)
	if err != nil {
		return err
	}
	ip := a.IP.Unmap()
	if !ip.IsValid() {
		return fmt.Errorf("%w: reservation for %s has no IP", ErrInvalidRequest, a.Owner)
	}
	old, had := m.owners[keyOf(a.Owner, s)]
	if had && old.subnet == s && old.ip == ip && old.mac == mac {
		return nil
	}
	if !(had && old.subnet == s && old.ip == ip) {
		// An address excluded after it was handed out stays its holder's.
		if err := s.checkFree(ip); err != nil && !(errors.Is(err, ErrReserved) && excludedOnly(s.cfg, ip)) {
			return err
		}
	}
	if holder, taken := m.macs[mac]; taken && holder != a.Owner {
		return fmt.Errorf("%w: %s is held by %s", ErrMACTaken, a.MAC, holder)
	}
	// The next-fit cursor stays where it is: a recorded address may be a
	// fixed one far up the range, and jumping past it would send dynamic
	// allocation into addresses other pods have asked for by name.
	m.commit(a.Owner, allocation{subnet: s, ip: ip, mac: mac})
	return nil
}
