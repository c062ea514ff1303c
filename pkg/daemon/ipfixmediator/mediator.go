package ipfixmediator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// TemplateRefresh is how often a template in use is sent again: over
// UDP a collector started (or restarted) after the mediator learns the
// templates only from a resend. ovs-vswitchd resends every 10 minutes;
// a minute costs a few hundred bytes a minute per template in use.
const TemplateRefresh = time.Minute

// MessageBytes bounds the messages sent to collectors, so that none is
// fragmented on a 1 500-byte path (IPv6's 40-byte header and UDP's 8
// included, with room to spare).
const MessageBytes = 1400

// datagramMax is the largest datagram read: an IPFIX message's length
// field is 16 bits.
const datagramMax = 1 << 16

// readBuffer is the receiving socket's buffer: ovs-vswitchd sends
// records in bursts (see setReadBuffer).
const readBuffer = 4 << 20

// Pod is what the mediator names an address by.
type Pod struct {
	Namespace, Name, Node string
}

// Directory names the pod holding an address.
type Directory interface {
	Lookup(netip.Addr) (Pod, bool)
}

// Config is what a Mediator is told.
type Config struct {
	// Listen is where ovs-vswitchd sends its records: a loopback address
	// and port of the node.
	Listen netip.AddrPort
	// Collectors receive the records with pod names.
	Collectors []netip.AddrPort
	// Pods names addresses.
	Pods Directory
	// InNetNS runs fn in the node's network namespace, where the sockets
	// are opened; nil opens them in the caller's.
	InNetNS func(fn func() error) error
	Logger  logr.Logger
}

// Stats count what the mediator did since it started.
type Stats struct {
	// Messages received and decoded; Undecodable those that did not
	// decode (or whose records had no template yet).
	Messages, Undecodable uint64
	// Records exported, with an address named on either side.
	Records, Named uint64
	// Skipped are options records and records of other versions, not
	// exported.
	Skipped uint64
}

// Mediator receives IPFIX from ovs-vswitchd and exports it with pod names.
type Mediator struct {
	cfg Config
	// in receives from ovs-vswitchd; out sends to the collectors.
	in, out *net.UDPConn
	// decoders are the template caches, one per sender (ovs-vswitchd's
	// socket: a new one after its restart).
	decoders map[netip.AddrPort]netflow.NetFlowTemplateSystem
	// domains are the export streams, one per observation domain.
	domains map[uint32]*stream
	mu      sync.Mutex
	stats   Stats
}

// stream is one observation domain's export: its sequence and templates.
type stream struct {
	sequence uint32
	// templates are the records' templates: ovs-vswitchd's with ovnet's
	// elements appended, by ID.
	templates map[uint16]*outTemplate
}

// outTemplate is one exported template and where its records' addresses
// are.
type outTemplate struct {
	Template
	// src and dst index the address fields in the record, -1 when the
	// template has none.
	src, dst int
	// sentAt is when it was last sent, zero when it changed since.
	sentAt time.Time
}

// New returns a mediator; Open binds its sockets.
func New(cfg Config) *Mediator {
	if cfg.InNetNS == nil {
		cfg.InNetNS = func(fn func() error) error { return fn() }
	}
	return &Mediator{cfg: cfg, decoders: map[netip.AddrPort]netflow.NetFlowTemplateSystem{}, domains: map[uint32]*stream{}}
}

// Open binds the receiving socket to Listen and opens the sending one, in
// the node's network namespace. A port someone else holds is an error
// naming it.
func (m *Mediator) Open() error {
	return m.cfg.InNetNS(func() error {
		in, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(m.cfg.Listen))
		if err != nil {
			return fmt.Errorf("IPFIX mediator: listen on %s: %w", m.cfg.Listen, err)
		}
		if err := setReadBuffer(in); err != nil {
			in.Close()
			return fmt.Errorf("IPFIX mediator: receive buffer: %w", err)
		}
		out, err := net.ListenUDP("udp", nil)
		if err != nil {
			in.Close()
			return fmt.Errorf("IPFIX mediator: sending socket: %w", err)
		}
		m.in, m.out = in, out
		return nil
	})
}

