package checksum

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Checksum types of a multipart object (x-amz-checksum-type).
const (
	// TypeComposite is the checksum of the concatenated part checksums,
	// written with a "-<parts>" suffix.
	TypeComposite = "COMPOSITE"
	// TypeFullObject is the checksum of the whole body, as if it had been
	// uploaded in one piece; only the CRC algorithms support it.
	TypeFullObject = "FULL_OBJECT"
)

// ErrNotCombinable is returned when a full-object checksum is asked of an
// algorithm that cannot be combined from parts (SHA1, SHA256).
var ErrNotCombinable = errors.New("checksum: algorithm cannot be combined across parts")

// reflected CRC polynomials, as hash/crc32 and the NVMe CRC64 use them.
const (
	polyCRC32     = 0xEDB88320
	polyCRC32C    = 0x82F63B78
	polyCRC64NVME = 0x9A6C9329AC4BC9B5
)

// Combinable reports whether a supports TypeFullObject.
func (a Algorithm) Combinable() bool {
	_, _, ok := a.crcParams()
	return ok
}

func (a Algorithm) crcParams() (poly uint64, width uint, ok bool) {
	switch a {
	case CRC32:
		return polyCRC32, 32, true
	case CRC32C:
		return polyCRC32C, 32, true
	case CRC64NVME:
		return polyCRC64NVME, 64, true
	}
	return 0, 0, false
}

// Part is one part's checksum value (base64, as S3 sends it) and length.
type Part struct {
	Value string
	Size  int64
}

// FullObject combines the CRCs of consecutive parts into the CRC of their
// concatenation, without the data: CRC(A‖B) = CRC(A)·x^(8·|B|) ⊕ CRC(B)
// modulo the polynomial (the pre- and post-inversions cancel out).
func FullObject(a Algorithm, parts []Part) (string, error) {
	poly, width, ok := a.crcParams()
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrNotCombinable, a)
	}
	g := gf2{poly: poly, width: width}
	var crc uint64
	for i, p := range parts {
		v, err := g.decode(p.Value)
		if err != nil {
			return "", fmt.Errorf("checksum: part %d: %w", i+1, err)
		}
		if i == 0 {
			crc = v
			continue
		}
		crc = g.mul(g.xpow8n(p.Size), crc) ^ v
	}
	return g.encode(crc), nil
}

// Composite is the COMPOSITE checksum of parts: a's checksum of the
// concatenated raw part checksums, then "-" and the part count.
func Composite(a Algorithm, values []string) (string, error) {
	h := a.New()
	if h == nil {
		return "", fmt.Errorf("checksum: composite: %w: %q", ErrUnknownAlgorithm, a)
	}
	for i, v := range values {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(raw) != h.Size() {
			return "", fmt.Errorf("checksum: composite: part %d: invalid %s value %q", i+1, a, v)
		}
		h.Write(raw)
	}
	return Encode(h.Sum(nil)) + "-" + strconv.Itoa(len(values)), nil
}

// gf2 is arithmetic modulo a reflected CRC polynomial of width bits: bit
// width-1 is x^0.
type gf2 struct {
	poly  uint64
	width uint
}

func (g gf2) decode(v string) (uint64, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != int(g.width/8) {
		return 0, fmt.Errorf("invalid CRC value %q", v)
	}
	if g.width == 32 {
		return uint64(binary.BigEndian.Uint32(raw)), nil
	}
	return binary.BigEndian.Uint64(raw), nil
}

func (g gf2) encode(v uint64) string {
	if g.width == 32 {
		return Encode(binary.BigEndian.AppendUint32(nil, uint32(v)))
	}
	return Encode(binary.BigEndian.AppendUint64(nil, v))
}

// mul returns a·b modulo the polynomial.
func (g gf2) mul(a, b uint64) uint64 {
	m := uint64(1) << (g.width - 1)
	var p uint64
	for m != 0 {
		if a&m != 0 {
			p ^= b
		}
		m >>= 1
		if b&1 != 0 {
			b = (b >> 1) ^ g.poly
		} else {
			b >>= 1
		}
	}
	return p
}

// xpow8n returns x^(8n) modulo the polynomial, by squaring.
func (g gf2) xpow8n(n int64) uint64 {
	one := uint64(1) << (g.width - 1)
	p := one
	sq := one >> 8 // x^8: the power for one byte
	for n > 0 {
		if n&1 != 0 {
			p = g.mul(sq, p)
		}
		sq = g.mul(sq, sq)
		n >>= 1
	}
	return p
}
