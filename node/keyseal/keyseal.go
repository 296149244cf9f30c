// Package keyseal seals small secrets (user secrets, wrapped data keys)
// under one or more master keys at once, each sealing tagged with the ID of
// the key that made it, so that a master key can be rotated online: during
// a rotation a value is sealed under both the new and the previous key and
// every process opens it with whichever of the two it holds.
//
// Envelope (format 2): format byte, count n (1..maxSealings), then n
// sealings of key ID (IDSize bytes), GCM nonce, ciphertext length (uint16
// big endian) and ciphertext. Each sealing authenticates the caller's
// additional data followed by its key ID, so a sealing cannot be relabelled
// with another key's ID. Format 1 values (one sealing, no key ID) predate
// this package; their owners keep reading them with their own code.
//
// The package is pure: it reads no clock, and uses crypto/rand only for
// nonces.
package keyseal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// Format is the first byte of every envelope this package writes.
const Format byte = 2

// IDSize is the length of a key ID in bytes.
const IDSize = 8

// maxSealings bounds the sealings of one envelope (current and previous
// key, with room to spare).
const maxSealings = 4

// idInfo separates the key ID derivation from every other key derived from
// a master key.
const idInfo = "cairn master key id v1"

// Errors of sealing.
var (
	// ErrMalformed: the value is not an envelope of this format.
	ErrMalformed = errors.New("keyseal: malformed sealed value")
	// ErrNoKey: no sealing of the value is under a key of the ring.
	ErrNoKey = errors.New("keyseal: sealed under none of the configured keys")
	// ErrOpen: a sealing under a configured key does not authenticate
	// (damaged record, or sealed for another purpose).
	ErrOpen = errors.New("keyseal: sealed value does not open")
)

// ID identifies a key without revealing it.
type ID [IDSize]byte

// String is the hex form used in logs and reports.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MasterID derives the ID of a master key: HKDF-SHA256 with a fixed label,
// truncated to IDSize bytes.
func MasterID(master []byte) (ID, error) {
	var id ID
	b, err := hkdf.Key(sha256.New, master, nil, idInfo, IDSize)
	if err != nil {
		return id, fmt.Errorf("keyseal: derive key ID: %w", err)
	}
	copy(id[:], b)
	return id, nil
}

// Key is one AES-256-GCM key with its ID.
type Key struct {
	ID   ID
	AEAD cipher.AEAD
}

// NewKey makes a Key from 32 key bytes.
func NewKey(id ID, key []byte) (Key, error) {
	if len(key) != 32 {
		return Key{}, fmt.Errorf("keyseal: key has %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return Key{}, fmt.Errorf("keyseal: cipher: %w", err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("keyseal: gcm: %w", err)
	}
	return Key{ID: id, AEAD: a}, nil
}

// Ring is an ordered set of keys; the first is the current one. It is
// immutable and safe for concurrent use.
type Ring struct {
	keys []Key
}

// NewRing returns a ring of at least one key with distinct IDs.
func NewRing(keys ...Key) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("keyseal: a ring needs a key")
	}
	for i, k := range keys {
		for _, o := range keys[:i] {
			if o.ID == k.ID {
				return nil, fmt.Errorf("keyseal: key %s given twice", k.ID)
			}
		}
	}
	return &Ring{keys: slices.Clone(keys)}, nil
}

// Current is the ID of the current key.
func (r *Ring) Current() ID { return r.keys[0].ID }

// IDs lists the ring's key IDs, the current first.
func (r *Ring) IDs() []ID {
	out := make([]ID, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.ID
	}
	return out
}

// Keys returns the ring's keys, the current first, for callers that must
// still read their format 1 values.
func (r *Ring) Keys() []Key { return slices.Clone(r.keys) }

