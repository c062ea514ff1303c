package ipfixmediator

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ovnet/ovnet/pkg/annotation"
)

// ovsTemplate is shaped like ovs-vswitchd's IPv4 TCP template: addresses,
// ports, protocol, an enterprise field (VMware's, as OVS uses for tunnel
// data), then the counters.
var ovsTemplate = Template{ID: 259, Fields: []Field{{ID: 8, Length: 4}, {ID: 12, Length: 4}, {ID: 7, Length: 2},
	{ID: 11, Length: 2}, {ID: 4, Length: 1}, {ID: 891, Length: 1, Enterprise: 6876}, {ID: 1, Length: 8}, {ID: 2, Length: 8}}}

func ovsRecord(src, dst netip.Addr, bytes uint64) Record {
	return Record{src.AsSlice(), dst.AsSlice(), u16(40123), u16(5201), {6}, {0},
		binary.BigEndian.AppendUint64(nil, bytes), binary.BigEndian.AppendUint64(nil, 3)}
}

// fromOVS encodes records as ovs-vswitchd would send them, its template
// first when announce.
func fromOVS(t *testing.T, seq uint32, announce bool, records ...Record) []byte {
	t.Helper()
	var batch []Batch
	for _, r := range records {
		batch = append(batch, Batch{Template: ovsTemplate.ID, Record: r})
	}
	e := Export{Domain: 3, ExportTime: 1700000000, Sequence: seq, Templates: map[uint16]Template{ovsTemplate.ID: ovsTemplate}}
	if announce {
		e.Preamble = []uint16{ovsTemplate.ID}
	}
	msgs, _, err := e.Encode(batch, datagramMax-1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("OVS message: %d messages, %v", len(msgs), err)
	}
	return msgs[0]
}

var (
	webIP    = netip.MustParseAddr("10.16.0.5")
	dbIP     = netip.MustParseAddr("10.16.0.6")
	strayIP  = netip.MustParseAddr("10.16.0.99")
	ovsPort  = netip.MustParseAddrPort("127.0.0.1:50000")
	t0       = time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	webRec   = map[string]string{annotation.Allocated: "true", annotation.IPAddress: "10.16.0.5", annotation.MACAddress: "0a:00:00:00:00:05", annotation.LogicalSwitch: "ovn-default"}
	dbRec    = map[string]string{annotation.Allocated: "true", annotation.IPAddress: "10.16.0.6,fd00:10:16::6", annotation.MACAddress: "0a:00:00:00:00:06", annotation.LogicalSwitch: "ovn-default"}
	testPods = func() *PodIndex {
		x := NewPodIndex()
		x.Set(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-0", Annotations: webRec}, Spec: corev1.PodSpec{NodeName: "n1"}})
		x.Set(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "db-0", Annotations: dbRec}, Spec: corev1.PodSpec{NodeName: "n2"}})
		return x
	}
)

func ovnetValues(t *testing.T, d decoded, i int) (own [][]byte, pods []string) {
	t.Helper()
	values := d.records[i]
	for _, v := range values {
		b := v.Value.([]byte)
		if v.PenProvided && v.Pen == EnterpriseNumber {
			pods = append(pods, string(b))
		} else {
			own = append(own, b)
		}
	}
	return own, pods
}

func TestMediateNamesPods(t *testing.T) {
	tests := []struct {
		name     string
		src, dst netip.Addr
		want     []string
	}{
		{"both pods", webIP, dbIP, []string{"shop", "web-0", "n1", "data", "db-0", "n2"}},
		{"reply", dbIP, webIP, []string{"data", "db-0", "n2", "shop", "web-0", "n1"}},
		{"no pod holds the destination", webIP, strayIP, []string{"shop", "web-0", "n1", "", "", ""}},
		{"no pod on either side", strayIP, netip.MustParseAddr("172.18.0.254"), []string{"", "", "", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Config{Pods: testPods()})
			in := ovsRecord(tt.src, tt.dst, 4<<20)
			msgs, err := m.Mediate(ovsPort, fromOVS(t, 10, true, in), t0)
			if err != nil || len(msgs) != 1 {
				t.Fatalf("%d messages, %v", len(msgs), err)
			}
			d := decodeAll(t, msgs)
			if len(d.records) != 1 || len(d.templates) != 1 {
				t.Fatalf("%d records and %d templates, want 1 and 1", len(d.records), len(d.templates))
			}
			own, pods := ovnetValues(t, d, 0)
			for j := range in {
				if string(own[j]) != string(in[j]) {
					t.Errorf("field %d: %v, want ovs-vswitchd's %v", j, own[j], in[j])
				}
			}
			if strings.Join(pods, "/") != strings.Join(tt.want, "/") {
				t.Errorf("pods %q, want %q", pods, tt.want)
			}
			if got := d.templates[0].Fields; len(got) != len(ovsTemplate.Fields)+len(Elements) || got[5].Pen != 6876 {
				t.Errorf("template fields %+v: want ovs-vswitchd's eight, VMware's kept, then ovnet's six", got)
			}
			if d.sequences[0] != 0 {
				t.Errorf("sequence %d, want 0: the mediator's stream counts its own records", d.sequences[0])
			}
		})
	}
}

