package shardcodec

import (
	"fmt"

	"google.golang.org/grpc/mem"
)

// refs returns references to the next n bytes, which may span several of
// r's buffers, and moves past them. The references are the caller's to
// free; r's buffers keep their own. A piece that is a whole buffer is that
// buffer with one more reference; a part of one is a view of it (Slice,
// never SplitUnsafe: that would shorten the buffer the message's owner
// still holds, which is the same object as a reference taken with Ref).
func (r *reader) refs(n int) (mem.BufferSlice, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("%w: field of %d bytes, %d left", ErrMalformed, n, r.remaining())
	}
	if n == 0 {
		return nil, nil
	}
	// Count the pieces first: one allocation, not one per doubling.
	pieces, left := 0, n
	for j, off := r.i, r.off; left > 0; j, off = j+1, 0 {
		if k := r.bufs[j].Len() - off; k > 0 {
			pieces++
			left -= k
		}
	}
	out := make(mem.BufferSlice, 0, pieces)
	for n > 0 {
		b := r.cur() // not empty: n bytes remain
		k := min(n, len(b))
		out = append(out, r.bufs[r.i].Slice(r.off, r.off+k))
		r.off += k
		n -= k
	}
	return out, nil
}
