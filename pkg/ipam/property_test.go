package ipam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
)

// model is a deliberately naive IPAM: address lists and maps, no intervals.
// The property test runs random operations against both and demands the
// same answers.
type model struct {
	subnets map[string]*modelSubnet
	owners  map[holderKey]Allocation // one per owner and family
	macs    map[string]Owner
}

// modelKey is the family slot an allocation in subnet takes.
func (md *model) modelKey(owner Owner, subnet string) holderKey {
	return holderKey{owner: owner, ipv6: md.subnets[subnet].cfg.CIDR.Addr().Is6()}
}

type modelSubnet struct {
	cfg     SubnetConfig
	usable  []netip.Addr // every address that may be handed out, ascending
	holders map[netip.Addr]Owner
	cursor  netip.Addr // last dynamic allocation
	size    uint64
}

func newModel(cfgs []SubnetConfig) *model {
	md := &model{subnets: map[string]*modelSubnet{}, owners: map[holderKey]Allocation{}, macs: map[string]Owner{}}
	for _, cfg := range cfgs {
		ms := &modelSubnet{cfg: cfg, holders: map[netip.Addr]Owner{}, cursor: cfg.CIDR.Addr()}
		for a := cfg.CIDR.Addr(); cfg.CIDR.Contains(a); a = a.Next() {
			ms.size++
			if !isReserved(cfg, a) {
				ms.usable = append(ms.usable, a)
			}
		}
		md.subnets[cfg.Name] = ms
	}
	return md
}

func (ms *modelSubnet) isUsable(a netip.Addr) bool {
	for _, u := range ms.usable {
		if u == a {
			return true
		}
	}
	return false
}

// checkAddr mirrors the error order of subnet.checkFree.
func (ms *modelSubnet) checkAddr(a netip.Addr) error {
	switch {
	case a.Is4() != ms.cfg.CIDR.Addr().Is4():
		return ErrFamilyMismatch
	case !ms.cfg.CIDR.Contains(a):
		return ErrOutOfRange
	case ms.holders[a] != (Owner{}):
		return ErrAddressTaken
	case !ms.isUsable(a):
		return ErrReserved
	}
	return nil
}

