package bitrot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

const (
	// DigestSize is the length of a shard digest.
	DigestSize = 16
	// TrailerSize is the length of the trailer that ends a version 2 shard.
	TrailerSize = 36
	// DigestSHA256x128 identifies the digest algorithm of version 2:
	// SHA-256 truncated to 16 bytes over the input the Digester documents.
	DigestSHA256x128 = 1
)

var trailerMagic = [4]byte{'C', 'R', 'N', 'T'}

// digestTag separates shard digests from any other SHA-256 input, and
// versions their input: a change to what is hashed changes the tag.
const digestTag = "cairn shard digest v1\x00"

var (
	// ErrBadTrailer reports a version 2 trailer that fails its checksum or
	// is malformed. It wraps ErrCorrupt: a version 2 shard always has one.
	ErrBadTrailer = fmt.Errorf("bitrot: bad shard trailer: %w", ErrCorrupt)
	// ErrDigestMismatch reports a shard whose digest is not the one
	// expected: recomputed from its blocks against its trailer, or its
	// trailer against the caller's. It wraps ErrCorrupt.
	ErrDigestMismatch = fmt.Errorf("bitrot: digest mismatch: %w", ErrCorrupt)
)

// Digester computes a shard digest from the checksums of its blocks, so
// that any party that knows them (the storage node writing or scrubbing the
// shard, the gateway that sent its blocks) computes the same value without
// the data. The digest is the first DigestSize bytes of
//
//	SHA-256( "cairn shard digest v1\x00"
//	         || uint16 LE len(name) || name
//	         || uint32 LE block size
//	         || CRC32C of block 0, 1, ... (uint32 LE each, in order)
//	         || uint64 LE data size )
//
// where name is the shard's ID: a file copied under another shard's name
// no longer matches its own digest. The number of checksums follows from
// the data and block sizes, so the input is unambiguous. 128 bits make an
// accidental collision between two shards negligible; the digest is no
// defence against a forger who can also rewrite the block checksums.
type Digester struct {
	h      hash.Hash
	blocks int64
	buf    [8]byte
}

// NewDigester starts the digest of shard name framed in blocks of
// blockSize bytes.
func NewDigester(name string, blockSize int) *Digester {
	d := &Digester{h: sha256.New()}
	d.h.Write([]byte(digestTag))
	binary.LittleEndian.PutUint16(d.buf[:], uint16(len(name)))
	d.h.Write(d.buf[:2])
	d.h.Write([]byte(name))
	binary.LittleEndian.PutUint32(d.buf[:], uint32(blockSize))
	d.h.Write(d.buf[:4])
	return d
}

// Add adds the checksum of the next block.
func (d *Digester) Add(crc uint32) {
	binary.LittleEndian.PutUint32(d.buf[:], crc)
	d.h.Write(d.buf[:4])
	d.blocks++
}

// Blocks returns the number of checksums added.
func (d *Digester) Blocks() int64 { return d.blocks }

// Sum returns the digest of a shard of dataSize bytes. It ends the
// Digester: call it once.
func (d *Digester) Sum(dataSize int64) []byte {
	binary.LittleEndian.PutUint64(d.buf[:], uint64(dataSize))
	d.h.Write(d.buf[:8])
	return d.h.Sum(nil)[:DigestSize]
}

// Trailer is the decoded trailer of a version 2 shard.
type Trailer struct {
	DataSize int64
	Digest   []byte
}

// Marshal encodes t as TrailerSize bytes:
//
//	offset size field
//	     0    4 magic "CRNT"
//	     4    1 digest algorithm, 1 = DigestSHA256x128
//	     5    3 reserved, zero
//	     8    8 data size, uint64 little endian
//	    16   16 digest
//	    32    4 CRC32C of bytes 0..31, uint32 little endian
func (t Trailer) Marshal() []byte {
	b := make([]byte, TrailerSize)
	copy(b, trailerMagic[:])
	b[4] = DigestSHA256x128
	binary.LittleEndian.PutUint64(b[8:], uint64(t.DataSize))
	copy(b[16:16+DigestSize], t.Digest)
	binary.LittleEndian.PutUint32(b[32:], checksum(b[:32]))
	return b
}

// ParseTrailer decodes and validates a trailer. Errors wrap ErrBadTrailer
// (and so ErrCorrupt).
func ParseTrailer(b []byte) (Trailer, error) {
	if len(b) != TrailerSize {
		return Trailer{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadTrailer, len(b), TrailerSize)
	}
	if want, got := checksum(b[:32]), binary.LittleEndian.Uint32(b[32:]); want != got {
		return Trailer{}, fmt.Errorf("%w: checksum %08x, computed %08x", ErrBadTrailer, got, want)
	}
	switch {
	case [4]byte(b[:4]) != trailerMagic:
		return Trailer{}, fmt.Errorf("%w: magic %q", ErrBadTrailer, b[:4])
	case b[4] != DigestSHA256x128:
		return Trailer{}, fmt.Errorf("%w: unsupported digest algorithm %d", ErrBadTrailer, b[4])
	case !bytes.Equal(b[5:8], []byte{0, 0, 0}):
		return Trailer{}, fmt.Errorf("%w: reserved bytes %x set", ErrBadTrailer, b[5:8])
	}
	size := binary.LittleEndian.Uint64(b[8:])
	if size > 1<<62 {
		return Trailer{}, fmt.Errorf("%w: data size %d", ErrBadTrailer, size)
	}
	return Trailer{DataSize: int64(size), Digest: bytes.Clone(b[16 : 16+DigestSize])}, nil
}

// ShardDigest is the digest of shard name given every block checksum: what
// a gateway computes from the blocks it sent.
func ShardDigest(name string, blockSize int, crcs []uint32, dataSize int64) []byte {
	d := NewDigester(name, blockSize)
	for _, c := range crcs {
		d.Add(c)
	}
	return d.Sum(dataSize)
}

// BlockChecksum returns the checksum of one block as the format stores it.
func BlockChecksum(block []byte) uint32 { return checksum(block) }
