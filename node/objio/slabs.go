package objio

import (
	"context"
	"fmt"

	"github.com/cairn-io/cairn/erasure"
)

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

// putReservation is the stripe memory a PUT of a body of size bytes (-1:
// unknown) may hold: its slabs, one per stripe in flight, and no more
// stripes than the body has.
func putReservation(p erasure.Profile, size int64, stripesInFlight int) int64 {
	stripeSize := int(p.StripeSize())
	if size < 0 || size >= int64(stripeSize) {
		stripes := int64(stripesInFlight)
		if size >= 0 {
			stripes = min(stripes, (size+int64(stripeSize))/int64(stripeSize))
		}
		return stripes * int64(slabLen(p, stripeSize))
	}
	return int64(slabLen(p, classCap(int(size)+1, stripeSize)))
}

// reservePut waits until the PUT's stripe memory fits the store's budget
// and returns the function that gives it back.
func (s *Store) reservePut(ctx context.Context, p erasure.Profile, size int64) (release func(), err error) {
	if s.putBuf == nil {
		return func() {}, nil
	}
	n := min(putReservation(p, size, s.cfg.StripesInFlight), s.cfg.PutBufferBytes)
	if !s.putBuf.TryAcquire(n) {
		s.putWaiting.Inc()
		err := s.putBuf.Acquire(ctx, n)
		s.putWaiting.Dec()
		if err != nil {
			return nil, fmt.Errorf("objio: wait for stripe memory: %w", err)
		}
	}
	s.putHeld.Add(float64(n))
	return func() {
		s.putHeld.Sub(float64(n))
		s.putBuf.Release(n)
	}, nil
}
