package gatewayhealth

import (
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRead(t *testing.T) {
	now := time.Now()
	written := func(r Report, at time.Time) *coordinationv1.Lease {
		l := &coordinationv1.Lease{}
		fill(l, "n1", r, at)
		return l
	}
	tests := []struct {
		name    string
		lease   *coordinationv1.Lease
		ready   bool
		reason  string
		expires time.Time
	}{
		{"fresh and ready", written(Report{Ready: true}, now), true, "", now.Add(LeaseDuration)},
		{"fresh with a fault", written(Report{Reason: "uplink eth1 is down"}, now), false, "uplink eth1 is down", now.Add(LeaseDuration)},
		{"expired", written(Report{Ready: true}, now.Add(-LeaseDuration)), false, "stopped reporting", now},
		{"never renewed", &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName("n1")}}, false, "not reported", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, expires := Read(tt.lease, now)
			if r.Ready != tt.ready || !strings.Contains(r.Reason, tt.reason) || !expires.Equal(tt.expires) {
				t.Fatalf("Read = %+v until %v, want ready %v reason ~%q until %v", r, expires, tt.ready, tt.reason, tt.expires)
			}
		})
	}
}

func TestLeaseNames(t *testing.T) {
	if node, ok := NodeOf(LeaseName("worker-1")); !ok || node != "worker-1" {
		t.Fatalf("NodeOf(LeaseName(worker-1)) = %q, %v", node, ok)
	}
	for _, other := range []string{"worker-1", "ovnet-gateway-", "kube-node-lease"} {
		if _, ok := NodeOf(other); ok {
			t.Errorf("NodeOf(%q) claims a gateway Lease", other)
		}
	}
}

func TestReportChanged(t *testing.T) {
	now := time.Now()
	at := func(r Report, when time.Time) *coordinationv1.Lease {
		l := &coordinationv1.Lease{}
		fill(l, "n1", r, when)
		return l
	}
	ready, fault := Report{Ready: true}, Report{Reason: "uplink eth1 is down"}
	tests := []struct {
		name     string
		old, new *coordinationv1.Lease
		want     bool
	}{
		{"plain renewal", at(ready, now), at(ready, now.Add(RenewInterval)), false},
		{"fault reported", at(ready, now), at(fault, now.Add(RenewInterval)), true},
		{"fault cleared", at(fault, now), at(ready, now.Add(RenewInterval)), true},
		{"back after expiry", at(ready, now), at(ready, now.Add(LeaseDuration+time.Second)), true},
		{"never renewed before", &coordinationv1.Lease{}, at(ready, now), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReportChanged(tt.old, tt.new); got != tt.want {
				t.Fatalf("ReportChanged = %v, want %v", got, tt.want)
			}
		})
	}
}
