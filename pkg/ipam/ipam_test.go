package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestSetSubnetValidation(t *testing.T) {
	base := subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "")
	tests := []struct {
		name    string
		edit    func(c *SubnetConfig)
		wantErr error
		wantMsg string
	}{
		{name: "valid"},
		{name: "no gateway", edit: func(c *SubnetConfig) { c.Gateway = netip.Addr{} }},
		{name: "exclude reaching outside is clipped", edit: func(c *SubnetConfig) {
			c.Excludes = []Range{{addr("9.0.0.0"), addr("10.0.0.9")}}
		}},
		{name: "empty name", edit: func(c *SubnetConfig) { c.Name = "" }, wantErr: ErrInvalidConfig, wantMsg: "name"},
		{name: "zero CIDR", edit: func(c *SubnetConfig) { c.CIDR = netip.Prefix{} }, wantErr: ErrInvalidConfig, wantMsg: "not valid"},
		{name: "host bits", edit: func(c *SubnetConfig) { c.CIDR = netip.MustParsePrefix("10.0.0.3/24") }, wantErr: ErrInvalidConfig, wantMsg: "host bits"},
		{name: "too small", edit: func(c *SubnetConfig) {
			c.CIDR, c.Gateway = netip.MustParsePrefix("10.0.0.0/31"), netip.Addr{}
		}, wantErr: ErrInvalidConfig, wantMsg: "too small"},
		{name: "gateway outside", edit: func(c *SubnetConfig) { c.Gateway = addr("10.0.1.1") }, wantErr: ErrInvalidConfig, wantMsg: "outside"},
		{name: "gateway is network", edit: func(c *SubnetConfig) { c.Gateway = addr("10.0.0.0") }, wantErr: ErrInvalidConfig, wantMsg: "network address"},
		{name: "gateway is broadcast", edit: func(c *SubnetConfig) { c.Gateway = addr("10.0.0.255") }, wantErr: ErrInvalidConfig, wantMsg: "broadcast"},
		{name: "gateway family", edit: func(c *SubnetConfig) { c.Gateway = addr("fd00::1") }, wantErr: ErrFamilyMismatch, wantMsg: "gateway"},
		{name: "exclude family", edit: func(c *SubnetConfig) {
			c.Excludes = []Range{{addr("fd00::1"), addr("fd00::2")}}
		}, wantErr: ErrFamilyMismatch, wantMsg: "exclude"},
		{name: "exclude reversed", edit: func(c *SubnetConfig) {
			c.Excludes = []Range{{addr("10.0.0.9"), addr("10.0.0.2")}}
		}, wantErr: ErrInvalidConfig, wantMsg: "ends before"},
		{name: "exclude zero", edit: func(c *SubnetConfig) { c.Excludes = []Range{{}} }, wantErr: ErrInvalidConfig, wantMsg: "not a valid range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base.clone()
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			err := New().SetSubnet(cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("SetSubnet error = %v, want %v mentioning %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestSetSubnetOverlap(t *testing.T) {
	tests := []struct {
		name    string
		cidr    string
		wantErr bool
	}{
		{name: "inside", cidr: "10.16.4.0/24", wantErr: true},
		{name: "containing", cidr: "10.0.0.0/8", wantErr: true},
		{name: "equal", cidr: "10.16.0.0/16", wantErr: true},
		{name: "beside", cidr: "10.17.0.0/16"},
		{name: "other family", cidr: "fd00::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, subnetConfig(t, "ovn-default", "10.16.0.0/16", "", ""))
			err := m.SetSubnet(subnetConfig(t, "other", tt.cidr, "", ""))
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrOverlap) || !strings.Contains(err.Error(), `"ovn-default"`) {
				t.Fatalf("error = %v, want ErrOverlap naming ovn-default", err)
			}
			if slices.Contains(m.Subnets(), "other") {
				t.Error("overlapping subnet was added")
			}
		})
	}
}

func TestSetSubnetUpdate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SubnetConfig
		wantMsg string // empty: the update is accepted
	}{
		{name: "grow", cfg: subnetConfig(t, "s", "10.0.0.0/23", "10.0.0.1", "")},
		{name: "exclude unused", cfg: subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.100..10.0.0.200")},
		{name: "move gateway", cfg: subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.254", "")},
		{name: "shrink past allocation", cfg: subnetConfig(t, "s", "10.0.0.0/26", "10.0.0.1", ""),
			wantMsg: "10.0.0.70 (pod/ns/b)"},
		{name: "exclude allocation", cfg: subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.5")},
		{name: "gateway onto allocation", cfg: subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.5", ""),
			wantMsg: "10.0.0.5 (pod/ns/a)"},
		{name: "change family", cfg: subnetConfig(t, "s", "fd00::/64", "", ""),
			wantMsg: "2 allocations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "")
			m := newIPAM(t, old)
			for owner, ip := range map[Owner]string{testOwner("pod/ns/a"): "10.0.0.5", testOwner("pod/ns/b"): "10.0.0.70"} {
				if _, err := m.Allocate(Request{Owner: owner, Subnet: "s", IP: addr(ip)}); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := m.Usage("s")
			err := m.SetSubnet(tt.cfg)
			got, _ := m.Subnet("s")
			after, _ := m.Usage("s")
			if tt.wantMsg != "" {
				if !errors.Is(err, ErrAllocationsOutside) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error = %v, want ErrAllocationsOutside mentioning %q", err, tt.wantMsg)
				}
				if !got.equal(old) || after != before {
					t.Errorf("refused update changed the subnet: %+v %+v", got, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.equal(tt.cfg) || after.Used != 2 {
				t.Errorf("after update: %+v %+v", got, after)
			}
			checkUsage(t, m, "s")
		})
	}
}

func TestRemoveSubnet(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "", ""))
	if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/a"), Subnet: "s"}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		run     func() error
		wantErr error
	}{
		{name: "in use", run: func() error { return m.RemoveSubnet("s") }, wantErr: ErrSubnetInUse},
		{name: "unknown is a no-op", run: func() error { return m.RemoveSubnet("nope") }},
		{name: "after release", run: func() error {
			m.Release(testOwner("pod/ns/a"))
			return m.RemoveSubnet("s")
		}},
		{name: "twice", run: func() error { return m.RemoveSubnet("s") }},
	}
	for _, st := range steps {
		if err := st.run(); !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
			t.Fatalf("%s: error = %v, want %v", st.name, err, st.wantErr)
		}
	}
	if len(m.Subnets()) != 0 {
		t.Errorf("subnets left: %v", m.Subnets())
	}
}

