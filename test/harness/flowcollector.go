package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/producer"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
)

// flowDatagramMax is the largest datagram the collector reads: an IPFIX
// message's length field is 16 bits.
const flowDatagramMax = 1 << 16

// flowReadBuffer is the collector socket's receive buffer (the kernel
// caps it at net.core.rmem_max).
const flowReadBuffer = 8 << 20

// Flow is one flow record as the collector decoded it.
type Flow struct {
	// Exporter is the address the record came from: the node's, as its
	// ovs-vswitchd sent it.
	Exporter netip.Addr
	Src, Dst netip.AddrPort
	// Proto is the IP protocol number (6 for TCP).
	Proto uint32
	// Bytes and Packets are what the record counts, not scaled by the
	// sampling rate.
	Bytes, Packets uint64
	// InPort and OutPort are the exporter's interface numbers for the
	// flow, datapath port numbers for Open vSwitch.
	InPort, OutPort uint32
}

// FlowCollector is an IPFIX (and NetFlow v9) collector that ovnet did not
// write: goflow2's decoder, template cache and producer, fed by a UDP
// socket in a test's network namespace.
type FlowCollector struct {
	// Addr is where it listens.
	Addr netip.AddrPort
	mu   sync.Mutex
	// flows are the records decoded so far; errs the messages that did
	// not decode.
	flows []Flow
	errs  []error
}

// StartFlowCollector listens on addr (UDP) in the network namespace netns
// until tb's test ends.
func StartFlowCollector(tb T, netns string, addr netip.AddrPort) *FlowCollector {
	tb.Helper()
	conn, err := openInNetNS(netns, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	})
	if err != nil {
		tb.Fatalf("flow collector on %s in %s: %v", addr, netns, err)
	}
	// Records of a fast flow come in bursts; what the socket cannot hold
	// is lost, as on any UDP collector.
	if err := conn.SetReadBuffer(flowReadBuffer); err != nil {
		tb.Fatalf("flow collector read buffer: %v", err)
	}
	// goflow2's default mapping: the IANA fields, no custom ones.
	cfg, err := (&protoproducer.ProducerConfig{}).Compile()
	if err != nil {
		tb.Fatalf("goflow2 producer configuration: %v", err)
	}
	proto, err := protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem)
	if err != nil {
		tb.Fatalf("goflow2 producer: %v", err)
	}
	c := &FlowCollector{Addr: addr}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.receive(conn, proto)
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
		proto.Close()
	})
	return c
}

// receive decodes datagrams until the socket closes, with one template
// cache per exporter, as goflow2's own pipe keeps them.
func (c *FlowCollector) receive(conn *net.UDPConn, proto producer.ProducerInterface) {
	buf := make([]byte, flowDatagramMax)
	templates := map[netip.AddrPort]netflow.NetFlowTemplateSystem{}
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if templates[from] == nil {
			templates[from] = netflow.CreateTemplateSystem()
		}
		flows, err := decodeFlows(proto, templates[from], from, buf[:n])
		c.mu.Lock()
		c.flows = append(c.flows, flows...)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("message from %s: %w", from, err))
		}
		c.mu.Unlock()
	}
}

// decodeFlows decodes one NetFlow v9 or IPFIX message into flows. A
// panic in the decoder is the message's error: in this goroutine it would
// end the test binary without its clean-ups, leaving its daemons running.
func decodeFlows(proto producer.ProducerInterface, templates netflow.NetFlowTemplateSystem, from netip.AddrPort,
	payload []byte) (flows []Flow, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	var nfv9 netflow.NFv9Packet
	var ipfix netflow.IPFIXPacket
	if err := netflow.DecodeMessageVersion(bytes.NewBuffer(payload), templates, &nfv9, &ipfix); err != nil {
		return nil, err
	}
	// The version is the first field of both, checked by the decoder.
	var msg any = &ipfix
	if binary.BigEndian.Uint16(payload) == 9 {
		msg = &nfv9
	}
	set, err := proto.Produce(msg, &producer.ProduceArgs{Src: from, SamplerAddress: from.Addr(), TimeReceived: time.Now()})
	defer proto.Commit(set)
	for _, m := range set {
		if fm, ok := m.(*protoproducer.ProtoProducerMessage); ok {
			flows = append(flows, flowOf(from.Addr(), fm))
		}
	}
	return flows, err
}

// Flows returns the records received so far.
func (c *FlowCollector) Flows() []Flow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.flows)
}

// Errors returns why the messages that did not decode did not.
func (c *FlowCollector) Errors() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// flowOf copies what a test checks out of goflow2's message, which goes
// back to goflow2's pool.
func flowOf(exporter netip.Addr, m *protoproducer.ProtoProducerMessage) Flow {
	src, _ := netip.AddrFromSlice(m.SrcAddr)
	dst, _ := netip.AddrFromSlice(m.DstAddr)
	return Flow{Exporter: exporter.Unmap(),
		Src: netip.AddrPortFrom(src.Unmap(), uint16(m.SrcPort)), Dst: netip.AddrPortFrom(dst.Unmap(), uint16(m.DstPort)),
		Proto: m.Proto, Bytes: m.Bytes, Packets: m.Packets, InPort: m.InIf, OutPort: m.OutIf}
}
