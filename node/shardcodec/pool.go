package shardcodec

import (
	"math/bits"
	"sync"
)

// Pool keeps shard data buffers for reuse: a storage node's read buffers,
// which go back once gRPC has written the ReadChunks that refer to them,
// and a gateway's block buffers between reads. Reuse spares the clearing
// and garbage of a fresh buffer per read; sync.Pool lets the idle ones go
// at garbage collection. It is a mem.BufferPool. The zero Pool is ready.
//
// Sizes are rounded up to classes an eighth of a power of two apart, so a
// frame (a block plus its checksum) wastes at most an eighth of itself.
type Pool struct {
	pools sync.Map // class size → *sync.Pool of *[]byte
}

// minClass is the smallest class: below it a buffer is not worth pooling
// apart from its neighbours.
const minClass = 4 << 10

// class returns the capacity of the buffers that serve n bytes.
func class(n int) int {
	if n <= minClass {
		return minClass
	}
	step := 1 << (bits.Len(uint(n)) - 1) / 8
	return (n + step - 1) / step * step
}

// Get returns a buffer of length n; its bytes are not cleared.
func (p *Pool) Get(n int) *[]byte {
	c := class(n)
	if v, ok := p.pools.Load(c); ok {
		if b, _ := v.(*sync.Pool).Get().(*[]byte); b != nil {
			*b = (*b)[:n]
			return b
		}
	}
	b := make([]byte, n, c)
	return &b
}

// Put takes back a buffer from Get; the caller must not use it again.
func (p *Pool) Put(b *[]byte) {
	c := cap(*b)
	if c != class(c) {
		return // not one of ours: let it go
	}
	v, ok := p.pools.Load(c)
	if !ok {
		v, _ = p.pools.LoadOrStore(c, &sync.Pool{})
	}
	v.(*sync.Pool).Put(b)
}
