package objio

import "github.com/cairn-io/cairn/erasure"

// A PUT's stripe slabs come from the store's slabs pool (a shardcodec.Pool,
// which does not clear what it lends) and go back to it once no one holds
// them, so that a PUT neither allocates nor zeroes its stripe buffers (in a
// gateway under sixteen 1 MiB PUTs, zeroing fresh stripes was 5 % of its
// CPU). A slab's body capacity is a size class (classCap), so that bodies
// of different sizes below a stripe share slabs too.

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

// getSlab returns a slab for dataCap body bytes of a stripe of profile p;
// a pooled one holds an earlier stripe's bytes, which fill overwrites and
// lay zeroes before they are used.
func (s *Store) getSlab(p erasure.Profile, dataCap int) []byte {
	return *s.slabs.Get(slabLen(p, dataCap))
}

func slabLen(p erasure.Profile, dataCap int) int {
	bl := (dataCap + p.K - 1) / p.K
	return slabDataLen(p, dataCap) + p.M*bl
}
