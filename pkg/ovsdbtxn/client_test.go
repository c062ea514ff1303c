package ovsdbtxn

import (
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Reconnection never stops (libovsdb panics when its backoff does), and
// its waits stay short enough to follow a new Raft leader within moments.
func TestReconnectBackoffNeverStops(t *testing.T) {
	b := reconnectBackoff()
	var total time.Duration
	for i := range 1000 {
		d := b.NextBackOff()
		if d == backoff.Stop {
			t.Fatalf("attempt %d: backoff stopped after %s", i, total)
		}
		if i == 0 && d > 2*reconnectFirst {
			t.Errorf("first wait %s, want about %s", d, reconnectFirst)
		}
		if d > reconnectMax*3/2 {
			t.Errorf("attempt %d: wait %s, want at most %s", i, d, reconnectMax*3/2)
		}
		total += d
	}
}
