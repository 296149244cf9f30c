package storage

import (
	"math/bits"
	"sync"
)

// readBuffers lends ReadShard the buffers it reads frames into and sends
// from. A buffer goes back once gRPC has written the messages that refer
// to it (see shardcodec.ReadChunk), so memory in use is bounded by the
// reads in flight; the pooling spares the clearing and garbage of a fresh
// buffer per read. It is a bitrot.Buffers and a mem.BufferPool.
//
// Sizes are rounded up to classes an eighth of a power of two apart, so a
// frame (a block plus its checksum) wastes at most an eighth of itself.
type readBuffers struct {
	pools sync.Map // class size → *sync.Pool of *[]byte
}

// minReadClass is the smallest class: below it a buffer is not worth
// pooling apart from its neighbours.
const minReadClass = 4 << 10

var readPool = &readBuffers{}

// readClass returns the capacity of the buffers that serve n bytes.
func readClass(n int) int {
	if n <= minReadClass {
		return minReadClass
	}
	step := 1 << (bits.Len(uint(n)) - 1) / 8
	return (n + step - 1) / step * step
}

// Get returns a buffer of length n; its bytes are not cleared.
func (p *readBuffers) Get(n int) *[]byte {
	c := readClass(n)
	if v, ok := p.pools.Load(c); ok {
		if b, _ := v.(*sync.Pool).Get().(*[]byte); b != nil {
			*b = (*b)[:n]
			return b
		}
	}
	b := make([]byte, n, c)
	return &b
}

// Put takes back a buffer from Get.
func (p *readBuffers) Put(b *[]byte) {
	c := cap(*b)
	if c != readClass(c) {
		return // not one of ours: let it go
	}
	v, ok := p.pools.Load(c)
	if !ok {
		v, _ = p.pools.LoadOrStore(c, &sync.Pool{})
	}
	v.(*sync.Pool).Put(b)
}
