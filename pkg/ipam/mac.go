package ipam

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
)

// macAddr is an EUI-48 address held by value so it can key a map; the zero
// value means "no MAC", which is safe because all-zero is never valid.
type macAddr [6]byte

const (
	macMulticastBit = 0x01 // I/G bit of the first octet
	macLocalBit     = 0x02 // U/L bit of the first octet
)

// hardwareAddr returns a fresh slice so callers cannot reach internal state.
func (m macAddr) hardwareAddr() net.HardwareAddr {
	if m == (macAddr{}) {
		return nil
	}
	return net.HardwareAddr{m[0], m[1], m[2], m[3], m[4], m[5]}
}

// ParseMAC parses a unicast, non-zero EUI-48 address in any form net.ParseMAC
// accepts.
func ParseMAC(s string) (net.HardwareAddr, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	m, err := toMACAddr(hw)
	if err != nil {
		return nil, err
	}
	return m.hardwareAddr(), nil
}

// toMACAddr validates a MAC for use on a port: OVN ports need a unicast
// EUI-48 address.
func toMACAddr(hw net.HardwareAddr) (macAddr, error) {
	var m macAddr
	if len(hw) != len(m) {
		return m, fmt.Errorf("%w: MAC %s is %d bytes, want 6 (EUI-48)", ErrInvalidRequest, hw, len(hw))
	}
	copy(m[:], hw)
	if m[0]&macMulticastBit != 0 {
		return macAddr{}, fmt.Errorf("%w: MAC %s is multicast", ErrInvalidRequest, hw)
	}
	if m == (macAddr{}) {
		return m, fmt.Errorf("%w: MAC %s is all zero", ErrInvalidRequest, hw)
	}
	return m, nil
}

func randomMAC() macAddr {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	var m macAddr
	copy(m[:], b[:6])
	m[0] = m[0]&^macMulticastBit | macLocalBit
	return m
}
