package objio

import (
	"sync"

	"github.com/cairn-io/cairn/erasure"
)

// slabPool keeps the slabs of full stripes between PUTs, so that a PUT
// neither allocates nor zeroes its stripe buffers (in a gateway under
// sixteen 1 MiB PUTs, zeroing fresh stripes was 5 % of its CPU). A slab's
// body capacity is a size class (classCap), so that bodies smaller than a
// stripe share slabs too; slabs are pooled by length.
type slabPool struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

func (sp *slabPool) pool(n int) *sync.Pool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.pools == nil {
		sp.pools = map[int]*sync.Pool{}
	}
	p := sp.pools[n]
	if p == nil {
		p = &sync.Pool{}
		sp.pools[n] = p
	}
	return p
}

// classCap is the body capacity of the slab for a body of at least need
// bytes: the next power of two from 64 KiB on, at most a whole stripe.
// A slab is at most about twice what its body needs.
func classCap(need, stripeSize int) int {
	c := 64 << 10
	for c < need && c < stripeSize {
		c *= 2
	}
	return min(c, stripeSize)
}

// get returns a slab for dataCap (a classCap) body bytes of a stripe of
// profile p; a pooled one holds an earlier stripe's bytes, which fill
// overwrites and lay zeroes before they are used.
func (sp *slabPool) get(p erasure.Profile, dataCap int) []byte {
	n := slabLen(p, dataCap)
	if b, ok := sp.pool(n).Get().(*[]byte); ok && len(*b) == n {
		return *b
	}
	return newSlab(p, dataCap)
}

// put keeps a slab whose capacity is a size class; no one may use it
// afterwards.
func (sp *slabPool) put(p erasure.Profile, slab []byte, dataCap int) {
	if dataCap != classCap(dataCap, int(p.StripeSize())) || len(slab) != slabLen(p, dataCap) {
		return
	}
	sp.pool(len(slab)).Put(&slab)
}

func slabLen(p erasure.Profile, dataCap int) int {
	bl := (dataCap + p.K - 1) / p.K
	return slabDataLen(p, dataCap) + p.M*bl
}
