package erasure

import (
	"errors"
	"fmt"
)

// MaxBlockSize bounds Profile.BlockSize so that a stripe's buffers stay
// small enough to hold one per in-flight request and a block length always
// fits the 32-bit fields of the shard framing and the wire protocol.
const MaxBlockSize = 16 << 20

// BlockAlign is the granularity of Profile.BlockSize. Full-stripe blocks that
// are multiples of 64 bytes keep the SIMD coding kernels on their fast path.
const BlockAlign = 64

// MaxShards is the largest K+M the GF(2^8) Reed-Solomon code supports.
const MaxShards = 256

var (
	// ErrInvalidProfile reports a Profile that fails Validate.
	ErrInvalidProfile = errors.New("erasure: invalid profile")
	// ErrTooFewShards reports that more than M shards of a stripe are
	// missing, so its data cannot be rebuilt.
	ErrTooFewShards = errors.New("erasure: too few shards to reconstruct")
	// ErrInvalidInput reports arguments that do not fit the profile, such as
	// a stripe larger than StripeSize or shards of unequal length.
	ErrInvalidInput = errors.New("erasure: invalid input")
)

// Profile is an erasure profile: K data shards, M parity shards and the
// per-shard block size of a full stripe.
type Profile struct {
	K, M      int
	BlockSize int
}

// Validate reports whether p can be used: 1 <= K, 0 <= M, K+M <= MaxShards,
// and 0 < BlockSize <= MaxBlockSize with BlockSize a multiple of BlockAlign.
// The returned error wraps ErrInvalidProfile.
func (p Profile) Validate() error {
	switch {
	case p.K < 1:
		return fmt.Errorf("%w: K=%d, need at least 1 data shard", ErrInvalidProfile, p.K)
	case p.M < 0:
		return fmt.Errorf("%w: M=%d is negative", ErrInvalidProfile, p.M)
	case p.K+p.M > MaxShards:
		return fmt.Errorf("%w: K+M=%d exceeds %d", ErrInvalidProfile, p.K+p.M, MaxShards)
	case p.BlockSize <= 0 || p.BlockSize > MaxBlockSize:
		return fmt.Errorf("%w: block size %d outside (0, %d]", ErrInvalidProfile, p.BlockSize, MaxBlockSize)
	case p.BlockSize%BlockAlign != 0:
		return fmt.Errorf("%w: block size %d is not a multiple of %d", ErrInvalidProfile, p.BlockSize, BlockAlign)
	}
	return nil
}

// String formats p as "K+M/BlockSize", e.g. "4+2/1048576".
func (p Profile) String() string {
	return fmt.Sprintf("%d+%d/%d", p.K, p.M, p.BlockSize)
}

// Shards returns K+M, the number of shards of every stripe.
func (p Profile) Shards() int { return p.K + p.M }

// StripeSize returns the number of object bytes in a full stripe.
func (p Profile) StripeSize() int64 { return int64(p.K) * int64(p.BlockSize) }

// StripeCount returns the number of stripes of an object of size bytes.
func (p Profile) StripeCount(size int64) int64 {
	if size <= 0 {
		return 0
	}
	ss := p.StripeSize()
	return (size + ss - 1) / ss
}

// StripeDataLen returns the number of object bytes held by stripe, or 0 if
// the stripe lies outside the object.
func (p Profile) StripeDataLen(size, stripe int64) int64 {
	if stripe < 0 || size <= 0 {
		return 0
	}
	ss := p.StripeSize()
	start := stripe * ss
	if start >= size {
		return 0
	}
	return min(ss, size-start)
}

// BlockLen returns the length of each of the K+M blocks of stripe: BlockSize
// for a full stripe, ceil(L/K) for a last stripe of L bytes, 0 outside the
// object.
func (p Profile) BlockLen(size, stripe int64) int {
	n := p.StripeDataLen(size, stripe)
	return int((n + int64(p.K) - 1) / int64(p.K))
}

// ShardSize returns the total length of each shard of an object of size
// bytes; every shard of an object has the same length.
func (p Profile) ShardSize(size int64) int64 {
	stripes := p.StripeCount(size)
	if stripes == 0 {
		return 0
	}
	return (stripes-1)*int64(p.BlockSize) + int64(p.BlockLen(size, stripes-1))
}

// ShardOffset returns where stripe's block starts within every shard.
func (p Profile) ShardOffset(stripe int64) int64 { return stripe * int64(p.BlockSize) }

// StripeSpan returns the first and last (inclusive) stripes holding object
// bytes [off, off+length), with the range clipped to the object. An empty
// result (length <= 0, off < 0, or off at or past the end) is reported as
// first > last, namely (0, -1), so a loop from first to last runs zero times.
func (p Profile) StripeSpan(size, off, length int64) (first, last int64) {
	if off < 0 || length <= 0 || off >= size {
		return 0, -1
	}
	end := size
	if length < size-off {
		end = off + length
	}
	ss := p.StripeSize()
	return off / ss, (end - 1) / ss
}
