package ovs

import "testing"

func TestEncapOverhead(t *testing.T) {
	tests := []struct {
		name  string
		encap string
		ipv6  bool
		want  int
	}{
		{"geneve over IPv4", EncapGeneve, false, 100},
		{"geneve over IPv6", EncapGeneve, true, 100},
		{"vxlan over IPv4", EncapVXLAN, false, 50},
		{"vxlan over IPv6", EncapVXLAN, true, 70},
		{"unknown", "stt", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncapOverhead(tt.encap, tt.ipv6); got != tt.want {
				t.Errorf("EncapOverhead(%q, %v) = %d, want %d", tt.encap, tt.ipv6, got, tt.want)
			}
		})
	}
}

func TestCheckEncapType(t *testing.T) {
	for _, ok := range []string{EncapGeneve, EncapVXLAN} {
		if err := CheckEncapType(ok); err != nil {
			t.Errorf("CheckEncapType(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "stt", "Geneve", "vxlan "} {
		if err := CheckEncapType(bad); err == nil {
			t.Errorf("CheckEncapType(%q) accepted it", bad)
		}
	}
}
