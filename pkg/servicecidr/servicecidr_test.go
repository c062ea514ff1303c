package servicecidr

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "10.96.0.0/12", want: "[10.96.0.0/12]"},
		{in: "10.96.0.1/12, fd00:96::/112", want: "[10.96.0.0/12 fd00:96::/112]"},
		{in: "", want: "[]"},
		{in: "10.96.0.0/12,10.97.0.0/16", wantErr: "of one family"},
		{in: "10.96.0.0/33", wantErr: `"10.96.0.0/33"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestOf(t *testing.T) {
	cidrs, err := Parse("fd00:96::/112,10.96.0.0/12")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ addr, want string }{{"10.96.0.1", "10.96.0.0/12"}, {"fd00:96::1", "fd00:96::/112"}} {
		if got, ok := Of(cidrs, netip.MustParseAddr(tt.addr)); !ok || got.String() != tt.want {
			t.Errorf("Of(%s) = %v, %v; want %s", tt.addr, got, ok, tt.want)
		}
	}
	if got, ok := Of(cidrs[:1], netip.MustParseAddr("10.96.0.1")); ok {
		t.Errorf("Of an IPv4 address among IPv6 ranges = %v, want none", got)
	}
}
