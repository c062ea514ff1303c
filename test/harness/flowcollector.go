package harness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
	"github.com/netsampler/goflow2/v2/producer"
	protoproducer "github.com/netsampler/goflow2/v2/producer/proto"
	"google.golang.org/protobuf/encoding/protowire"
	"gopkg.in/yaml.v3"
)

// flowDatagramMax is the largest datagram the collector reads: an IPFIX
// message's length field is 16 bits, and sFlow's datagrams are smaller.
const flowDatagramMax = 1 << 16

// flowReadBuffer is the collector socket's receive buffer (the kernel
// caps it at net.core.rmem_max).
const flowReadBuffer = 8 << 20

// Flow is one flow record, or one sampled packet, as the collector
// decoded it.
type Flow struct {
	// Type is what carried it: goflow2's IPFIX, NETFLOW_V9 or SFLOW_5.
	Type string
	// Exporter is the address the record came from: the node's, as its
	// ovs-vswitchd sent it.
	Exporter netip.Addr
	// Agent is the agent address an sFlow datagram names; for IPFIX, the
	// exporter's.
	Agent    netip.Addr
	Src, Dst netip.AddrPort
	// Proto is the IP protocol number (6 for TCP).
	Proto uint32
	// Bytes and Packets are what the record counts, not scaled by the
	// sampling rate: for sFlow, one packet and its length on the wire.
	Bytes, Packets uint64
	// SamplingRate is the rate the exporter says it sampled at, when it
	// says (sFlow always does).
	SamplingRate uint64
	// InPort and OutPort are the exporter's interface numbers for the
	// flow: datapath port numbers in Open vSwitch's IPFIX, interface
	// indexes (ifIndex) in its sFlow.
	InPort, OutPort uint32
	// Custom are the fields the collector's mapping file adds (its
	// formatter's protobuf fields of type string), by name; those the
	// record lacks are absent.
	Custom map[string]string
}

// PortCounters are one sFlow counter sample of an interface: its totals
// since it was created.
type PortCounters struct {
	// Exporter and Agent are as in Flow.
	Exporter, Agent netip.Addr
	// IfIndex is the interface's index in the exporter's network namespace.
	IfIndex uint32
	// InOctets and OutOctets are from the switch's side: In is what the
	// switch received on the port.
	InOctets, OutOctets uint64
	// InPackets and OutPackets are unicast packets.
	InPackets, OutPackets uint32
}

// FlowCollector is an IPFIX (and NetFlow v9) and sFlow collector that
// ovnet did not write: goflow2's decoders, template cache and producer,
// fed by UDP sockets in a test's network namespace.
type FlowCollector struct {
	// Addrs are where it listens; each takes every protocol, told apart
	// by its version field.
	Addrs []netip.AddrPort
	// mapping is goflow2's producer configuration: its default (IANA's
	// fields) or a mapping file's.
	mapping *protoproducer.ProducerConfig
	// custom names the mapping's string fields by protobuf index.
	custom map[protowire.Number]string
	mu     sync.Mutex
	// flows are the records and samples decoded so far, counters the
	// sFlow counter samples; errs the messages that did not decode.
	flows    []Flow
	counters []PortCounters
	errs     []error
}

// StartFlowCollector listens on every addr (UDP) in the network namespace
// netns until tb's test ends.
func StartFlowCollector(tb T, netns string, addrs ...netip.AddrPort) *FlowCollector {
	tb.Helper()
	return StartMappedFlowCollector(tb, netns, "", addrs...)
}

// StartMappedFlowCollector is StartFlowCollector decoding the extra fields
// goflow2's mapping file (its -mapping flag) names into Flow.Custom; ""
// maps IANA's fields only.
func StartMappedFlowCollector(tb T, netns, mappingFile string, addrs ...netip.AddrPort) *FlowCollector {
	tb.Helper()
	c := &FlowCollector{Addrs: addrs, mapping: &protoproducer.ProducerConfig{}, custom: map[protowire.Number]string{}}
	if mappingFile != "" {
		f, err := os.Open(mappingFile)
		if err != nil {
			tb.Fatalf("goflow2 mapping: %v", err)
		}
		// Read as goflow2's own -mapping flag reads it.
		err = yaml.NewDecoder(f).Decode(c.mapping)
		f.Close()
		if err != nil {
			tb.Fatalf("goflow2 mapping %s: %v", mappingFile, err)
		}
		for _, pb := range c.mapping.Formatter.Protobuf {
			if pb.Type == string(protoproducer.ProtoString) {
				c.custom[protowire.Number(pb.Index)] = pb.Name
			}
		}
	}
	for _, addr := range addrs {
		c.listen(tb, netns, addr)
	}
	return c
}

