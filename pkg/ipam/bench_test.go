package ipam

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"
)

// benchBatch is how many allocations a timed batch holds: large enough that
// reading the clock costs nothing per operation.
const benchBatch = 1000

func benchOwners(n int) []Owner {
	owners := make([]Owner, n)
	for i := range owners {
		owners[i] = testOwner(fmt.Sprintf("pod/default/pod-%d", i))
	}
	return owners
}

func benchIPAM(b *testing.B) *IPAM {
	return newIPAM(b, subnetConfig(b, "ovn-default", "10.16.0.0/16", "10.16.0.1", "10.16.0.2..10.16.0.10"))
}

// reportPerOp records ns per allocate and per release as extra metrics.
func reportPerOp(b *testing.B, allocate, release time.Duration, ops int) {
	b.ReportMetric(float64(allocate.Nanoseconds())/float64(ops), "ns/allocate")
	b.ReportMetric(float64(release.Nanoseconds())/float64(ops), "ns/release")
}

func BenchmarkAllocateRelease(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		m := benchIPAM(b)
		owners := benchOwners(benchBatch)
		var allocate, release time.Duration
		ops := 0
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			for _, o := range owners {
				if _, err := m.Allocate(Request{Owner: o, Subnet: "ovn-default"}); err != nil {
					b.Fatal(err)
				}
			}
			mid := time.Now()
			for _, o := range owners {
				m.Release(o)
			}
			allocate += mid.Sub(start)
			release += time.Since(mid)
			ops += len(owners)
		}
		reportPerOp(b, allocate, release, ops)
	})
	b.Run("random", func(b *testing.B) {
		m := benchIPAM(b)
		owners := benchOwners(1 << 16)
		half := len(owners) / 2
		for _, o := range owners[:half] {
			if _, err := m.Allocate(Request{Owner: o, Subnet: "ovn-default"}); err != nil {
				b.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(1, 1))
		// owners[:half] hold addresses, owners[half:] do not; each batch
		// releases random holders then allocates random idle owners.
		released := make([]Owner, benchBatch)
		var allocate, release time.Duration
		ops := 0
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			for i := range released {
				j := rng.IntN(half - i)
				released[i] = owners[j]
				m.Release(owners[j])
				owners[j], owners[half-i-1] = owners[half-i-1], owners[j]
			}
			mid := time.Now()
			for i := range released {
				j := half - benchBatch + i + rng.IntN(len(owners)-half+benchBatch-i)
				if j >= half-benchBatch+i {
					owners[half-benchBatch+i], owners[j] = owners[j], owners[half-benchBatch+i]
				}
				if _, err := m.Allocate(Request{Owner: owners[half-benchBatch+i], Subnet: "ovn-default"}); err != nil {
					b.Fatal(err)
				}
			}
			allocate += time.Since(mid)
			release += mid.Sub(start)
			ops += len(released)
		}
		reportPerOp(b, allocate, release, ops)
	})
}

func BenchmarkRebuild10k(b *testing.B) {
	const n = 10000
	cfg := subnetConfig(b, "ovn-default", "10.16.0.0/16", "10.16.0.1", "10.16.0.2..10.16.0.10")
	records := make([]Allocation, n)
	rng := rand.New(rand.NewPCG(2, 2))
	for i, perm := range rng.Perm(1 << 16)[:n] {
		ip := netip.AddrFrom4([4]byte{10, 16, byte(perm >> 8), byte(perm)})
		if isReserved(cfg, ip) || (ip.As4()[2] == 0 && ip.As4()[3] <= 10) {
			ip = netip.AddrFrom4([4]byte{10, 16, 0, byte(11 + i%200)})
		}
		records[i] = Allocation{Owner: testOwner(fmt.Sprint("pod/default/pod-", i)), Subnet: "ovn-default", IP: ip,
			MAC: net.HardwareAddr{0x0a, 0x58, 0, 0, byte(i >> 8), byte(i)}}
	}
	records = dedupeByIP(records)
	b.ReportAllocs()
	for b.Loop() {
		m := New()
		if err := m.SetSubnet(cfg); err != nil {
			b.Fatal(err)
		}
		for _, a := range records {
			if err := m.Reserve(a); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/rebuild")
	b.ReportMetric(float64(len(records)), "records")
}

// dedupeByIP drops records whose address an earlier record already uses.
func dedupeByIP(records []Allocation) []Allocation {
	seen := make(map[netip.Addr]bool)
	out := records[:0]
	for _, a := range records {
		if !seen[a.IP] {
			seen[a.IP] = true
			out = append(out, a)
		}
	}
	return out
}