// Serve mediates until ctx ends; Open must have succeeded.
func (m *Mediator) Serve(ctx context.Context) error {
	defer m.out.Close()
	stop := context.AfterFunc(ctx, func() { m.in.Close() })
	defer stop()
	buf := make([]byte, datagramMax)
	for {
		n, from, err := m.in.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("IPFIX mediator: receive: %w", err)
		}
		msgs, err := m.Mediate(from, buf[:n], time.Now())
		if err != nil {
			m.cfg.Logger.V(1).Info("IPFIX message not mediated", "from", from, "error", err.Error())
		}
		failed := false
		for _, msg := range msgs {
			for _, c := range m.cfg.Collectors {
				// A collector away loses its records, as with any UDP
				// exporter; the others still get theirs.
				if _, err := m.out.WriteToUDPAddrPort(msg, c); err != nil {
					failed = true
					m.cfg.Logger.V(1).Info("IPFIX export failed", "collector", c, "error", err.Error())
				}
			}
		}
		if failed {
			m.Resend()
		}
	}
}

// Resend makes every template go again with its next record: a message
// that could not be sent (no route to a collector yet, as while the node
// starts) may have carried a template, without which a collector could
// decode none of its records until the next refresh.
func (m *Mediator) Resend() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.domains {
		for _, t := range s.templates {
			t.sentAt = time.Time{}
		}
	}
}

// Stats returns the counts so far.
func (m *Mediator) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Mediate turns one message from ovs-vswitchd into the messages for the
// collectors. Records it could decode are exported even when others of
// the message could not (their template not yet received).
func (m *Mediator) Mediate(from netip.AddrPort, payload []byte, now time.Time) ([][]byte, error) {
	templates := m.decoders[from]
	if templates == nil {
		templates = netflow.CreateTemplateSystem()
		m.decoders[from] = templates
	}
	packet, decodeErr := decode(payload, templates)
	m.mu.Lock()
	defer m.mu.Unlock()
	if packet == nil {
		m.stats.Undecodable++
		return nil, decodeErr
	}
	m.stats.Messages++
	if decodeErr != nil {
		m.stats.Undecodable++
	}
	s := m.domains[packet.ObservationDomainId]
	if s == nil {
		s = &stream{templates: map[uint16]*outTemplate{}}
		m.domains[packet.ObservationDomainId] = s
	}
	var batch []Batch
	var learnt []uint16
	for _, set := range packet.FlowSets {
		switch set := set.(type) {
		case netflow.TemplateFlowSet:
			for _, t := range set.Records {
				if s.learn(t) {
					learnt = append(learnt, t.TemplateId)
				}
			}
		case netflow.DataFlowSet:
			t := s.templates[set.Id]
			if t == nil {
				m.stats.Skipped += uint64(len(set.Records))
				continue
			}
			for _, r := range set.Records {
				rec, named, ok := m.enrich(t, r)
				if !ok {
					m.stats.Skipped++
					continue
				}
				if named {
					m.stats.Named++
				}
				batch = append(batch, Batch{Template: t.ID, Record: rec})
			}
		case netflow.OptionsDataFlowSet:
			// ovs-vswitchd's bridge exporter sends no options; were it to,
			// they describe its process, not flows.
			m.stats.Skipped += uint64(len(set.Records))
		}
	}
	if len(batch) == 0 && len(learnt) == 0 {
		return nil, decodeErr
	}
	export := Export{Domain: packet.ObservationDomainId, ExportTime: packet.ExportTime, Sequence: s.sequence,
		Announce: map[uint16]bool{}, Preamble: learnt, Templates: map[uint16]Template{}}
	for id, t := range s.templates {
		export.Templates[id] = t.Template
		if now.Sub(t.sentAt) >= TemplateRefresh {
			export.Announce[id] = true
		}
	}
	msgs, seq, err := export.Encode(batch, MessageBytes)
	if err != nil {
		return nil, errors.Join(decodeErr, err)
	}
	s.sequence = seq
	for _, id := range learnt {
		s.templates[id].sentAt = now
	}
	for _, b := range batch {
		if export.Announce[b.Template] {
			s.templates[b.Template].sentAt = now
		}
	}
	m.stats.Records += uint64(len(batch))
	return msgs, decodeErr
}