func (r *Ring) key(id ID) (Key, bool) {
	for _, k := range r.keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// Seal seals plain under each of the keys named by ids (the current key
// when none is named). Every ID must be in the ring.
func (r *Ring) Seal(plain, ad []byte, ids ...ID) ([]byte, error) {
	if len(ids) == 0 {
		ids = []ID{r.Current()}
	}
	if len(ids) > maxSealings {
		return nil, fmt.Errorf("keyseal: %d sealings, at most %d", len(ids), maxSealings)
	}
	if len(plain)+r.keys[0].AEAD.Overhead() > 0xffff {
		return nil, fmt.Errorf("keyseal: %d bytes is too long to seal", len(plain))
	}
	out := []byte{Format, byte(len(ids))}
	for _, id := range ids {
		k, ok := r.key(id)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrNoKey, id)
		}
		nonce := make([]byte, k.AEAD.NonceSize())
		_, _ = rand.Read(nonce)
		ct := k.AEAD.Seal(nil, nonce, plain, sealingAD(ad, id))
		out = append(out, id[:]...)
		out = append(out, nonce...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(ct)))
		out = append(out, ct...)
	}
	return out, nil
}

// Open opens the first sealing of sealed that is under a key of the ring,
// trying the ring's keys in order (the current first).
func (r *Ring) Open(sealed, ad []byte) ([]byte, error) {
	ss, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	for _, k := range r.keys {
		for _, s := range ss {
			if s.id != k.ID {
				continue
			}
			if len(s.nonce) != k.AEAD.NonceSize() {
				return nil, fmt.Errorf("%w: nonce size", ErrMalformed)
			}
			plain, err := k.AEAD.Open(nil, s.nonce, s.ct, sealingAD(ad, s.id))
			if err != nil {
				return nil, fmt.Errorf("%w (key %s)", ErrOpen, s.id)
			}
			return plain, nil
		}
	}
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.id.String()
	}
	return nil, fmt.Errorf("%w (sealed under %v)", ErrNoKey, ids)
}

// IDsOf lists the key IDs a value is sealed under, in envelope order,
// without opening it; a format 1 value has none.
func IDsOf(sealed []byte) ([]ID, error) {
	if IsLegacy(sealed) {
		return nil, nil
	}
	ss, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	out := make([]ID, len(ss))
	for i, s := range ss {
		out[i] = s.id
	}
	return out, nil
}

// IsLegacy reports whether sealed is a format 1 value (no key ID).
func IsLegacy(sealed []byte) bool { return len(sealed) > 0 && sealed[0] == 1 }

// SealedUnder reports whether sealed is an envelope sealed under exactly
// the keys ids, in that order.
func SealedUnder(sealed []byte, ids []ID) bool {
	got, err := IDsOf(sealed)
	return err == nil && len(got) > 0 && slices.Equal(got, ids)
}

type sealing struct {
	id    ID
	nonce []byte
	ct    []byte
}

// nonceSize is GCM's standard nonce size, the only one NewKey makes.
const nonceSize = 12

func parse(b []byte) ([]sealing, error) {
	if len(b) < 2 || b[0] != Format {
		return nil, fmt.Errorf("%w: unknown format", ErrMalformed)
	}
	n := int(b[1])
	if n == 0 || n > maxSealings {
		return nil, fmt.Errorf("%w: %d sealings", ErrMalformed, n)
	}
	rest := b[2:]
	out := make([]sealing, 0, n)
	for range n {
		if len(rest) < IDSize+nonceSize+2 {
			return nil, fmt.Errorf("%w: truncated", ErrMalformed)
		}
		var s sealing
		copy(s.id[:], rest)
		s.nonce = rest[IDSize : IDSize+nonceSize]
		l := int(binary.BigEndian.Uint16(rest[IDSize+nonceSize:]))
		rest = rest[IDSize+nonceSize+2:]
		if len(rest) < l {
			return nil, fmt.Errorf("%w: truncated", ErrMalformed)
		}
		s.ct, rest = rest[:l], rest[l:]
		out = append(out, s)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return out, nil
}

func sealingAD(ad []byte, id ID) []byte {
	return append(append(bytes.Clone(ad), 0), id[:]...)
}
