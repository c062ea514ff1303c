package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ovnetv1 "github.com/ovnet/ovnet/pkg/apis/ovnet/v1"
)

// A usage change is refreshed at once after a quiet spell and coalesced
// into the end of the interval while writes are recent.
func TestUsageRefreshCoalesced(t *testing.T) {
	tests := []struct {
		name string
		// lastWrite is how long ago the subnet's usage was written; 0: never.
		lastWrite time.Duration
		wantNow   bool
	}{
		{"never written: refreshed at once", 0, true},
		{"written long ago: refreshed at once", 2 * usageWriteInterval, true},
		{"written just now: waits for the interval", time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &SubnetReconciler{}
			if tt.lastWrite > 0 {
				r.lastUsageWrite.Store("s", time.Now().Add(-tt.lastWrite))
			}
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			subnet := &ovnetv1.Subnet{}
			subnet.Name = "s"
			for range 3 { // a burst: one request
				r.enqueueUsage(context.Background(), event.GenericEvent{Object: subnet}, q)
			}
			if got := q.Len() == 1; got != tt.wantNow {
				t.Fatalf("queued at once: %v, want %v (len %d)", got, tt.wantNow, q.Len())
			}
			if !tt.wantNow {
				// The delayed request does arrive, once.
				item, _ := q.Get()
				if item.Name != "s" || q.Len() != 0 {
					t.Fatalf("got %v, %d more queued; want one request for s", item, q.Len())
				}
			}
		})
	}
}
