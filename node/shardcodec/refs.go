package shardcodec

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// refs takes references to the next n bytes of the message instead of
// copying them: one per received buffer they span, trimmed to the bytes of
// the field (Buffer.Slice, which leaves the received buffer as gRPC holds
// it). The references outlive the received message: gRPC frees its own
// once Unmarshal returns, and the caller frees these. On error it holds
// none.
func (r *reader) refs(n int) (mem.BufferSlice, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("%w: field of %d bytes, %d left", ErrMalformed, n, r.remaining())
	}
	if n == 0 {
		return nil, nil
	}
	pieces, off := 0, r.off
	for j, left := r.i, n; left > 0 && j < len(r.bufs); j++ {
		k := min(r.bufs[j].Len()-off, left)
		if k > 0 {
			pieces++
			left -= k
		}
		off = 0
	}
	out := make(mem.BufferSlice, 0, pieces)
	for n > 0 {
		b := r.cur() // not empty: n bytes remain
		k := min(len(b), n)
		out = append(out, r.bufs[r.i].Slice(r.off, r.off+k))
		r.off += k
		n -= k
	}
	return out, nil
}