func (ms *modelSubnet) nextFit() (netip.Addr, bool) {
	for _, a := range ms.usable {
		if ms.cursor.Less(a) && ms.holders[a] == (Owner{}) {
			return a, true
		}
	}
	for _, a := range ms.usable {
		if ms.holders[a] == (Owner{}) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func satisfiesModel(a Allocation, req Request) bool {
	if a.Subnet != req.Subnet || !ipSatisfies(a.IP, req) {
		return false
	}
	return req.MAC == nil || a.MAC.String() == req.MAC.String()
}

// allocate predicts Allocate; a nil MAC in the result means "any new MAC".
func (md *model) allocate(req Request) (Allocation, error) {
	ms := md.subnets[req.Subnet]
	key := md.modelKey(req.Owner, req.Subnet)
	old, had := md.owners[key]
	if had && satisfiesModel(old, req) {
		return old, nil
	}
	var ip netip.Addr
	dynamic := false
	switch {
	case had && old.Subnet == req.Subnet && ipSatisfies(old.IP, req):
		ip = old.IP
	case req.IP.IsValid():
		if err := ms.checkAddr(req.IP); err != nil {
			return Allocation{}, err
		}
		ip = req.IP
	case len(req.Pool) > 0:
		for _, p := range req.Pool {
			if ms.checkAddr(p) == nil {
				ip = p
				break
			}
		}
		if !ip.IsValid() {
			return Allocation{}, ErrPoolExhausted
		}
	default:
		var ok bool
		if ip, ok = ms.nextFit(); !ok {
			return Allocation{}, ErrSubnetFull
		}
		dynamic = true
	}
	mac := req.MAC
	if holder := md.macs[mac.String()]; mac != nil && holder != (Owner{}) && holder != req.Owner {
		return Allocation{}, ErrMACTaken
	}
	if other := md.owners[holderKey{owner: req.Owner, ipv6: !key.ipv6}]; mac == nil {
		// The owner keeps its MAC, that of its other family if need be.
		switch {
		case had && old.MAC != nil:
			mac = old.MAC
		case other.MAC != nil:
			mac = other.MAC
		}
	}
	if dynamic {
		ms.cursor = ip
	}
	return Allocation{Owner: req.Owner, Subnet: req.Subnet, IP: ip, MAC: mac}, nil
}

// reserve predicts Reserve.
func (md *model) reserve(a Allocation) error {
	ms := md.subnets[a.Subnet]
	old, had := md.owners[md.modelKey(a.Owner, a.Subnet)]
	sameAddr := had && old.Subnet == a.Subnet && old.IP == a.IP
	if sameAddr && old.MAC.String() == a.MAC.String() {
		return nil
	}
	if !sameAddr {
		// A recorded holder keeps an address excluded after it was handed out.
		err := ms.checkAddr(a.IP)
		excludedOnly := errors.Is(err, ErrReserved) && a.IP != ms.cfg.Gateway && !isReserved(SubnetConfig{CIDR: ms.cfg.CIDR}, a.IP)
		if err != nil && !excludedOnly {
			return err
		}
	}
	if holder := md.macs[a.MAC.String()]; a.MAC != nil && holder != (Owner{}) && holder != a.Owner {
		return ErrMACTaken
	}
	return nil
}

func (md *model) record(a Allocation) {
	key := md.modelKey(a.Owner, a.Subnet)
	if old, had := md.owners[key]; had {
		md.drop(key, old)
	}
	md.owners[key] = a
	md.subnets[a.Subnet].holders[a.IP] = a.Owner
	if a.MAC != nil {
		md.macs[a.MAC.String()] = a.Owner
	}
}

func (md *model) release(owner Owner) []Allocation {
	var out []Allocation
	for _, key := range familyKeys(owner) {
		if a, ok := md.owners[key]; ok {
			md.drop(key, a)
			out = append(out, a)
		}
	}
	return out
}

// drop forgets one family's allocation; the MAC stays the owner's while
// its other family uses it.
func (md *model) drop(key holderKey, a Allocation) {
	delete(md.owners, key)
	delete(md.subnets[a.Subnet].holders, a.IP)
	other := md.owners[holderKey{owner: key.owner, ipv6: !key.ipv6}]
	if other.MAC.String() != a.MAC.String() {
		delete(md.macs, a.MAC.String())
	}
}

// propertyRun holds the random sources of one property test run.
type propertyRun struct {
	t        *testing.T
	rng      *rand.Rand
	cfgs     []SubnetConfig
	macs     []net.HardwareAddr
	outcomes map[string]int // how often each result came up, to show coverage
}

func (r *propertyRun) owner() Owner { return testOwner(fmt.Sprintf("pod/ns/p%d", r.rng.IntN(50))) }

func (r *propertyRun) subnet() SubnetConfig { return r.cfgs[r.rng.IntN(len(r.cfgs))] }

// addrNear returns an address in or just around a random subnet, sometimes
// of the other family, so every error path gets exercised.
func (r *propertyRun) addrNear() netip.Addr {
	cfg := r.subnet()
	a := cfg.CIDR.Addr()
	for range r.rng.IntN(1<<(a.BitLen()-cfg.CIDR.Bits()) + 2) {
		a = a.Next()
	}
	if r.rng.IntN(10) == 0 {
		a = a.Prev()
	}
	return a
}

func (r *propertyRun) mac() net.HardwareAddr {
	if r.rng.IntN(3) == 0 {
		return r.macs[r.rng.IntN(len(r.macs))]
	}
	return nil
}

func (r *propertyRun) request() Request {
	req := Request{Owner: r.owner(), Subnet: r.subnet().Name, MAC: r.mac()}
	switch r.rng.IntN(4) {
	case 0:
		req.IP = r.addrNear()
	case 1:
		for range 1 + r.rng.IntN(4) {
			req.Pool = append(req.Pool, r.addrNear())
		}
	}
	return req
}

func TestPropertyAgainstModel(t *testing.T) {
	cfgs := []SubnetConfig{
		subnetConfig(t, "a", "10.0.0.0/27", "10.0.0.1", "10.0.0.10..10.0.0.12"),
		subnetConfig(t, "b", "fd00::/123", "fd00::1", "fd00::8"),
		subnetConfig(t, "c", "10.0.1.0/29", "", "10.0.1.6"),
	}
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := &propertyRun{t: t, rng: rand.New(rand.NewPCG(seed, 99)), cfgs: cfgs, outcomes: map[string]int{}}
			for i := range 5 {
				r.macs = append(r.macs, net.HardwareAddr{0x0a, 0, 0, 0, 0, byte(i + 1)})
			}
			r.run(newIPAM(t, cfgs...), newModel(cfgs), 5000)
			t.Logf("outcomes: %v", r.outcomes)
		})
	}
}

