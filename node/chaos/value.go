package chaos

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
)

// ValueID names one written value: the writer in the high 32 bits, its
// sequence number in the low 32. Zero means "absent" (no object).
type ValueID uint64

// Absent is the state of a key with no object.
const Absent ValueID = 0

// MakeValueID packs a writer and its sequence number.
func MakeValueID(writer, seq uint32) ValueID { return ValueID(uint64(writer)<<32 | uint64(seq)) }

func (v ValueID) String() string {
	if v == Absent {
		return "absent"
	}
	return fmt.Sprintf("w%d.%d", uint64(v)>>32, uint32(v))
}

// headerFormat starts every value; the rest of the body is a deterministic
// stream seeded by the value ID, so a body is verified byte for byte from
// its header alone.
const headerFormat = "cairn-chaos v1 key=%s id=%016x size=%d\n"

// ErrNotWritten marks bytes that no writer of the campaign produced.
var ErrNotWritten = errors.New("chaos: bytes were never written")

// Body returns the value id of key with (at least) size bytes: never less
// than its header.
func Body(key string, id ValueID, size int) []byte {
	h := fmt.Sprintf(headerFormat, key, uint64(id), size)
	if size < len(h) {
		size = len(h)
		h = fmt.Sprintf(headerFormat, key, uint64(id), size)
		if len(h) > size { // the size field grew a digit
			size = len(h)
			h = fmt.Sprintf(headerFormat, key, uint64(id), size)
		}
	}
	b := make([]byte, size)
	copy(b, h)
	fill(b[len(h):], id)
	return b
}

func fill(b []byte, id ValueID) {
	r := rand.New(rand.NewPCG(uint64(id), 0x63616972_6e2d6368))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// Verify returns the ID of the value that b is, if b is exactly a value
// written for key; otherwise an error wrapping ErrNotWritten.
func Verify(key string, b []byte) (ValueID, error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 || nl > 1200 {
		return Absent, fmt.Errorf("%w: no header in %d bytes", ErrNotWritten, len(b))
	}
	var gotKey string
	var id uint64
	var size int
	if _, err := fmt.Sscanf(string(b[:nl+1]), headerFormat, &gotKey, &id, &size); err != nil {
		return Absent, fmt.Errorf("%w: bad header %q", ErrNotWritten, b[:nl])
	}
	if gotKey != key {
		return Absent, fmt.Errorf("%w: value of key %q read from %q", ErrNotWritten, gotKey, key)
	}
	if size != len(b) {
		return Absent, fmt.Errorf("%w: value %v has %d bytes, its header says %d", ErrNotWritten, ValueID(id), len(b), size)
	}
	if ValueID(id) == Absent {
		return Absent, fmt.Errorf("%w: value ID zero", ErrNotWritten)
	}
	want := make([]byte, len(b)-nl-1)
	fill(want, ValueID(id))
	if !bytes.Equal(want, b[nl+1:]) {
		at := 0
		for at < len(want) && want[at] == b[nl+1+at] {
			at++
		}
		return Absent, fmt.Errorf("%w: value %v differs at byte %d of %d", ErrNotWritten, ValueID(id), nl+1+at, len(b))
	}
	return ValueID(id), nil
}

// ETag is the S3 ETag of a single-part, unencrypted body: its quoted MD5.
func ETag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}
