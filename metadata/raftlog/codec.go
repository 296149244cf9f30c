package raftlog

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Key prefixes. Logs and stable values share one keyspace; the prefix keeps
// log keys contiguous so that range deletes and First/Last seeks never touch
// stable values.
const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'
)

// Value formats. A reader rejects formats it does not know instead of
// guessing, so a downgrade after a format change fails loudly.
const (
	formatLogV1    byte = 1
	formatStableV1 byte = 1
)

// Flags of a v1 log record.
const (
	logFlagAppendedAt byte = 1 << 0 // appended_at is present (non-zero time)
)

func logKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

func indexFromKey(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != prefixLog {
		return 0, fmt.Errorf("raftlog: log key %x: %w", k, ErrCorrupt)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// logKeyBounds are the bounds of the whole log keyspace: [lower, upper).
func logKeyBounds() (lower, upper []byte) {
	return []byte{prefixLog}, []byte{prefixLog + 1}
}

func stableKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefixStable
	copy(k[1:], key)
	return k
}

// encodeLog encodes l as a v1 record:
//
//	format(1) flags(1) index(uvarint) term(uvarint) type(1)
//	[appended_at unix nanos (varint) if flag set]
//	len(data)(uvarint) data len(extensions)(uvarint) extensions
func encodeLog(l *raft.Log) []byte {
	n := 2 + 2*binary.MaxVarintLen64 + 1 + binary.MaxVarintLen64 +
		2*binary.MaxVarintLen64 + len(l.Data) + len(l.Extensions)
	b := make([]byte, 0, n)
	var flags byte
	if !l.AppendedAt.IsZero() {
		flags |= logFlagAppendedAt
	}
	b = append(b, formatLogV1, flags)
	b = binary.AppendUvarint(b, l.Index)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	if flags&logFlagAppendedAt != 0 {
		b = binary.AppendVarint(b, l.AppendedAt.UnixNano())
	}
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	b = append(b, l.Extensions...)
	return b
}

// decodeLog decodes a record written by encodeLog into l. The slices in l
// are fresh copies: b may be owned by Pebble.
func decodeLog(b []byte, l *raft.Log) error {
	d := decoder{b: b}
	format := d.byte()
	if d.err == nil && format != formatLogV1 {
		return fmt.Errorf("raftlog: log record format %d: %w", format, ErrUnknownFormat)
	}
	flags := d.byte()
	index := d.uvarint()
	term := d.uvarint()
	typ := d.byte()
	var appendedAt time.Time
	if flags&logFlagAppendedAt != 0 {
		appendedAt = time.Unix(0, d.varint())
	}
	data := d.bytes()
	ext := d.bytes()
	if d.err != nil {
		return fmt.Errorf("raftlog: decode log record: %w", d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("raftlog: decode log record: %d trailing bytes: %w", len(d.b), ErrCorrupt)
	}
	*l = raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(typ),
		Data:       data,
		Extensions: ext,
		AppendedAt: appendedAt,
	}
	return nil
}

// decoder reads a byte slice front to back and remembers the first error so
// that callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed byte string. An empty string decodes as nil,
// matching what raft hands us for absent data.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b[:n])
	d.b = d.b[n:]
	return v
}

func encodeStable(val []byte) []byte {
	b := make([]byte, 0, 1+len(val))
	b = append(b, formatStableV1)
	return append(b, val...)
}

// decodeStable returns a copy of the value stored by encodeStable.
func decodeStable(b []byte) ([]byte, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("raftlog: decode stable value: empty: %w", ErrCorrupt)
	}
	if b[0] != formatStableV1 {
		return nil, fmt.Errorf("raftlog: stable value format %d: %w", b[0], ErrUnknownFormat)
	}
	v := make([]byte, len(b)-1)
	copy(v, b[1:])
	return v, nil
}