// checkUsage compares Usage with a brute-force count over every address of
// a small subnet.
func checkUsage(t *testing.T, m *IPAM, name string) {
	t.Helper()
	cfg, _ := m.Subnet(name)
	var want Usage
	held := make(map[netip.Addr]bool)
	for _, a := range m.Allocations(name) {
		held[a.IP] = true
	}
	for a := cfg.CIDR.Addr(); cfg.CIDR.Contains(a); a = a.Next() {
		switch {
		case held[a]:
			want.Used++
		case isReserved(cfg, a):
			want.Excluded++
		default:
			want.Available++
		}
		if !a.Next().IsValid() {
			break
		}
	}
	if got, _ := m.Usage(name); got != want {
		t.Errorf("Usage(%s) = %+v, brute force says %+v", name, got, want)
	}
}

// isReserved is the brute-force reading of the reservation rules.
func isReserved(cfg SubnetConfig, a netip.Addr) bool {
	if a == cfg.CIDR.Addr() || a == cfg.Gateway {
		return true
	}
	if a.Is4() && !a.Next().IsValid() || a.Is4() && !cfg.CIDR.Contains(a.Next()) {
		return true
	}
	for _, r := range cfg.Excludes {
		if !a.Less(r.First) && !r.Last.Less(a) {
			return true
		}
	}
	return false
}

