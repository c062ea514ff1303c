package ipam

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// TestAllocateUntilFull fills small subnets and checks every address handed
// out is unique, usable, and that the next request reports ErrSubnetFull.
func TestAllocateUntilFull(t *testing.T) {
	tests := []struct {
		name     string
		cfg      SubnetConfig
		wantUsed int
		never    []string // addresses that must never be handed out
	}{
		{name: "ipv4 /29 with gateway", cfg: subnetConfig(t, "s", "10.0.0.0/29", "10.0.0.1", ""),
			wantUsed: 5, never: []string{"10.0.0.0", "10.0.0.1", "10.0.0.7"}},
		{name: "ipv4 /28 with excludes", cfg: subnetConfig(t, "s", "10.0.0.0/28", "10.0.0.14", "10.0.0.2..10.0.0.5,10.0.0.9,10.0.0.200"),
			wantUsed: 8, never: []string{"10.0.0.0", "10.0.0.2", "10.0.0.5", "10.0.0.9", "10.0.0.14", "10.0.0.15"}},
		{name: "ipv4 /30", cfg: subnetConfig(t, "s", "10.0.0.0/30", "10.0.0.1", ""), wantUsed: 1},
		{name: "ipv6 /124", cfg: subnetConfig(t, "s", "fd00::/124", "fd00::1", "fd00::8..fd00::a"),
			wantUsed: 11, never: []string{"fd00::", "fd00::1", "fd00::8", "fd00::9", "fd00::a"}},
		{name: "ipv6 /126 keeps its last address", cfg: subnetConfig(t, "s", "fd00::/126", "", ""), wantUsed: 3},
		{name: "exclude covering everything", cfg: subnetConfig(t, "s", "10.0.0.0/29", "", "9.0.0.0..11.0.0.0"), wantUsed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, tt.cfg)
			seen := make(map[netip.Addr]Owner)
			for i := 0; ; i++ {
				owner := testOwner(fmt.Sprintf("pod/ns/p%d", i))
				a, err := m.Allocate(Request{Owner: owner, Subnet: "s"})
				if errors.Is(err, ErrSubnetFull) {
					break
				}
				if err != nil {
					t.Fatalf("allocation %d: %v", i, err)
				}
				if prev, dup := seen[a.IP]; dup {
					t.Fatalf("%s handed to %s and %s", a.IP, prev, owner)
				}
				if !tt.cfg.CIDR.Contains(a.IP) {
					t.Fatalf("%s is outside %s", a.IP, tt.cfg.CIDR)
				}
				seen[a.IP] = owner
			}
			if len(seen) != tt.wantUsed {
				t.Errorf("handed out %d addresses, want %d", len(seen), tt.wantUsed)
			}
			for _, s := range tt.never {
				if owner, ok := seen[addr(s)]; ok {
					t.Errorf("reserved %s was handed to %s", s, owner)
				}
			}
		})
	}
}

func TestAllocateFixedIP(t *testing.T) {
	cfg := subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.100..10.0.0.110")
	tests := []struct {
		name    string
		ip      string
		wantErr error
		wantMsg string
	}{
		{name: "free", ip: "10.0.0.50"},
		{name: "ipv4-mapped form", ip: "::ffff:10.0.0.51"},
		{name: "taken", ip: "10.0.0.7", wantErr: ErrAddressTaken, wantMsg: "held by pod/ns/holder"},
		{name: "gateway", ip: "10.0.0.1", wantErr: ErrReserved, wantMsg: "gateway"},
		{name: "network", ip: "10.0.0.0", wantErr: ErrReserved, wantMsg: "network address"},
		{name: "broadcast", ip: "10.0.0.255", wantErr: ErrReserved, wantMsg: "broadcast address"},
		{name: "excluded", ip: "10.0.0.105", wantErr: ErrReserved, wantMsg: "excluded"},
		{name: "outside", ip: "10.0.1.5", wantErr: ErrOutOfRange, wantMsg: "10.0.1.5 is outside"},
		{name: "other family", ip: "fd00::5", wantErr: ErrFamilyMismatch, wantMsg: "fd00::5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, cfg)
			if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/holder"), Subnet: "s", IP: addr("10.0.0.7")}); err != nil {
				t.Fatal(err)
			}
			a, err := m.Allocate(Request{Owner: testOwner("pod/ns/p"), Subnet: "s", IP: addr(tt.ip)})
			if tt.wantErr == nil {
				if err != nil || a.IP != addr(tt.ip).Unmap() {
					t.Fatalf("Allocate(%s) = %v, %v", tt.ip, a, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Allocate(%s) error = %v, want %v mentioning %q", tt.ip, err, tt.wantErr, tt.wantMsg)
			}
			if _, held := m.Lookup(testOwner("pod/ns/p")); held {
				t.Error("a failed request left an allocation behind")
			}
		})
	}
}

