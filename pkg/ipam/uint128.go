package ipam

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
)

// uint128 is an unsigned 128-bit integer. Every address is converted to one so
// that IPv4 and IPv6 share the same arithmetic; IPv4 uses the low 32 bits.
type uint128 struct{ hi, lo uint64 }

// less is the free-space tree's comparison, so it runs several times per
// allocation and is kept small enough to inline.
func (u uint128) less(v uint128) bool { return u.hi < v.hi || u.hi == v.hi && u.lo < v.lo }

// add and sub wrap modulo 2^128; callers guard the ends of their ranges.
func (u uint128) add(v uint128) uint128 {
	lo, carry := bits.Add64(u.lo, v.lo, 0)
	hi, _ := bits.Add64(u.hi, v.hi, carry)
	return uint128{hi, lo}
}

func (u uint128) sub(v uint128) uint128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return uint128{hi, lo}
}

func (u uint128) addOne() uint128 { return u.add(uint128{0, 1}) }
func (u uint128) subOne() uint128 { return u.sub(uint128{0, 1}) }

// saturate converts to uint64, clamping at MaxUint64: IPv6 counts routinely
// exceed 64 bits and a clamped figure is still meaningful in a status field.
func (u uint128) saturate() uint64 {
	if u.hi != 0 {
		return math.MaxUint64
	}
	return u.lo
}

// lowBits returns a value with the n lowest bits set (0 <= n <= 128).
func lowBits(n int) uint128 {
	switch {
	case n >= 128:
		return uint128{math.MaxUint64, math.MaxUint64}
	case n >= 64:
		return uint128{1<<(n-64) - 1, math.MaxUint64}
	default:
		return uint128{0, 1<<n - 1}
	}
}

func addrToUint128(a netip.Addr) uint128 {
	if a.Is4() {
		b := a.As4()
		return uint128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return uint128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func uint128ToAddr(u uint128, is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

// prefixBounds returns the first and last address of a masked prefix.
func prefixBounds(p netip.Prefix) (first, last uint128) {
	first = addrToUint128(p.Addr())
	host := lowBits(p.Addr().BitLen() - p.Bits())
	return first, uint128{first.hi | host.hi, first.lo | host.lo}
}
