package ipfixmediator

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// decoded is what goflow2's decoder, which ovnet did not write, makes of
// a stream of messages.
type decoded struct {
	sequences []uint32
	// counts are the records of each message.
	counts    []uint32
	templates []netflow.TemplateRecord
	records   [][]netflow.DataField
}

func decodeAll(t *testing.T, msgs [][]byte) decoded {
	t.Helper()
	var d decoded
	templates := netflow.CreateTemplateSystem()
	for i, msg := range msgs {
		var nfv9 netflow.NFv9Packet
		var ipfix netflow.IPFIXPacket
		if err := netflow.DecodeMessageVersion(bytes.NewBuffer(msg), templates, &nfv9, &ipfix); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if int(ipfix.Length) != len(msg) {
			t.Fatalf("message %d: header says %d bytes, has %d", i, ipfix.Length, len(msg))
		}
		d.sequences = append(d.sequences, ipfix.SequenceNumber)
		before := len(d.records)
		for _, set := range ipfix.FlowSets {
			switch set := set.(type) {
			case netflow.TemplateFlowSet:
				d.templates = append(d.templates, set.Records...)
			case netflow.DataFlowSet:
				for _, r := range set.Records {
					d.records = append(d.records, r.Values)
				}
			default:
				t.Fatalf("message %d: unexpected set %T", i, set)
			}
		}
		d.counts = append(d.counts, uint32(len(d.records)-before))
	}
	return d
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestEncodeRoundTrip(t *testing.T) {
	flow := Template{ID: 256, Fields: []Field{{ID: 8, Length: 4}, {ID: 12, Length: 4}, {ID: 7, Length: 2}, {ID: 1, Length: 8}}}
	named := Template{ID: 300, Fields: []Field{{ID: 8, Length: 4},
		{ID: 2, Length: variableLength, Enterprise: EnterpriseNumber}, {ID: 891, Length: 4, Enterprise: 6876}}}
	flowRecord := Record{{10, 16, 0, 5}, {10, 16, 0, 6}, u16(40123), binary.BigEndian.AppendUint64(nil, 4<<20)}
	long := strings.Repeat("p", 253) + ".namespace-of-sixty-three-characters-is-the-longest-one-may-have"
	tests := []struct {
		name     string
		records  []Batch
		announce []uint16
		maxBytes int
		// messages is how many messages the records take.
		messages int
	}{
		{name: "fixed fields", records: []Batch{{256, flowRecord}}, announce: []uint16{256}, maxBytes: MessageBytes, messages: 1},
		{name: "enterprise and short variable fields", records: []Batch{{300, Record{{10, 16, 0, 5}, []byte("web-0"), u32(7)}}},
			announce: []uint16{300}, maxBytes: MessageBytes, messages: 1},
		{name: "empty variable field", records: []Batch{{300, Record{{10, 16, 0, 5}, nil, u32(7)}}},
			announce: []uint16{300}, maxBytes: MessageBytes, messages: 1},
		{name: "long variable field", records: []Batch{{300, Record{{10, 16, 0, 5}, []byte(long), u32(7)}}},
			announce: []uint16{300}, maxBytes: MessageBytes, messages: 1},
		{name: "two templates interleaved", records: []Batch{{256, flowRecord}, {300, Record{{10, 16, 0, 5}, []byte("a"), u32(1)}},
			{256, flowRecord}}, announce: []uint16{256, 300}, maxBytes: MessageBytes, messages: 1},
		{name: "template already sent", records: []Batch{{256, flowRecord}}, maxBytes: MessageBytes, messages: 1},
		// Header 16, template set 4+4+4*4, data set 4 and 18 a record:
		// 62 bytes hold the template and one record, or two records.
		{name: "split into messages", records: []Batch{{256, flowRecord}, {256, flowRecord}, {256, flowRecord}},
			announce: []uint16{256}, maxBytes: 62, messages: 2},
		{name: "a record larger than the bound goes alone", records: []Batch{{300, Record{{1, 2, 3, 4}, []byte(long), u32(1)}},
			{300, Record{{1, 2, 3, 4}, []byte(long), u32(2)}}}, announce: []uint16{300}, maxBytes: 100, messages: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Export{Domain: 7, ExportTime: 1700000000, Sequence: 41, Announce: map[uint16]bool{},
				Templates: map[uint16]Template{256: flow, 300: named}}
			for _, id := range tt.announce {
				e.Announce[id] = true
			}
			msgs, seq, err := e.Encode(tt.records, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != tt.messages {
				t.Fatalf("%d messages, want %d", len(msgs), tt.messages)
			}
			if want := uint32(41 + len(tt.records)); seq != want {
				t.Errorf("sequence after: %d, want %d", seq, want)
			}
			var stream [][]byte
			if len(tt.announce) == 0 {
				// The collector learnt the templates from an earlier message.
				earlier, _, err := Export{Domain: 7, Announce: map[uint16]bool{256: true, 300: true}, Templates: e.Templates}.
					Encode([]Batch{{256, flowRecord}, {300, Record{{0, 0, 0, 0}, nil, u32(0)}}}, MessageBytes)
				if err != nil {
					t.Fatal(err)
				}
				stream = earlier
			}
			d := decodeAll(t, append(stream, msgs...))
			d.records = d.records[len(d.records)-len(tt.records):]
			d.sequences, d.counts = d.sequences[len(stream):], d.counts[len(stream):]
			if len(d.templates) != len(tt.announce)+2*len(stream) {
				t.Errorf("%d templates decoded, want %d: each announced once", len(d.templates), len(tt.announce))
			}
			for i, tmpl := range d.templates {
				want := e.Templates[tmpl.TemplateId]
				if len(tmpl.Fields) != len(want.Fields) {
					t.Fatalf("template %d: %d fields, want %d", i, len(tmpl.Fields), len(want.Fields))
				}
				for j, f := range tmpl.Fields {
					got := Field{ID: f.Type, Length: f.Length}
					if f.PenProvided {
						got.Enterprise = f.Pen
					}
					if got != want.Fields[j] {
						t.Errorf("template %d field %d: %+v, want %+v", tmpl.TemplateId, j, got, want.Fields[j])
					}
				}
			}
			if len(d.records) != len(tt.records) {
				t.Fatalf("%d records decoded, want %d", len(d.records), len(tt.records))
			}
			for i, values := range d.records {
				want := tt.records[i].Record
				for j, v := range values {
					if got := v.Value.([]byte); !bytes.Equal(got, want[j]) {
						t.Errorf("record %d field %d: %q, want %q", i, j, got, want[j])
					}
				}
			}
			// Each message's sequence number counts the records before it.
			next := uint32(41)
			for i, s := range d.sequences {
				if s != next {
					t.Errorf("message %d: sequence %d, want %d", i, s, next)
				}
				next += d.counts[i]
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	flow := Template{ID: 256, Fields: []Field{{ID: 8, Length: 4}}}
	tests := []struct {
		name    string
		records []Batch
		want    string
	}{
		{"unknown template", []Batch{{257, Record{{1, 2, 3, 4}}}}, "no such template"},
		{"value of the wrong length", []Batch{{256, Record{{1, 2, 3}}}}, "3 bytes for a field of 4"},
		{"too few values", []Batch{{256, Record{}}}, "0 values for 1 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, seq, err := Export{Sequence: 5, Templates: map[uint16]Template{256: flow}}.Encode(tt.records, MessageBytes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
			if seq != 5 {
				t.Errorf("sequence %d after a refusal, want 5 unchanged", seq)
			}
		})
	}
}