func TestTakenErrorNamesHolder(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "", ""))
	if _, err := m.Allocate(Request{Owner: testOwner("node/a"), Subnet: "s", IP: addr("10.0.0.9")}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Allocate(Request{Owner: testOwner("node/b"), Subnet: "s", IP: addr("10.0.0.9")})
	var taken *TakenError
	if !errors.As(err, &taken) || taken.Holder != testOwner("node/a") || taken.IP != addr("10.0.0.9") {
		t.Fatalf("error = %#v, want *TakenError naming node/a", err)
	}
}

func TestAllocatePool(t *testing.T) {
	cfg := subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.200")
	tests := []struct {
		name    string
		pool    []netip.Addr
		want    string
		wantErr string
	}{
		{name: "first entry free", pool: addrs("10.0.0.30", "10.0.0.20"), want: "10.0.0.30"},
		{name: "skips taken", pool: addrs("10.0.0.10", "10.0.0.20"), want: "10.0.0.20"},
		{name: "skips invalid", pool: addrs("10.0.1.1", "fd00::1", "10.0.0.1", "10.0.0.200", "10.0.0.40"), want: "10.0.0.40"},
		{name: "exhausted", pool: addrs("10.0.0.10", "10.0.0.1"), wantErr: "10.0.0.10 is held by pod/ns/holder"},
		{name: "only invalid", pool: addrs("10.0.9.9"), wantErr: "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, cfg)
			if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/holder"), Subnet: "s", IP: addr("10.0.0.10")}); err != nil {
				t.Fatal(err)
			}
			a, err := m.Allocate(Request{Owner: testOwner("pod/ns/p"), Subnet: "s", Pool: tt.pool})
			if tt.wantErr != "" {
				if !errors.Is(err, ErrPoolExhausted) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrPoolExhausted mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || a.IP != addr(tt.want) {
				t.Fatalf("Allocate = %v, %v; want %s", a.IP, err, tt.want)
			}
		})
	}
}

func TestAllocateIdempotentAndMoves(t *testing.T) {
	mac := net.HardwareAddr{0x0a, 0, 0, 0, 0, 1}
	otherMAC := net.HardwareAddr{0x0a, 0, 0, 0, 0, 2}
	tests := []struct {
		name      string
		second    Request
		wantSame  bool   // the first allocation comes back unchanged
		wantIP    string // when not the same
		wantMAC   net.HardwareAddr
		wantFreed bool // 10.0.0.5 is free again afterwards
	}{
		{name: "same request", second: Request{Subnet: "a", IP: addr("10.0.0.5"), MAC: mac}, wantSame: true},
		{name: "any address", second: Request{Subnet: "a"}, wantSame: true},
		{name: "pool containing it", second: Request{Subnet: "a", Pool: addrs("10.0.0.9", "10.0.0.5")}, wantSame: true},
		{name: "new fixed IP keeps MAC", second: Request{Subnet: "a", IP: addr("10.0.0.6")},
			wantIP: "10.0.0.6", wantMAC: mac, wantFreed: true},
		{name: "pool without it", second: Request{Subnet: "a", Pool: addrs("10.0.0.8")},
			wantIP: "10.0.0.8", wantMAC: mac, wantFreed: true},
		{name: "new MAC keeps IP", second: Request{Subnet: "a", MAC: otherMAC},
			wantIP: "10.0.0.5", wantMAC: otherMAC},
		{name: "other subnet", second: Request{Subnet: "b"},
			wantIP: "10.1.0.1", wantMAC: mac, wantFreed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, subnetConfig(t, "a", "10.0.0.0/24", "", ""), subnetConfig(t, "b", "10.1.0.0/24", "", ""))
			first, err := m.Allocate(Request{Owner: testOwner("pod/ns/p"), Subnet: "a", IP: addr("10.0.0.5"), MAC: mac})
			if err != nil {
				t.Fatal(err)
			}
			tt.second.Owner = testOwner("pod/ns/p")
			got, err := m.Allocate(tt.second)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantSame {
				if got.IP != first.IP || got.MAC.String() != first.MAC.String() || got.Subnet != first.Subnet {
					t.Fatalf("got %+v, want unchanged %+v", got, first)
				}
				return
			}
			if got.IP != addr(tt.wantIP) || got.MAC.String() != tt.wantMAC.String() {
				t.Fatalf("got %s %s, want %s %s", got.IP, got.MAC, tt.wantIP, tt.wantMAC)
			}
			_, err = m.Allocate(Request{Owner: testOwner("pod/ns/q"), Subnet: "a", IP: addr("10.0.0.5")})
			if freed := err == nil; freed != tt.wantFreed {
				t.Errorf("10.0.0.5 free afterwards = %v (%v), want %v", freed, err, tt.wantFreed)
			}
			if len(m.Allocations("a"))+len(m.Allocations("b")) != 1+boolInt(tt.wantFreed) {
				t.Errorf("allocations a=%v b=%v", m.Allocations("a"), m.Allocations("b"))
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFailedMoveKeepsOldAllocation checks a request that cannot be met leaves
// the owner's current address and MAC in place.
func TestFailedMoveKeepsOldAllocation(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "a", "10.0.0.0/24", "10.0.0.1", ""), subnetConfig(t, "full", "10.1.0.0/30", "10.1.0.1", ""))
	if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/filler"), Subnet: "full"}); err != nil {
		t.Fatal(err)
	}
	first, err := m.Allocate(Request{Owner: testOwner("pod/ns/p"), Subnet: "a"})
	if err != nil {
		t.Fatal(err)
	}
	filler, _ := m.Lookup(testOwner("pod/ns/filler"))
	bad := []Request{
		{Subnet: "full"},
		{Subnet: "a", IP: addr("10.0.0.1")},
		{Subnet: "a", IP: addr("10.9.0.1")},
		{Subnet: "a", Pool: addrs("10.0.0.1")},
		{Subnet: "a", MAC: filler.MAC},
		{Subnet: "a", MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}},
		{Subnet: "nope"},
	}
	for _, req := range bad {
		req.Owner = testOwner("pod/ns/p")
		if _, err := m.Allocate(req); err == nil {
			t.Fatalf("Allocate(%+v) succeeded", req)
		}
		got, ok := m.Lookup(testOwner("pod/ns/p"))
		if !ok || got.IP != first.IP || got.MAC.String() != first.MAC.String() {
			t.Fatalf("after failed %+v: %+v, %v; want %+v", req, got, ok, first)
		}
	}
}