// listen receives on addr until tb's test ends.
func (c *FlowCollector) listen(tb T, netns string, addr netip.AddrPort) {
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
	cfg, err := c.mapping.Compile()
	if err != nil {
		tb.Fatalf("goflow2 producer configuration: %v", err)
	}
	proto, err := protoproducer.CreateProtoProducer(cfg, protoproducer.CreateSamplingSystem)
	if err != nil {
		tb.Fatalf("goflow2 producer: %v", err)
	}
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
		var flows []Flow
		var counters []PortCounters
		if isSFlow(buf[:n]) {
			flows, counters, err = c.decodeSFlow(proto, from, buf[:n])
		} else {
			flows, err = c.decodeFlows(proto, templates[from], from, buf[:n])
		}
		c.mu.Lock()
		c.flows = append(c.flows, flows...)
		c.counters = append(c.counters, counters...)
		if err != nil {
			c.errs = append(c.errs, fmt.Errorf("message from %s: %w", from, err))
		}
		c.mu.Unlock()
	}
}

// decodeFlows decodes one NetFlow v9 or IPFIX message into flows. A
// panic in the decoder is the message's error: in this goroutine it would
// end the test binary without its clean-ups, leaving its daemons running.
func (c *FlowCollector) decodeFlows(proto producer.ProducerInterface, templates netflow.NetFlowTemplateSystem, from netip.AddrPort,
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
	return c.produce(proto, from, msg)
}

// sflowVersion is the first 32-bit field of an sFlow datagram; NetFlow
// v9's and IPFIX's first 16 bits are their own version, 9 or 10, so an
// sFlow datagram's are 0.
const sflowVersion = 5

func isSFlow(payload []byte) bool {
	return len(payload) >= 4 && binary.BigEndian.Uint32(payload) == sflowVersion
}

// decodeSFlow decodes one sFlow datagram: its flow samples into flows, its
// interface counter samples into counters. A decoder panic is its error,
// as in decodeFlows.
func (c *FlowCollector) decodeSFlow(proto producer.ProducerInterface, from netip.AddrPort, payload []byte) (flows []Flow,
	counters []PortCounters, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panic: %v", p)
		}
	}()
	var packet sflow.Packet
	if err := sflow.DecodeMessageVersion(bytes.NewBuffer(payload), &packet); err != nil {
		return nil, nil, err
	}
	agent, _ := netip.AddrFromSlice(packet.AgentIP)
	for _, sample := range packet.Samples {
		cs, ok := sample.(sflow.CounterSample)
		if !ok {
			continue
		}
		for _, record := range cs.Records {
			if ifc, ok := record.Data.(sflow.IfCounters); ok {
				counters = append(counters, PortCounters{Exporter: from.Addr().Unmap(), Agent: agent.Unmap(),
					IfIndex: ifc.IfIndex, InOctets: ifc.IfInOctets, OutOctets: ifc.IfOutOctets,
					InPackets: ifc.IfInUcastPkts, OutPackets: ifc.IfOutUcastPkts})
			}
		}
	}
	flows, err = c.produce(proto, from, &packet)
	return flows, counters, err
}

// produce turns a decoded message into flows through goflow2's producer.
func (c *FlowCollector) produce(proto producer.ProducerInterface, from netip.AddrPort, msg any) ([]Flow, error) {
	set, err := proto.Produce(msg, &producer.ProduceArgs{Src: from, SamplerAddress: from.Addr(), TimeReceived: time.Now()})
	defer proto.Commit(set)
	var flows []Flow
	for _, m := range set {
		if fm, ok := m.(*protoproducer.ProtoProducerMessage); ok {
			flows = append(flows, c.flowOf(from.Addr(), fm))
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

// Counters returns the sFlow counter samples received so far.
func (c *FlowCollector) Counters() []PortCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.counters)
}

// Errors returns why the messages that did not decode did not.
func (c *FlowCollector) Errors() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// flowOf copies what a test checks out of goflow2's message, which goes
// back to goflow2's pool.
func (c *FlowCollector) flowOf(exporter netip.Addr, m *protoproducer.ProtoProducerMessage) Flow {
	src, _ := netip.AddrFromSlice(m.SrcAddr)
	dst, _ := netip.AddrFromSlice(m.DstAddr)
	agent, _ := netip.AddrFromSlice(m.SamplerAddress)
	return Flow{Type: m.Type.String(), Exporter: exporter.Unmap(), Agent: agent.Unmap(),
		Src: netip.AddrPortFrom(src.Unmap(), uint16(m.SrcPort)), Dst: netip.AddrPortFrom(dst.Unmap(), uint16(m.DstPort)),
		Proto: m.Proto, Bytes: m.Bytes, Packets: m.Packets, SamplingRate: m.SamplingRate, InPort: m.InIf, OutPort: m.OutIf,
		Custom: c.customFields(m)}
}

// customFields reads the mapping's string fields where goflow2's producer
// put them: the message's unknown protobuf fields, by index.
func (c *FlowCollector) customFields(m *protoproducer.ProtoProducerMessage) map[string]string {
	if len(c.custom) == 0 {
		return nil
	}
	out := map[string]string{}
	unknown := m.ProtoReflect().GetUnknown()
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			break
		}
		unknown = unknown[n:]
		size := protowire.ConsumeFieldValue(num, typ, unknown)
		if size < 0 {
			break
		}
		if name, ok := c.custom[num]; ok && typ == protowire.BytesType {
			if v, n := protowire.ConsumeString(unknown[:size]); n >= 0 {
				out[name] = v
			}
		}
		unknown = unknown[size:]
	}
	return out
}
