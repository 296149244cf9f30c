package erasure

import (
	"errors"
	"fmt"

	"github.com/klauspost/reedsolomon"
)

// Coder encodes and reconstructs single stripes of one Profile.
//
// A Coder is NOT safe for concurrent use: the underlying encoder keeps
// per-instance scratch state. Give each pipeline its own Coder; creating one
// is cheap next to the data it codes.
type Coder struct {
	p  Profile
	rs reedsolomon.Encoder // nil when M == 0: there is nothing to code
}

// NewCoder returns a Coder for p, which must be valid.
func NewCoder(p Profile) (*Coder, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Coder{p: p}
	if p.M > 0 {
		rs, err := reedsolomon.New(p.K, p.M)
		if err != nil {
			return nil, fmt.Errorf("erasure: new coder %s: %w", p, err)
		}
		c.rs = rs
	}
	return c, nil
}

// Profile returns the profile c codes.
func (c *Coder) Profile() Profile { return c.p }

// EncodeStripe splits data (1..StripeSize bytes) into K data blocks of
// ceil(len(data)/K) bytes, zero-padding the last, and computes the M parity
// blocks. shards must have length K+M; each entry is reused when its capacity
// suffices and is allocated otherwise, and is resliced to the block length.
// The returned slice is shards.
func (c *Coder) EncodeStripe(data []byte, shards [][]byte) ([][]byte, error) {
	k, total := c.p.K, c.p.Shards()
	if len(data) == 0 || int64(len(data)) > c.p.StripeSize() {
		return nil, fmt.Errorf("%w: stripe of %d bytes, want 1..%d", ErrInvalidInput, len(data), c.p.StripeSize())
	}
	if len(shards) != total {
		return nil, fmt.Errorf("%w: %d shard buffers, want %d", ErrInvalidInput, len(shards), total)
	}
	blockLen := (len(data) + k - 1) / k
	for i := range shards {
		if cap(shards[i]) < blockLen {
			shards[i] = make([]byte, blockLen)
		} else {
			shards[i] = shards[i][:blockLen]
		}
	}
	for i := range k {
		n := copy(shards[i], data[min(i*blockLen, len(data)):])
		// Reused buffers hold the previous stripe; padding must be zero
		// because parity is computed over it.
		clear(shards[i][n:])
	}
	if c.rs == nil {
		return shards, nil
	}
	if err := c.rs.Encode(shards); err != nil {
		return nil, fmt.Errorf("erasure: encode %s stripe of %d bytes: %w", c.p, len(data), err)
	}
	return shards, nil
}

// EncodeParity computes the M parity blocks for data blocks the caller has
// already placed in shards[:K], all of the same non-zero length (at most
// BlockSize, padding already zeroed). It saves EncodeStripe's copy, which at
// memory bandwidth costs several times the coding itself, when a pipeline
// reads the body straight into block buffers. Parity buffers are reused or
// allocated as in EncodeStripe. The returned slice is shards.
func (c *Coder) EncodeParity(shards [][]byte) ([][]byte, error) {
	k, total := c.p.K, c.p.Shards()
	if len(shards) != total {
		return nil, fmt.Errorf("%w: %d shard buffers, want %d", ErrInvalidInput, len(shards), total)
	}
	blockLen := len(shards[0])
	if blockLen == 0 || blockLen > c.p.BlockSize {
		return nil, fmt.Errorf("%w: block of %d bytes, want 1..%d", ErrInvalidInput, blockLen, c.p.BlockSize)
	}
	for i := 1; i < k; i++ {
		if len(shards[i]) != blockLen {
			return nil, fmt.Errorf("%w: data block %d has %d bytes, block 0 has %d", ErrInvalidInput, i, len(shards[i]), blockLen)
		}
	}
	for i := k; i < total; i++ {
		if cap(shards[i]) < blockLen {
			shards[i] = make([]byte, blockLen)
		} else {
			shards[i] = shards[i][:blockLen]
		}
	}
	if c.rs == nil {
		return shards, nil
	}
	if err := c.rs.Encode(shards); err != nil {
		return nil, fmt.Errorf("erasure: encode %s blocks of %d bytes: %w", c.p, blockLen, err)
	}
	return shards, nil
}

// ReconstructData rebuilds the missing data shards of one stripe in place.
// shards must have length K+M; an entry that is nil or empty is missing and
// its capacity is reused when large enough. All present shards must have the
// same length. Missing parity shards are left missing. If more than M shards
// are missing the error wraps ErrTooFewShards.
func (c *Coder) ReconstructData(shards [][]byte) error {
	k, total := c.p.K, c.p.Shards()
	if len(shards) != total {
		return fmt.Errorf("%w: %d shards, want %d", ErrInvalidInput, len(shards), total)
	}
	present, dataPresent, blockLen := 0, 0, -1
	for i, s := range shards {
		if len(s) == 0 {
			continue
		}
		if blockLen >= 0 && len(s) != blockLen {
			return fmt.Errorf("%w: shard %d has %d bytes, others %d", ErrInvalidInput, i, len(s), blockLen)
		}
		blockLen = len(s)
		present++
		if i < k {
			dataPresent++
		}
	}
	if dataPresent == k {
		return nil
	}
	if present < k {
		return fmt.Errorf("%w: %d of %d shards present, need %d", ErrTooFewShards, present, total, k)
	}
	if err := c.rs.ReconstructData(shards); err != nil {
		if errors.Is(err, reedsolomon.ErrTooFewShards) {
			return fmt.Errorf("%w: %v", ErrTooFewShards, err)
		}
		return fmt.Errorf("erasure: reconstruct %s stripe: %w", c.p, err)
	}
	return nil
}

// AppendData appends the first n object bytes held by the K data blocks of a
// stripe, in order, to dst and returns the extended slice. n is normally
// StripeDataLen of the stripe, which trims the padding. The data shards must
// be present (see ReconstructData); if a data block is missing or shorter
// than the first, AppendData stops there and appends fewer than n bytes, so
// callers can detect it by length rather than receive shifted data.
func (c *Coder) AppendData(dst []byte, shards [][]byte, n int) []byte {
	if len(shards) < c.p.K || n <= 0 {
		return dst
	}
	blockLen := len(shards[0])
	for _, s := range shards[:c.p.K] {
		want := min(n, blockLen)
		if want == 0 || len(s) < want {
			break
		}
		dst = append(dst, s[:want]...)
		n -= want
	}
	return dst
}