func TestAllocateErrors(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "", ""))
	mac := net.HardwareAddr{0x0a, 0, 0, 0, 0, 1}
	if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/a"), Subnet: "s", MAC: mac}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		req     Request
		wantErr error
		wantMsg string
	}{
		{name: "unknown subnet", req: Request{Owner: testOwner("o"), Subnet: "x"}, wantErr: ErrUnknownSubnet, wantMsg: `"x"`},
		{name: "empty owner", req: Request{Subnet: "s"}, wantErr: ErrInvalidRequest, wantMsg: "empty owner"},
		{name: "MAC taken", req: Request{Owner: testOwner("o"), Subnet: "s", MAC: mac}, wantErr: ErrMACTaken, wantMsg: "held by pod/ns/a"},
		{name: "multicast MAC", req: Request{Owner: testOwner("o"), Subnet: "s", MAC: net.HardwareAddr{1, 0, 0, 0, 0, 1}}, wantErr: ErrInvalidRequest, wantMsg: "multicast"},
		{name: "short MAC", req: Request{Owner: testOwner("o"), Subnet: "s", MAC: net.HardwareAddr{2, 0}}, wantErr: ErrInvalidRequest, wantMsg: "want 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Allocate(tt.req)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestNextFit(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/29", "10.0.0.1", ""))
	next := func(owner Owner) string {
		a, err := m.Allocate(Request{Owner: owner, Subnet: "s"})
		if err != nil {
			t.Fatal(err)
		}
		return a.IP.String()
	}
	steps := []struct {
		name    string
		release Owner
		owner   Owner
		want    string
	}{
		{name: "first usable", owner: testOwner("a"), want: "10.0.0.2"},
		{name: "second", owner: testOwner("b"), want: "10.0.0.3"},
		{name: "released address not reused", release: testOwner("a"), owner: testOwner("c"), want: "10.0.0.4"},
		{name: "continues", owner: testOwner("d"), want: "10.0.0.5"},
		{name: "last usable", owner: testOwner("e"), want: "10.0.0.6"},
		{name: "wraps to the freed one", owner: testOwner("f"), want: "10.0.0.2"},
	}
	for _, st := range steps {
		if st.release != (Owner{}) {
			m.Release(st.release)
		}
		if got := next(st.owner); got != st.want {
			t.Fatalf("%s: got %s, want %s", st.name, got, st.want)
		}
	}
}

