package daemon

import (
	"context"
	"testing"
)

// TestEncapAddressWithoutOne: an interface with no global IPv4 address
// (lo has only 127.0.0.1) or none at all keeps EncapAddress waiting until
// its context ends, then names the interface.
func TestEncapAddressWithoutOne(t *testing.T) {
	tests := []struct {
		name, iface string
	}{
		{"loopback only", "lo"},
		{"no such interface", "ovnet-none0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*encapPoll)
			defer cancel()
			addr, err := EncapAddress(ctx, tt.iface)
			if err == nil {
				t.Fatalf("EncapAddress(%s) = %s, want an error", tt.iface, addr)
			}
			if ctx.Err() == nil {
				t.Fatalf("EncapAddress(%s) returned before its context ended: %v", tt.iface, err)
			}
		})
	}
}
