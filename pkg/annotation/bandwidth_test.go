package annotation

import "testing"

func TestParseBandwidth(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		want    Bandwidth
		wantErr bool
	}{
		{"none", nil, Bandwidth{}, false},
		{"kube-ovn keys in Mbit/s", map[string]string{IngressRate: "10", EgressRate: "2.5"}, Bandwidth{10e6, 2.5e6}, false},
		{"standard keys in bit/s", map[string]string{IngressBandwidth: "10M", EgressBandwidth: "500k"}, Bandwidth{10e6, 500e3}, false},
		{"kube-ovn key wins", map[string]string{IngressRate: "3", IngressBandwidth: "10M"}, Bandwidth{Ingress: 3e6}, false},
		{"zero is unlimited", map[string]string{EgressRate: "0"}, Bandwidth{}, false},
		{"blank ignored", map[string]string{EgressRate: " "}, Bandwidth{}, false},
		{"not a number", map[string]string{IngressRate: "fast"}, Bandwidth{}, true},
		{"negative", map[string]string{EgressRate: "-1"}, Bandwidth{}, true},
		{"bad quantity", map[string]string{EgressBandwidth: "10Mbps"}, Bandwidth{}, true},
		{"negative quantity", map[string]string{IngressBandwidth: "-1M"}, Bandwidth{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBandwidth(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseBandwidth(%v) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