func TestReleaseOnce(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "", ""))
	a, err := m.Allocate(Request{Owner: testOwner("pod/ns/p"), Subnet: "s"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{{"first release", true}, {"second release", false}, {"third release", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Release(testOwner("pod/ns/p"))
			if ok := len(got) == 1; ok != tt.want || (ok && (got[0].IP != a.IP || got[0].MAC.String() != a.MAC.String())) {
				t.Fatalf("Release = %+v; want a release: %v", got, tt.want)
			}
			if u, _ := m.Usage("s"); u.Used != 0 || u.Available != 254 {
				t.Errorf("usage after release = %+v", u)
			}
		})
	}
	// The MAC is free again too.
	if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/q"), Subnet: "s", MAC: a.MAC}); err != nil {
		t.Fatal(err)
	}
}

func TestIPv6(t *testing.T) {
	tests := []struct {
		name          string
		cfg           SubnetConfig
		wantFirst     string
		wantAvailable uint64
	}{
		{name: "/64", cfg: subnetConfig(t, "s", "fd00:10:16::/64", "fd00:10:16::1", ""),
			wantFirst: "fd00:10:16::2", wantAvailable: 1<<64 - 2},
		{name: "/120", cfg: subnetConfig(t, "s", "fd00:10:16::/120", "fd00:10:16::1", "fd00:10:16::2..fd00:10:16::f"),
			wantFirst: "fd00:10:16::10", wantAvailable: 256 - 16},
		{name: "/48 saturates", cfg: subnetConfig(t, "s", "fd00:10::/48", "", ""),
			wantFirst: "fd00:10::1", wantAvailable: 1<<64 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, tt.cfg)
			u, _ := m.Usage("s")
			if u.Available != tt.wantAvailable {
				t.Errorf("available = %d, want %d", u.Available, tt.wantAvailable)
			}
			a, err := m.Allocate(Request{Owner: testOwner("pod/ns/p"), Subnet: "s"})
			if err != nil || a.IP != addr(tt.wantFirst) {
				t.Fatalf("Allocate = %v, %v; want %s", a.IP, err, tt.wantFirst)
			}
			last := prefixLast(tt.cfg.CIDR)
			if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/last"), Subnet: "s", IP: last}); err != nil {
				t.Errorf("the last address %s of an IPv6 subnet should be usable: %v", last, err)
			}
		})
	}
}

func prefixLast(p netip.Prefix) netip.Addr {
	_, last := prefixBounds(p)
	return uint128ToAddr(last, p.Addr().Is4())
}