func TestUsageBruteForce(t *testing.T) {
	tests := []struct {
		name  string
		cfg   SubnetConfig
		fixed []string
	}{
		{name: "ipv4 /27", cfg: subnetConfig(t, "s", "10.0.0.0/27", "10.0.0.1", "10.0.0.3..10.0.0.7, 10.0.0.5, 9.9.9.9..10.0.0.1"),
			fixed: []string{"10.0.0.20"}},
		{name: "ipv4 top of space", cfg: subnetConfig(t, "s", "255.255.255.0/28", "", ""), fixed: []string{"255.255.255.14"}},
		{name: "ipv6 /123", cfg: subnetConfig(t, "s", "fd00::/123", "fd00::1f", "fd00::10..fd00::ffff"),
			fixed: []string{"fd00::4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, tt.cfg)
			checkUsage(t, m, "s")
			for _, ip := range tt.fixed {
				if _, err := m.Allocate(Request{Owner: testOwner("fixed/" + ip), Subnet: "s", IP: addr(ip)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; ; i++ {
				if _, err := m.Allocate(Request{Owner: testOwner(fmt.Sprint("p", i)), Subnet: "s"}); err != nil {
					break
				}
				if i%3 == 0 {
					m.Release(testOwner(fmt.Sprint("p", i/2)))
				}
				checkUsage(t, m, "s")
			}
			checkUsage(t, m, "s")
		})
	}
}

func TestSubnetReturnsCopy(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "b", "10.1.0.0/24", "", "10.1.0.5"), subnetConfig(t, "a", "10.0.0.0/24", "", ""))
	cfg, _ := m.Subnet("b")
	cfg.Excludes[0].First = addr("10.1.0.1")
	again, _ := m.Subnet("b")
	if again.Excludes[0].First != addr("10.1.0.5") {
		t.Error("Subnet returned a slice aliasing internal state")
	}
	if got := m.Subnets(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Subnets() = %v", got)
	}
}

// An exclude added over a held address applies to new allocations only:
// the holder keeps it, and once released nobody gets it again.
func TestExcludeOverHeldAddress(t *testing.T) {
	m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", ""))
	holder := testOwner("pod/ns/a")
	if _, err := m.Allocate(Request{Owner: holder, Subnet: "s", IP: addr("10.0.0.5")}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetSubnet(subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.5..10.0.0.6")); err != nil {
		t.Fatalf("exclude over a held address refused: %v", err)
	}
	held := m.HeldExcluded("s")
	if len(held) != 1 || held[0].Owner != holder || held[0].IP != addr("10.0.0.5") {
		t.Fatalf("HeldExcluded = %+v, want pod/ns/a at 10.0.0.5", held)
	}
	// 256 = network + broadcast + gateway + 10.0.0.6 excluded, 1 used, 251 free.
	if u, _ := m.Usage("s"); u != (Usage{Used: 1, Available: 251, Excluded: 4}) {
		t.Fatalf("usage with the held excluded address: %+v", u)
	}
	if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/b"), Subnet: "s", IP: addr("10.0.0.6")}); !errors.Is(err, ErrReserved) {
		t.Fatalf("new allocation of an excluded address: %v, want ErrReserved", err)
	}
	m.Release(holder)
	if u, _ := m.Usage("s"); u != (Usage{Used: 0, Available: 251, Excluded: 5}) {
		t.Fatalf("usage after release: %+v", u)
	}
	if len(m.HeldExcluded("s")) != 0 {
		t.Fatal("HeldExcluded still lists the released address")
	}
	if _, err := m.Allocate(Request{Owner: testOwner("pod/ns/c"), Subnet: "s", IP: addr("10.0.0.5")}); !errors.Is(err, ErrReserved) {
		t.Fatalf("released excluded address handed out again: %v", err)
	}
	// A restart reads the record back before the exclude is known to be
	// newer: the holder keeps it then too.
	again := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", "10.0.0.5..10.0.0.6"))
	if err := again.Reserve(Allocation{Owner: holder, Subnet: "s", IP: addr("10.0.0.5")}); err != nil {
		t.Fatalf("recorded excluded address not restored: %v", err)
	}
	if u, _ := again.Usage("s"); u != (Usage{Used: 1, Available: 251, Excluded: 4}) {
		t.Fatalf("usage after restore: %+v", u)
	}
}
