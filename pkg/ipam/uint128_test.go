package ipam

import (
	"math"
	"net/netip"
	"testing"
)

func TestUint128Arithmetic(t *testing.T) {
	max := uint128{math.MaxUint64, math.MaxUint64}
	tests := []struct {
		name string
		got  uint128
		want uint128
	}{
		{name: "carry into hi", got: uint128{0, math.MaxUint64}.addOne(), want: uint128{1, 0}},
		{name: "borrow from hi", got: uint128{1, 0}.subOne(), want: uint128{0, math.MaxUint64}},
		{name: "add wraps", got: max.addOne(), want: uint128{}},
		{name: "sub wraps", got: uint128{}.subOne(), want: max},
		{name: "sub", got: uint128{5, 3}.sub(uint128{2, 4}), want: uint128{2, math.MaxUint64}},
		{name: "low 0 bits", got: lowBits(0), want: uint128{}},
		{name: "low 64 bits", got: lowBits(64), want: uint128{0, math.MaxUint64}},
		{name: "low 72 bits", got: lowBits(72), want: uint128{0xff, math.MaxUint64}},
		{name: "low 128 bits", got: lowBits(128), want: max},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %x, want %x", tt.got, tt.want)
			}
		})
	}
	if max.saturate() != math.MaxUint64 || (uint128{0, 7}).saturate() != 7 {
		t.Error("saturate")
	}
}

func TestAddrConversion(t *testing.T) {
	tests := []struct {
		name        string
		prefix      string
		first, last string
	}{
		{name: "ipv4 /24", prefix: "10.16.0.0/24", first: "10.16.0.0", last: "10.16.0.255"},
		{name: "ipv4 /0", prefix: "0.0.0.0/0", first: "0.0.0.0", last: "255.255.255.255"},
		{name: "ipv6 /120", prefix: "fd00::/120", first: "fd00::", last: "fd00::ff"},
		{name: "ipv6 /64", prefix: "fd00:1::/64", first: "fd00:1::", last: "fd00:1::ffff:ffff:ffff:ffff"},
		{name: "ipv6 /60", prefix: "fd00:1::/60", first: "fd00:1::", last: "fd00:1:0:f:ffff:ffff:ffff:ffff"},
		{name: "ipv6 /0", prefix: "::/0", first: "::", last: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := netip.MustParsePrefix(tt.prefix)
			first, last := prefixBounds(p)
			is4 := p.Addr().Is4()
			if got := uint128ToAddr(first, is4).String(); got != tt.first {
				t.Errorf("first = %s, want %s", got, tt.first)
			}
			if got := uint128ToAddr(last, is4).String(); got != tt.last {
				t.Errorf("last = %s, want %s", got, tt.last)
			}
			if back := addrToUint128(netip.MustParseAddr(tt.last)); back != last {
				t.Errorf("round trip of %s = %x, want %x", tt.last, back, last)
			}
		})
	}
}