func TestReserveRebuild(t *testing.T) {
	cfg := subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.100")
	before := newIPAM(t, cfg)
	for i := range 20 {
		if _, err := before.Allocate(Request{Owner: testOwner(fmt.Sprintf("pod/ns/p%d", i)), Subnet: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	records := before.Allocations("s")
	after := newIPAM(t, cfg)
	for _, a := range records {
		if err := after.Reserve(a); err != nil {
			t.Fatal(err)
		}
		if err := after.Reserve(a); err != nil {
			t.Fatalf("reserving %+v twice: %v", a, err)
		}
	}
	if got := fmt.Sprint(after.Allocations("s")); got != fmt.Sprint(records) {
		t.Fatalf("rebuilt %v, want %v", got, records)
	}
	ub, _ := before.Usage("s")
	ua, _ := after.Usage("s")
	if ua != ub {
		t.Errorf("usage after rebuild %+v, before %+v", ua, ub)
	}
	// Dynamic allocation starts over from the bottom, skipping what is held.
	next, err := after.Allocate(Request{Owner: testOwner("pod/ns/new"), Subnet: "s"})
	if err != nil || next.IP != addr("10.0.0.22") {
		t.Errorf("first allocation after rebuild = %v, %v; want 10.0.0.22", next.IP, err)
	}
}

// A recorded fixed address high in the range does not pull dynamic
// allocation up to it, where other pods' fixed addresses wait.
func TestReserveLeavesNextFitAlone(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", ""))
	mac := net.HardwareAddr{0x0a, 0, 0, 0, 0, 9}
	if err := m.Reserve(Allocation{Owner: testOwner("pod/ns/fixed"), Subnet: "s", IP: addr("10.0.0.200"), MAC: mac}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Allocate(Request{Owner: testOwner("pod/ns/dynamic"), Subnet: "s"})
	if err != nil || got.IP != addr("10.0.0.2") {
		t.Fatalf("dynamic allocation after a high reservation = %v, %v; want 10.0.0.2", got.IP, err)
	}
}

func TestReserveConflicts(t *testing.T) {
	cfg := subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.100")
	mac := net.HardwareAddr{0x0a, 0, 0, 0, 0, 1}
	tests := []struct {
		name    string
		a       Allocation
		wantErr error
	}{
		{name: "nil MAC", a: Allocation{Owner: testOwner("b"), Subnet: "s", IP: addr("10.0.0.6")}},
		{name: "replaces owner's allocation", a: Allocation{Owner: testOwner("a"), Subnet: "s", IP: addr("10.0.0.7"), MAC: mac}},
		{name: "same owner new MAC", a: Allocation{Owner: testOwner("a"), Subnet: "s", IP: addr("10.0.0.5")}},
		{name: "address taken", a: Allocation{Owner: testOwner("b"), Subnet: "s", IP: addr("10.0.0.5")}, wantErr: ErrAddressTaken},
		{name: "MAC taken", a: Allocation{Owner: testOwner("b"), Subnet: "s", IP: addr("10.0.0.6"), MAC: mac}, wantErr: ErrMACTaken},
		{name: "gateway", a: Allocation{Owner: testOwner("b"), Subnet: "s", IP: addr("10.0.0.1")}, wantErr: ErrReserved},
		{name: "recorded in an exclude made after it", a: Allocation{Owner: testOwner("b"), Subnet: "s", IP: addr("10.0.0.100")}},
		{name: "outside", a: Allocation{Owner: testOwner("b"), Subnet: "s", IP: addr("10.0.1.100")}, wantErr: ErrOutOfRange},
		{name: "no IP", a: Allocation{Owner: testOwner("b"), Subnet: "s"}, wantErr: ErrInvalidRequest},
		{name: "unknown subnet", a: Allocation{Owner: testOwner("b"), Subnet: "x", IP: addr("10.0.0.6")}, wantErr: ErrUnknownSubnet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, cfg)
			if err := m.Reserve(Allocation{Owner: testOwner("a"), Subnet: "s", IP: addr("10.0.0.5"), MAC: mac}); err != nil {
				t.Fatal(err)
			}
			err := m.Reserve(tt.a)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Reserve(%+v) = %v, want %v", tt.a, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got, _ := m.Lookup(tt.a.Owner)
			if got.IP != tt.a.IP || got.MAC.String() != tt.a.MAC.String() {
				t.Errorf("Lookup = %+v, want %+v", got, tt.a)
			}
			if u, _ := m.Usage("s"); u.Used != uint64(len(m.owners)) {
				t.Errorf("usage %+v with %d owners", u, len(m.owners))
			}
		})
	}
}

// TestDualStackOwner: an owner holds one address of each family with one
// MAC, which stays its own until both are released.
func TestDualStackOwner(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "", ""), subnetConfig(t, "s6", "fd00::/120", "", ""))
	owner := testOwner("pod/ns/p")
	v4, err := m.Allocate(Request{Owner: owner, Subnet: "s"})
	if err != nil {
		t.Fatal(err)
	}
	v6, err := m.Allocate(Request{Owner: owner, Subnet: "s6", IP: netip.MustParseAddr("fd00::10")})
	if err != nil {
		t.Fatal(err)
	}
	if v6.MAC.String() != v4.MAC.String() {
		t.Errorf("IPv6 allocation has MAC %s, the IPv4 one %s", v6.MAC, v4.MAC)
	}
	if got := m.Holdings(owner); len(got) != 2 || got[0].IP != v4.IP || got[1].IP != v6.IP {
		t.Fatalf("Holdings = %+v, want %s then %s", got, v4.IP, v6.IP)
	}
	// Another family's allocation leaves the first where it is.
	if got, _ := m.Lookup(owner); got.IP != v4.IP {
		t.Errorf("Lookup = %s, want the IPv4 %s", got.IP, v4.IP)
	}
	other := testOwner("pod/ns/q")
	if _, err := m.Allocate(Request{Owner: other, Subnet: "s6", MAC: v4.MAC}); !errors.Is(err, ErrMACTaken) {
		t.Errorf("another owner took the pod's MAC: %v", err)
	}
	released := m.Release(owner)
	if len(released) != 2 || released[0].IP != v4.IP || released[1].IP != v6.IP {
		t.Fatalf("Release = %+v, want both addresses", released)
	}
	for _, name := range []string{"s", "s6"} {
		if u, _ := m.Usage(name); u.Used != 0 {
			t.Errorf("subnet %s still uses %d addresses", name, u.Used)
		}
	}
	if _, err := m.Allocate(Request{Owner: other, Subnet: "s6", MAC: v4.MAC}); err != nil {
		t.Errorf("the MAC is not free after both releases: %v", err)
	}
}