// A record whose template has not come is not exported; the template's
// next message makes the records decodable. Templates go again once
// TemplateRefresh has passed, and sequence numbers count the records
// exported.
func TestMediateTemplates(t *testing.T) {
	m := New(Config{Pods: testPods()})
	rec := ovsRecord(webIP, dbIP, 100)
	msgs, err := m.Mediate(ovsPort, fromOVS(t, 0, false, rec), t0)
	if len(msgs) != 0 || err == nil {
		t.Fatalf("data without its template: %d messages, error %v; want none and an error", len(msgs), err)
	}
	steps := []struct {
		at        time.Duration
		announce  bool
		records   int
		templates int
	}{
		{at: 0, announce: true, records: 2, templates: 1},
		{at: 30 * time.Second, records: 1, templates: 0},
		{at: 30 * time.Second, announce: true, records: 1, templates: 0},
		{at: TemplateRefresh, records: 3, templates: 1},
	}
	var stream [][]byte
	var sequence uint32
	for i, s := range steps {
		records := make([]Record, s.records)
		for j := range records {
			records[j] = rec
		}
		msgs, err := m.Mediate(ovsPort, fromOVS(t, uint32(i), s.announce, records...), t0.Add(s.at))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("step %d: %d messages, %v", i, len(msgs), err)
		}
		stream = append(stream, msgs...)
		d := decodeAll(t, stream)
		if got := len(d.templates); got != s.templates+len(decodeAll(t, stream[:i]).templates) {
			t.Errorf("step %d (at %s): %d templates in all", i, s.at, got)
		}
		if d.sequences[i] != sequence {
			t.Errorf("step %d: sequence %d, want %d", i, d.sequences[i], sequence)
		}
		sequence += uint32(s.records)
	}
	if st := m.Stats(); st.Records != 7 || st.Named != 7 || st.Undecodable != 1 {
		t.Errorf("stats %+v: want 7 records, 7 named, 1 message undecodable", st)
	}
}

// A port someone holds is refused by name; the mediator receives nothing
// meant for them.
func TestOpenPortTaken(t *testing.T) {
	held, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	at := held.LocalAddr().(*net.UDPAddr).AddrPort()
	err = New(Config{Listen: at}).Open()
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), at.String()) {
		t.Fatalf("open on a held port: %v; want EADDRINUSE naming %s", err, at)
	}
}

// Templates ovs-vswitchd sends are passed on at once, before any record
// uses them, as ovs-vswitchd sends its own: the collector holds them
// before a burst of records, when a datagram is likeliest to be lost.
func TestMediateForwardsTemplatesAtOnce(t *testing.T) {
	m := New(Config{Pods: testPods()})
	first, err := m.Mediate(ovsPort, fromOVS(t, 0, true), t0)
	if err != nil || len(first) != 1 {
		t.Fatalf("templates alone: %d messages, %v; want 1", len(first), err)
	}
	d := decodeAll(t, first)
	if len(d.templates) != 1 || len(d.records) != 0 || d.templates[0].TemplateId != ovsTemplate.ID {
		t.Fatalf("%d templates and %d records; want template %d alone", len(d.templates), len(d.records), ovsTemplate.ID)
	}
	// The same template again, unchanged, is not sent again; its record
	// follows, decodable with the template sent first.
	second, err := m.Mediate(ovsPort, fromOVS(t, 0, true, ovsRecord(webIP, dbIP, 1)), t0.Add(time.Second))
	if err != nil || len(second) != 1 {
		t.Fatalf("%d messages, %v; want 1", len(second), err)
	}
	d = decodeAll(t, append(first, second...))
	if len(d.templates) != 1 || len(d.records) != 1 {
		t.Errorf("%d templates and %d records in all; want the first template and the record", len(d.templates), len(d.records))
	}
}

// After Resend (a send that failed) every template goes again with its
// next record.
func TestResendAnnouncesAgain(t *testing.T) {
	m := New(Config{Pods: testPods()})
	if _, err := m.Mediate(ovsPort, fromOVS(t, 0, true), t0); err != nil {
		t.Fatal(err)
	}
	rec := ovsRecord(webIP, dbIP, 1)
	for _, tt := range []struct {
		name      string
		resend    bool
		templates int
	}{{"within the refresh", false, 0}, {"after a failed send", true, 1}, {"sent again since", false, 0}} {
		if tt.resend {
			m.Resend()
		}
		msgs, err := m.Mediate(ovsPort, fromOVS(t, 0, false, rec), t0.Add(time.Second))
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: %d messages, %v", tt.name, len(msgs), err)
		}
		var n int
		for _, set := range decodeSets(t, msgs[0]) {
			if set == templateSetID {
				n++
			}
		}
		if n != tt.templates {
			t.Errorf("%s: %d template sets, want %d", tt.name, n, tt.templates)
		}
	}
}

// decodeSets lists the set IDs of one message, read by hand: goflow2
// would refuse a data set whose template it does not hold.
func decodeSets(t *testing.T, msg []byte) []uint16 {
	t.Helper()
	var ids []uint16
	for off := messageHeader; off+setHeader <= len(msg); {
		id, n := binary.BigEndian.Uint16(msg[off:]), int(binary.BigEndian.Uint16(msg[off+2:]))
		if n < setHeader {
			t.Fatalf("set of length %d", n)
		}
		ids = append(ids, id)
		off += n
	}
	return ids
}
