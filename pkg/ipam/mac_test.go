package ipam

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseMAC(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "colons", in: "00:00:00:aa:bb:cc", want: "00:00:00:aa:bb:cc"},
		{name: "dashes and spaces", in: " 0A-00-00-AA-BB-CC ", want: "0a:00:00:aa:bb:cc"},
		{name: "dotted", in: "0a00.00aa.bbcc", want: "0a:00:00:aa:bb:cc"},
		{name: "multicast", in: "01:00:5e:00:00:01", wantErr: "multicast"},
		{name: "broadcast", in: "ff:ff:ff:ff:ff:ff", wantErr: "multicast"},
		{name: "zero", in: "00:00:00:00:00:00", wantErr: "all zero"},
		{name: "eui64", in: "00:00:00:00:fe:80:00:01", wantErr: "want 6"},
		{name: "garbage", in: "00:00:00:aa:bb", wantErr: "invalid MAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMAC(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMAC(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseMAC(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRandomMACIsLocalUnicast(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		mac := randomMAC().hardwareAddr()
		if len(mac) != 6 || mac[0]&macMulticastBit != 0 || mac[0]&macLocalBit == 0 {
			t.Fatalf("RandomMAC() = %v, want locally administered unicast", mac)
		}
		if _, err := ParseMAC(mac.String()); err != nil {
			t.Fatalf("RandomMAC() = %v does not parse: %v", mac, err)
		}
		seen[mac.String()] = true
	}
	if len(seen) < 990 {
		t.Errorf("1000 random MACs gave only %d distinct values", len(seen))
	}
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"00:00:00:aa:bb:cc", "0a-00-00-aa-bb-cc", "0a00.00aa.bbcc", "01:00:5e:00:00:01", "00:00:00:00:fe:80:00:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mac, err := ParseMAC(s)
		if err != nil {
			return
		}
		if len(mac) != 6 || mac[0]&macMulticastBit != 0 || bytes.Equal(mac, make([]byte, 6)) {
			t.Fatalf("ParseMAC(%q) accepted %v", s, mac)
		}
		again, err := ParseMAC(mac.String())
		if err != nil || !bytes.Equal(again, mac) {
			t.Fatalf("ParseMAC(%q) = %v, but re-parsing gives %v, %v", s, mac, again, err)
		}
	})
}
