package nodenat

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// Registers: reg1 is the 16-byte register most matches load into; the
// 4-byte registers from 8 on overlay it and reg2, word by word, where a
// concatenation (address . protocol . port, address . port) is built,
// each field taking whole words.
const (
	reg1       = 1
	reg2       = 2
	reg32First = 8
	// ifNameLen is IFNAMSIZ: interface names compare as 16 NUL-padded bytes.
	ifNameLen = 16
	// ipsDstNAT is IPS_DST_NAT of ct status: the connection was DNATed.
	ipsDstNAT = 1 << 5
)

// thDportOffset is the destination port's offset in the transport header.
const thDportOffset = 2

// reg32After is the 4-byte register after an address loaded at reg32First.
func (f Family) reg32After() uint32 { return reg32First + f.addrLen/4 }

// ifname matches the input or output interface name against name.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	data := make([]byte, ifNameLen)
	copy(data, name)
	return []expr.Any{&expr.Meta{Key: key, Register: reg1}, &expr.Cmp{Op: op, Register: reg1, Data: data}}
}

// addrInSet matches the source or destination address (the header
// offset of either) against a named set.
func (f Family) addrInSet(offset uint32, set string) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: f.addrLen},
		&expr.Lookup{SourceRegister: reg1, SetName: set},
	}
}

// daddrLocal matches "fib daddr type local ip daddr != 127.0.0.0/8" (ip6
// daddr != ::1): an address of this node other than loopback, as
// kube-proxy's NodePorts do.
func (f Family) daddrLocal() []expr.Any {
	maskBytes := make([]byte, f.addrLen)
	for i := range f.loopback.Bits() {
		maskBytes[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Fib{Register: reg1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: f.daddrOffset, Len: f.addrLen},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: f.addrLen, Mask: maskBytes, Xor: make([]byte, f.addrLen)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: f.loopback.Addr().AsSlice()},
	}
}

// ctBits matches "ct KEY & mask == 0" (op Eq) or "!= 0" (op Neq); both ct
// state and ct status are host-endian words.
func ctBits(key expr.CtKey, mask uint32, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: reg1, Key: key},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: reg1, Data: make([]byte, 4)},
	}
}

// notReply matches what is neither an established connection nor related
// to one: new, invalid and untracked packets.
func notReply() []expr.Any {
	return ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED, expr.CmpOpEq)
}

// l4port matches "meta l4proto PROTO th dport PORT".
func l4port(protocol corev1.Protocol, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{ipProto(protocol)}},
		&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: thDportOffset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// targetInSet matches "ip daddr . meta l4proto . th dport @set": the
// destination a DNAT produced. (Matching the original port instead would
// need "ct original proto-dst", whose direction attribute the library
// cannot read back.)
func (f Family) targetInSet(set string) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: reg32First, Base: expr.PayloadBaseNetworkHeader, Offset: f.daddrOffset, Len: f.addrLen},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: f.reg32After()},
		&expr.Payload{DestRegister: f.reg32After() + 1, Base: expr.PayloadBaseTransportHeader, Offset: thDportOffset, Len: 2},
		&expr.Lookup{SourceRegister: reg32First, SetName: set},
	}
}

// dnatTo rewrites the destination to target.
func (f Family) dnatTo(target netip.AddrPort) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: reg1, Data: target.Addr().AsSlice()},
		&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(target.Port())},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: f.nat, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
	}
}

// dnatRandom rewrites the destination to one of the targets held by the
// anonymous map, picked at random: "dnat to numgen random mod N map {...}".
// The map's value, address . port, lands in the words from reg32First.
func (f Family) dnatRandom(targets *nftables.Set, n int) []expr.Any {
	return []expr.Any{
		&expr.Numgen{Register: reg1, Modulus: uint32(n), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: reg1, DestRegister: reg1, IsDestRegSet: true, SetName: targets.Name, SetID: targets.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: f.nat, RegAddrMin: reg1, RegProtoMin: f.reg32After(), Specified: true},
	}
}

// targetMap is the anonymous map numgen's index selects a target from.
func (f Family) targetMap(table *nftables.Table, targets []netip.AddrPort) (*nftables.Set, []nftables.SetElement) {
	set := &nftables.Set{Table: table, Anonymous: true, Constant: true, IsMap: true,
		KeyType: nftables.TypeInteger, DataType: f.addrPortType()}
	elems := make([]nftables.SetElement, len(targets))
	for i, t := range targets {
		elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), Val: addrPortBytes(t)}
	}
	return set, elems
}

// addrPortBytes is an address . port value, each field padded to whole
// 4-byte words.
func addrPortBytes(t netip.AddrPort) []byte {
	a := t.Addr().AsSlice()
	b := make([]byte, len(a)+4)
	copy(b, a)
	binary.BigEndian.PutUint16(b[len(a):], t.Port())
	return b
}

// targetBytes is an address . protocol . port key, each field padded to
// whole 4-byte words.
func targetBytes(protocol corev1.Protocol, t netip.AddrPort) []byte {
	a := t.Addr().AsSlice()
	b := make([]byte, len(a)+8)
	copy(b, a)
	b[len(a)] = ipProto(protocol)
	binary.BigEndian.PutUint16(b[len(a)+4:], t.Port())
	return b
}

// ipProto is the IP protocol number of a Service protocol.
func ipProto(p corev1.Protocol) byte {
	switch p {
	case corev1.ProtocolUDP:
		return unix.IPPROTO_UDP
	case corev1.ProtocolSCTP:
		return unix.IPPROTO_SCTP
	default:
		return unix.IPPROTO_TCP
	}
}

func verdict(kind expr.VerdictKind, chain string) *expr.Verdict {
	return &expr.Verdict{Kind: kind, Chain: chain}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
