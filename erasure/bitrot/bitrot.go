package bitrot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

const (
	// HeaderSize is the length of the header that starts every framed shard.
	HeaderSize = 16
	// ChecksumSize is the length of the checksum after every block.
	ChecksumSize = 4
	// Version is the format version written by this package: blocks as in
	// version 1, followed by a trailer holding the shard's digest.
	Version = 2
	// Version1 is the first format: header and blocks, no trailer. It is
	// still read.
	Version1 = 1
	// AlgorithmCRC32C identifies CRC32 with the Castagnoli polynomial.
	AlgorithmCRC32C = 1
	// MaxBlockSize bounds the block size a reader will allocate for, so a
	// corrupt or hostile block size cannot force a huge allocation.
	MaxBlockSize = 64 << 20
)

var magic = [4]byte{'C', 'R', 'N', 'S'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrCorrupt marks stored bytes that fail verification: a checksum
	// mismatch or a truncated shard.
	ErrCorrupt = errors.New("bitrot: checksum mismatch")
	// ErrBadHeader reports a header that is not a valid shard header.
	ErrBadHeader = errors.New("bitrot: bad shard header")
	// ErrBlockSize reports a block size outside 1..MaxBlockSize.
	ErrBlockSize = errors.New("bitrot: invalid block size")
	// ErrRange reports a read range outside the shard data.
	ErrRange = errors.New("bitrot: range outside shard data")
	// ErrClosed reports a Write after Close.
	ErrClosed = errors.New("bitrot: writer closed")
)

// Header is the decoded header of a framed shard.
type Header struct {
	Version   uint8
	Algorithm uint8
	BlockSize uint32
}

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func validBlockSize(bs int) error {
	if bs <= 0 || bs > MaxBlockSize {
		return fmt.Errorf("%w: %d, want 1..%d", ErrBlockSize, bs, MaxBlockSize)
	}
	return nil
}

// Marshal encodes h as HeaderSize bytes; see the package doc for the layout.
func (h Header) Marshal() []byte {
	b := make([]byte, HeaderSize)
	copy(b, magic[:])
	b[4] = h.Version
	b[5] = h.Algorithm
	binary.LittleEndian.PutUint32(b[8:], h.BlockSize)
	binary.LittleEndian.PutUint32(b[12:], checksum(b[:12]))
	return b
}

// ParseHeader decodes and validates the header at the start of b. Errors
// wrap ErrBadHeader; a header whose own checksum fails also wraps ErrCorrupt.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadHeader, len(b), HeaderSize)
	}
	if [4]byte(b[:4]) != magic {
		return Header{}, fmt.Errorf("%w: magic %q", ErrBadHeader, b[:4])
	}
	if want, got := checksum(b[:12]), binary.LittleEndian.Uint32(b[12:]); want != got {
		return Header{}, fmt.Errorf("%w: header checksum %08x, computed %08x: %w", ErrBadHeader, got, want, ErrCorrupt)
	}
	h := Header{Version: b[4], Algorithm: b[5], BlockSize: binary.LittleEndian.Uint32(b[8:])}
	switch {
	case h.Version != Version && h.Version != Version1:
		return Header{}, fmt.Errorf("%w: unsupported version %d", ErrBadHeader, h.Version)
	case h.Algorithm != AlgorithmCRC32C:
		return Header{}, fmt.Errorf("%w: unsupported checksum algorithm %d", ErrBadHeader, h.Algorithm)
	case b[6] != 0 || b[7] != 0:
		return Header{}, fmt.Errorf("%w: reserved bytes %x set", ErrBadHeader, b[6:8])
	case h.BlockSize == 0 || h.BlockSize > MaxBlockSize:
		return Header{}, fmt.Errorf("%w: block size %d", ErrBadHeader, h.BlockSize)
	}
	return h, nil
}

// FramedSize returns the length of a framed shard of this header's version
// and block size holding dataSize bytes: header, data, one checksum per
// block and, from version 2, the trailer.
func (h Header) FramedSize(dataSize int64) int64 {
	n := int64(HeaderSize) + h.trailerSize()
	if dataSize <= 0 || h.BlockSize == 0 {
		return n
	}
	bs := int64(h.BlockSize)
	blocks := (dataSize + bs - 1) / bs
	return n + dataSize + blocks*ChecksumSize
}

// DataSize inverts FramedSize. A length no data size frames to (a shard cut
// short inside a checksum or the header) wraps ErrCorrupt.
func (h Header) DataSize(framedSize int64) (int64, error) {
	if err := validBlockSize(int(h.BlockSize)); err != nil {
		return 0, err
	}
	body := framedSize - HeaderSize - h.trailerSize()
	if body < 0 {
		return 0, fmt.Errorf("bitrot: framed size %d is shorter than header and trailer: %w", framedSize, ErrCorrupt)
	}
	bs := int64(h.BlockSize)
	frame := bs + ChecksumSize
	full, rem := body/frame, body%frame
	if rem == 0 {
		return full * bs, nil
	}
	if rem <= ChecksumSize {
		return 0, fmt.Errorf("bitrot: framed size %d ends inside a checksum: %w", framedSize, ErrCorrupt)
	}
	return full*bs + rem - ChecksumSize, nil
}

func (h Header) trailerSize() int64 {
	if h.Version >= Version {
		return TrailerSize
	}
	return 0
}
