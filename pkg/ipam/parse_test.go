package ipam

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring of the error; empty means success
	}{
		{name: "ipv4", in: "10.16.0.0/16", want: "10.16.0.0/16"},
		{name: "spaces trimmed", in: "  10.16.0.0/16 \n", want: "10.16.0.0/16"},
		{name: "ipv4 /30", in: "192.168.1.0/30", want: "192.168.1.0/30"},
		{name: "ipv6 /64", in: "fd00:10:16::/64", want: "fd00:10:16::/64"},
		{name: "ipv6 /126", in: "fd00::/126", want: "fd00::/126"},
		{name: "host bits", in: "10.16.0.5/16", wantErr: "host bits set, did you mean 10.16.0.0/16"},
		{name: "ipv6 host bits", in: "fd00::1/64", wantErr: "did you mean fd00::/64"},
		{name: "ipv4 /31", in: "10.0.0.0/31", wantErr: "too small"},
		{name: "ipv4 /32", in: "10.0.0.1/32", wantErr: "too small"},
		{name: "ipv6 /127", in: "fd00::/127", wantErr: "too small"},
		{name: "ipv6 /128", in: "fd00::1/128", wantErr: "too small"},
		{name: "mapped", in: "::ffff:10.0.0.0/104", wantErr: "IPv4-mapped"},
		{name: "no prefix length", in: "10.0.0.0", wantErr: "no '/'"},
		{name: "garbage", in: "ten/8", wantErr: "ParsePrefix"},
		{name: "empty", in: "", wantErr: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCIDR(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCIDR(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidConfig) {
					t.Errorf("error %v does not wrap ErrInvalidConfig", err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseCIDR(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseExcludes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // Range.String of each result
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "blank", in: "  ", want: nil},
		{name: "single", in: "10.16.0.1", want: []string{"10.16.0.1"}},
		{name: "range and single", in: "10.16.0.1..10.16.0.10, 10.16.0.20",
			want: []string{"10.16.0.1..10.16.0.10", "10.16.0.20"}},
		{name: "spaces around separator", in: " 10.0.0.1 .. 10.0.0.3 ", want: []string{"10.0.0.1..10.0.0.3"}},
		{name: "ipv6 range", in: "fd00::1..fd00::ff", want: []string{"fd00::1..fd00::ff"}},
		{name: "degenerate range", in: "10.0.0.1..10.0.0.1", want: []string{"10.0.0.1"}},
		{name: "reversed", in: "10.0.0.9..10.0.0.1", wantErr: "ends before it starts"},
		{name: "mixed family", in: "10.0.0.1..fd00::1", wantErr: "mixes IPv4 and IPv6"},
		{name: "empty entry", in: "10.0.0.1,,10.0.0.2", wantErr: "entry 2: invalid request: empty address"},
		{name: "trailing comma", in: "10.0.0.1,", wantErr: "empty address"},
		{name: "half range", in: "10.0.0.1..", wantErr: "empty address"},
		{name: "three dots", in: "10.0.0.1...10.0.0.2", wantErr: "entry 1"},
		{name: "cidr", in: "10.0.0.0/24", wantErr: "unexpected character"},
		{name: "zone", in: "fe80::1%eth0", wantErr: "zone"},
		{name: "mapped", in: "::ffff:10.0.0.1", wantErr: "IPv4-mapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExcludes(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseExcludes(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExcludes(%q): %v", tt.in, err)
			}
			var gotText []string
			for _, r := range got {
				gotText = append(gotText, r.String())
			}
			if !slices.Equal(gotText, tt.want) {
				t.Errorf("ParseExcludes(%q) = %v, want %v", tt.in, gotText, tt.want)
			}
		})
	}
}

func TestParsePool(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "order kept", in: "10.0.0.9, 10.0.0.3,10.0.0.5", want: []string{"10.0.0.9", "10.0.0.3", "10.0.0.5"}},
		{name: "dual stack", in: "10.0.0.9,fd00::9", want: []string{"10.0.0.9", "fd00::9"}},
		{name: "duplicate", in: "10.0.0.9,10.0.0.3,10.0.0.9", wantErr: "entry 3: 10.0.0.9 is listed twice"},
		{name: "empty entry", in: "10.0.0.9,,10.0.0.3", wantErr: "entry 2"},
		{name: "range not allowed", in: "10.0.0.1..10.0.0.3", wantErr: "entry 1"},
		{name: "garbage", in: "10.0.0.1,bogus", wantErr: "entry 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePool(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePool(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePool(%q): %v", tt.in, err)
			}
			var gotText []string
			for _, a := range got {
				gotText = append(gotText, a.String())
			}
			if !slices.Equal(gotText, tt.want) {
				t.Errorf("ParsePool(%q) = %v, want %v", tt.in, gotText, tt.want)
			}
		})
	}
}

func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"10.16.0.0/16", " fd00::/64 ", "10.16.0.5/16", "10.0.0.0/31", "::ffff:0.0.0.0/96", "::/0", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCIDR(s)
		if err != nil {
			return
		}
		again, err := ParseCIDR(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseCIDR(%q) = %v, but re-parsing gives %v, %v", s, p, again, err)
		}
		if p.Masked() != p || p.Bits() >= p.Addr().BitLen()-1 {
			t.Fatalf("ParseCIDR(%q) accepted unusable %v", s, p)
		}
	})
}

func FuzzParseExcludes(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1", "10.0.0.1..10.0.0.9, 10.0.0.20", "fd00::1..fd00::2", "1.2.3.4..::1", ",", "a..b..c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ranges, err := ParseExcludes(s)
		if err != nil {
			return
		}
		text := make([]string, len(ranges))
		for i, r := range ranges {
			if r.Last.Less(r.First) || r.First.Is4() != r.Last.Is4() {
				t.Fatalf("ParseExcludes(%q) gave bad range %v", s, r)
			}
			text[i] = r.String()
		}
		again, err := ParseExcludes(strings.Join(text, ","))
		if err != nil || !slices.Equal(again, ranges) {
			t.Fatalf("ParseExcludes(%q) = %v, but re-parsing gives %v, %v", s, ranges, again, err)
		}
	})
}

func FuzzParsePool(f *testing.F) {
	for _, s := range []string{"", "10.0.0.1", "10.0.0.2, 10.0.0.1", "fd00::1,10.0.0.1", "10.0.0.1,10.0.0.1", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pool, err := ParsePool(s)
		if err != nil {
			return
		}
		text := make([]string, len(pool))
		seen := make(map[netip.Addr]bool)
		for i, a := range pool {
			if seen[a] {
				t.Fatalf("ParsePool(%q) kept duplicate %v", s, a)
			}
			seen[a] = true
			text[i] = a.String()
		}
		again, err := ParsePool(strings.Join(text, ","))
		if err != nil || !slices.Equal(again, pool) {
			t.Fatalf("ParsePool(%q) = %v, but re-parsing gives %v, %v", s, pool, again, err)
		}
	})
}
