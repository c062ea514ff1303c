package annotation

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

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

// FuzzParseBandwidth feeds any values to both families of keys.
// Properties: no panic; a refusal leaves no limit; an accepted limit fits
// int64 (OVS and tc take signed 64-bit rates) and is what the key says:
// an accepted Mbit/s value is a finite non-negative number within one
// bit/s of the limit, and surrounding blanks change nothing.
func FuzzParseBandwidth(f *testing.F) {
	for _, s := range [][4]string{
		{"10", "2.5", "", ""}, {"", "", "10M", "500k"}, {"3", "", "10M", ""}, {"fast", "-1", "1e3", "-1M"},
		{"NaN", "Inf", "", ""}, {"NaN", "", "", ""}, {"", "-0", "", "0.1"}, {"1e13", "", "", "9223372036854775807"}, {"", "", "1E", "100Ei"},
		{" 7 ", "", " 1G ", ""}, {"0x10", "1_0", "", "1.5m"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, ingressRate, egressRate, ingressBW, egressBW string) {
		in := map[string]string{IngressRate: ingressRate, EgressRate: egressRate,
			IngressBandwidth: ingressBW, EgressBandwidth: egressBW}
		bw, err := ParseBandwidth(in)
		if err != nil {
			if bw != (Bandwidth{}) {
				t.Fatalf("error %v with limits %+v", err, bw)
			}
			return
		}
		for _, v := range []uint64{bw.Ingress, bw.Egress} {
			if v > math.MaxInt64 {
				t.Fatalf("limit %d does not fit int64 (from %q)", v, in)
			}
		}
		for _, r := range []struct {
			value string
			got   uint64
		}{{ingressRate, bw.Ingress}, {egressRate, bw.Egress}} {
			if strings.TrimSpace(r.value) == "" {
				continue
			}
			mbps, perr := strconv.ParseFloat(strings.TrimSpace(r.value), 64)
			if perr != nil || math.IsNaN(mbps) || math.IsInf(mbps, 0) || mbps < 0 ||
				math.Abs(mbps*bitsPerMbit-float64(r.got)) > math.Max(1, mbps*bitsPerMbit*1e-15) {
				t.Fatalf("%q Mbit/s accepted as %d bit/s", r.value, r.got)
			}
		}
		padded := map[string]string{}
		for k, v := range in {
			padded[k] = " " + v + "\t"
		}
		if again, err := ParseBandwidth(padded); err != nil || again != bw {
			t.Fatalf("blanks around %q changed %+v into %+v, %v", in, bw, again, err)
		}
	})
}