func (r *propertyRun) run(m *IPAM, md *model, steps int) {
	t := r.t
	for step := range steps {
		var what string
		switch op := r.rng.IntN(10); {
		case op < 6:
			req := r.request()
			what = fmt.Sprintf("Allocate(%+v)", req)
			want, wantErr := md.allocate(req)
			got, err := m.Allocate(req)
			r.compare(what, got, err, want, wantErr)
			if err == nil {
				md.record(got)
			}
		case op < 8:
			owner := r.owner()
			what = fmt.Sprintf("Release(%s)", owner)
			want := md.release(owner)
			got := m.Release(owner)
			r.outcomes[fmt.Sprint("release: ", len(want), " allocations")]++
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("step %d: %s = %v; model %v", step, what, got, want)
			}
		default:
			a := Allocation{Owner: r.owner(), Subnet: r.subnet().Name, IP: r.addrNear(), MAC: r.mac()}
			what = fmt.Sprintf("Reserve(%+v)", a)
			wantErr := md.reserve(a)
			err := m.Reserve(a)
			r.outcomes[fmt.Sprint("reserve: ", wantErr)]++
			if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("step %d: %s = %v, model says %v", step, what, err, wantErr)
			}
			if err == nil {
				md.record(a)
			}
		}
		r.checkState(step, what, m, md)
	}
}

func (r *propertyRun) compare(what string, got Allocation, err error, want Allocation, wantErr error) {
	t := r.t
	r.outcomes[fmt.Sprint("allocate: ", wantErr)]++
	if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
		t.Fatalf("%s error = %v, model says %v", what, err, wantErr)
	}
	if err != nil {
		return
	}
	if got.Owner != want.Owner || got.Subnet != want.Subnet || got.IP != want.IP {
		t.Fatalf("%s = %+v, model says %+v", what, got, want)
	}
	if want.MAC != nil && got.MAC.String() != want.MAC.String() {
		t.Fatalf("%s MAC = %s, model says %s", what, got.MAC, want.MAC)
	}
}

func (r *propertyRun) checkState(step int, what string, m *IPAM, md *model) {
	t := r.t
	for name, ms := range md.subnets {
		free := 0
		for _, a := range ms.usable {
			if ms.holders[a] == (Owner{}) {
				free++
			}
		}
		want := Usage{
			Used:      uint64(len(ms.holders)),
			Available: uint64(free),
			Excluded:  ms.size - uint64(len(ms.holders)) - uint64(free),
		}
		if got, _ := m.Usage(name); got != want {
			t.Fatalf("step %d after %s: Usage(%s) = %+v, model %+v", step, what, name, got, want)
		}
		if step%97 != 0 {
			continue
		}
		for _, a := range m.Allocations(name) {
			if w := md.owners[md.modelKey(a.Owner, name)]; fmt.Sprint(w) != fmt.Sprint(a) {
				t.Fatalf("step %d: allocation %+v, model %+v", step, a, w)
			}
		}
	}
	if len(m.owners) != len(md.owners) || len(m.macs) != len(md.macs) {
		t.Fatalf("step %d after %s: %d owners %d MACs, model %d %d", step, what, len(m.owners), len(m.macs), len(md.owners), len(md.macs))
	}
}
