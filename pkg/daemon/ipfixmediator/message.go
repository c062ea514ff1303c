package ipfixmediator

import (
	"encoding/binary"
	"fmt"
)

// IPFIX message layout (RFC 7011 §3).
const (
	ipfixVersion    = 10
	messageHeader   = 16
	setHeader       = 4
	templateSetID   = 2
	minDataSetID    = 256
	enterpriseBit   = 0x8000
	variableLength  = 0xffff
	shortLengthMax  = 254
	longLengthFlag  = 0xff
	maxMessageBytes = 1<<16 - 1
)

// Field is one field specifier of a template: an information element and
// its length in records, variableLength for a variable-length one.
type Field struct {
	ID     uint16
	Length uint16
	// Enterprise is the element's enterprise number; 0 for IANA's.
	Enterprise uint32
}

// Template is a template record: the fields of the data records of its
// ID, in order.
type Template struct {
	ID     uint16
	Fields []Field
}

// encodedLen is the template record's length in a template set.
func (t Template) encodedLen() int {
	n := 4
	for _, f := range t.Fields {
		n += 4
		if f.Enterprise != 0 {
			n += 4
		}
	}
	return n
}

func (t Template) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, t.ID)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Fields)))
	for _, f := range t.Fields {
		id := f.ID
		if f.Enterprise != 0 {
			id |= enterpriseBit
		}
		b = binary.BigEndian.AppendUint16(b, id)
		b = binary.BigEndian.AppendUint16(b, f.Length)
		if f.Enterprise != 0 {
			b = binary.BigEndian.AppendUint32(b, f.Enterprise)
		}
	}
	return b
}

// Record is one data record: its values in its template's order.
type Record [][]byte

// encodedLen is the record's length under t, or an error when a value
// does not fit its field.
func (r Record) encodedLen(t Template) (int, error) {
	if len(r) != len(t.Fields) {
		return 0, fmt.Errorf("template %d: %d values for %d fields", t.ID, len(r), len(t.Fields))
	}
	n := 0
	for i, f := range t.Fields {
		v := r[i]
		switch {
		case f.Length != variableLength && len(v) != int(f.Length):
			return 0, fmt.Errorf("template %d field %d: %d bytes for a field of %d", t.ID, i, len(v), f.Length)
		case f.Length != variableLength:
			n += len(v)
		case len(v) <= shortLengthMax:
			n += 1 + len(v)
		default:
			n += 3 + len(v)
		}
	}
	return n, nil
}

func (r Record) appendTo(b []byte, t Template) []byte {
	for i, f := range t.Fields {
		v := r[i]
		if f.Length == variableLength {
			if len(v) <= shortLengthMax {
				b = append(b, byte(len(v)))
			} else {
				b = append(b, longLengthFlag)
				b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
			}
		}
		b = append(b, v...)
	}
	return b
}

// Export is one batch of records of one observation domain to encode as
// IPFIX messages.
type Export struct {
	// Domain is the observation domain; ExportTime seconds since the epoch.
	Domain     uint32
	ExportTime uint32
	// Sequence is the number of data records the stream sent in Domain
	// before this batch; Encode returns it advanced past the batch.
	Sequence uint32
	// Announce lists the templates to send before the first record that
	// uses them.
	Announce map[uint16]bool
	// Preamble lists templates to send first, whether or not a record
	// uses them: those just learnt, so that the collector has them before
	// a burst of records, when a datagram is likeliest to be lost.
	Preamble []uint16
	// Templates are the templates of the records, by ID.
	Templates map[uint16]Template
}

// Batch is a data record with its template's ID.
type Batch struct {
	Template uint16
	Record   Record
}

// Encode writes Preamble's templates and records as IPFIX messages of at
// most maxBytes each (a record too large for that goes alone in a
// message); every message carries, before its data sets, the templates
// of Announce its records are the first to use (unless in Preamble). It returns the messages and the sequence number
// after them.
func (e Export) Encode(records []Batch, maxBytes int) (messages [][]byte, sequence uint32, err error) {
	maxBytes = min(maxBytes, maxMessageBytes)
	announced := map[uint16]bool{}
	var msg []byte
	var openSet uint16 // the data set being written, 0 for none
	var setStart, inMessage int
	seq := e.Sequence
	closeSet := func() {
		if openSet != 0 {
			binary.BigEndian.PutUint16(msg[setStart+2:], uint16(len(msg)-setStart))
			openSet = 0
		}
	}
	finish := func() {
		if msg == nil {
			return
		}
		closeSet()
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		messages = append(messages, msg)
		msg, inMessage = nil, 0
	}
	begin := func() {
		msg = binary.BigEndian.AppendUint16(nil, ipfixVersion)
		msg = binary.BigEndian.AppendUint16(msg, 0) // length, once known
		msg = binary.BigEndian.AppendUint32(msg, e.ExportTime)
		msg = binary.BigEndian.AppendUint32(msg, seq)
		msg = binary.BigEndian.AppendUint32(msg, e.Domain)
	}
	for _, id := range e.Preamble {
		t, ok := e.Templates[id]
		if !ok || t.ID < minDataSetID {
			return nil, e.Sequence, fmt.Errorf("template %d: no such template", id)
		}
		need := setHeader + t.encodedLen()
		if msg != nil && len(msg)+need > maxBytes {
			finish()
		}
		if msg == nil {
			begin()
		}
		if len(msg)+need > maxMessageBytes {
			return nil, e.Sequence, fmt.Errorf("template %d: %d bytes do not fit an IPFIX message", t.ID, need)
		}
		// One set per template: simpler than packing, and templates are
		// sent rarely.
		msg = binary.BigEndian.AppendUint16(msg, templateSetID)
		msg = binary.BigEndian.AppendUint16(msg, uint16(need))
		msg = t.appendTo(msg)
		announced[t.ID] = true
		inMessage++
	}
	for _, rec := range records {
		t, ok := e.Templates[rec.Template]
		if !ok || t.ID < minDataSetID {
			return nil, e.Sequence, fmt.Errorf("record of template %d: no such template", rec.Template)
		}
		size, err := rec.Record.encodedLen(t)
		if err != nil {
			return nil, e.Sequence, err
		}
		announce := e.Announce[t.ID] && !announced[t.ID]
		need := size
		if openSet != t.ID || announce {
			need += setHeader
		}
		if announce {
			need += setHeader + t.encodedLen()
		}
		if msg != nil && inMessage > 0 && len(msg)+need > maxBytes {
			finish()
		}
		if msg == nil {
			begin()
		}
		if len(msg)+need > maxMessageBytes {
			return nil, e.Sequence, fmt.Errorf("record of template %d: %d bytes do not fit an IPFIX message", t.ID, size)
		}
		if announce {
			closeSet()
			msg = binary.BigEndian.AppendUint16(msg, templateSetID)
			msg = binary.BigEndian.AppendUint16(msg, uint16(setHeader+t.encodedLen()))
			msg = t.appendTo(msg)
			announced[t.ID] = true
		}
		if openSet != t.ID {
			closeSet()
			openSet, setStart = t.ID, len(msg)
			msg = binary.BigEndian.AppendUint16(msg, t.ID)
			msg = binary.BigEndian.AppendUint16(msg, 0) // length, once closed
		}
		msg = rec.Record.appendTo(msg, t)
		inMessage++
		seq++
	}
	finish()
	return messages, seq, nil
}
