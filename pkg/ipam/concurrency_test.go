package ipam

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

// TestConcurrentUse lets goroutines churn one subnet at once; run with -race
// it checks the locking, and afterwards that no address was handed out twice.
func TestConcurrentUse(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		rounds  int
	}{
		{name: "few workers", workers: 2, rounds: 500},
		{name: "many workers", workers: 16, rounds: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newIPAM(t, subnetConfig(t, "s", "10.0.0.0/24", "10.0.0.1", ""))
			var wg sync.WaitGroup
			for w := range tt.workers {
				wg.Go(func() {
					for r := range tt.rounds {
						owner := testOwner(fmt.Sprintf("w%d/p%d", w, r%10))
						if r%3 == 2 {
							m.Release(owner)
							continue
						}
						m.Allocate(Request{Owner: owner, Subnet: "s"})
						m.Usage("s")
					}
				})
			}
			wg.Wait()
			seen := make(map[netip.Addr]Owner)
			for _, a := range m.Allocations("s") {
				if prev, dup := seen[a.IP]; dup {
					t.Fatalf("%s held by %s and %s", a.IP, prev, a.Owner)
				}
				seen[a.IP] = a.Owner
			}
			checkUsage(t, m, "s")
		})
	}
}