// decode decodes one IPFIX message, learning its templates. The packet is
// nil when nothing of it decoded; err also says which sets did not. A
// decoder panic is the message's error, not the daemon's end.
func decode(payload []byte, templates netflow.NetFlowTemplateSystem) (packet *netflow.IPFIXPacket, err error) {
	defer func() {
		if p := recover(); p != nil {
			packet, err = nil, fmt.Errorf("IPFIX decoder panic: %v", p)
		}
	}()
	if len(payload) < 2 || payload[0] != 0 || payload[1] != ipfixVersion {
		return nil, errors.New("not an IPFIX message")
	}
	var nfv9 netflow.NFv9Packet
	var ipfix netflow.IPFIXPacket
	err = netflow.DecodeMessageVersion(bytes.NewBuffer(payload), templates, &nfv9, &ipfix)
	if err != nil && !errors.Is(err, netflow.ErrorTemplateNotFound) {
		return nil, err
	}
	return &ipfix, err
}

// learn makes t's exported template: its fields and ovnet's. It reports
// whether the template is new or changed, to be sent at once.
func (s *stream) learn(t netflow.TemplateRecord) bool {
	out := &outTemplate{Template: Template{ID: t.TemplateId}, src: -1, dst: -1}
	for i, f := range t.Fields {
		field := Field{ID: f.Type, Length: f.Length}
		if f.PenProvided {
			field.Enterprise = f.Pen
		}
		out.Fields = append(out.Fields, field)
		if f.PenProvided {
			continue
		}
		switch f.Type {
		case ieSourceIPv4Address, ieSourceIPv6Address:
			out.src = i
		case ieDestinationIPv4Address, ieDestinationIPv6Address:
			out.dst = i
		}
	}
	for _, e := range Elements {
		out.Fields = append(out.Fields, Field{ID: uint16(e), Length: variableLength, Enterprise: EnterpriseNumber})
	}
	old := s.templates[t.TemplateId]
	if old != nil && sameFields(old.Fields, out.Fields) {
		return false
	}
	s.templates[t.TemplateId] = out
	return true
}

func sameFields(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// enrich is r's values under t with the names of its addresses' pods;
// ok is false for a record cut short.
func (m *Mediator) enrich(t *outTemplate, r netflow.DataRecord) (rec Record, named bool, ok bool) {
	own := len(t.Fields) - len(Elements)
	if len(r.Values) != own {
		return nil, false, false
	}
	rec = make(Record, 0, len(t.Fields))
	for i, v := range r.Values {
		b, isBytes := v.Value.([]byte)
		if !isBytes || (t.Fields[i].Length != variableLength && len(b) != int(t.Fields[i].Length)) {
			return nil, false, false
		}
		rec = append(rec, b)
	}
	src, srcNamed := m.name(rec, t.src)
	dst, dstNamed := m.name(rec, t.dst)
	rec = append(rec, []byte(src.Namespace), []byte(src.Name), []byte(src.Node),
		[]byte(dst.Namespace), []byte(dst.Name), []byte(dst.Node))
	return rec, srcNamed || dstNamed, true
}

// name is the pod holding the address in field i of rec.
func (m *Mediator) name(rec Record, i int) (Pod, bool) {
	if i < 0 || m.cfg.Pods == nil {
		return Pod{}, false
	}
	addr, ok := netip.AddrFromSlice(rec[i])
	if !ok {
		return Pod{}, false
	}
	return m.cfg.Pods.Lookup(addr.Unmap())
}
