package shardcodec_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/shardcodec"
)

const minClass = 4 << 10

func TestPoolClass(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, minClass},
		{1, minClass},
		{minClass, minClass},
		{minClass + 1, minClass + minClass/8},
		// A 1 MiB frame (block and checksum) costs an eighth more, not
		// twice its size.
		{1<<20 + 4, 1<<20 + 128<<10},
		{256<<10 + 4, 256<<10 + 32<<10},
		{1 << 20, 1 << 20},
		{16<<20 + 4, 18 << 20},
	} {
		got := shardcodec.PoolClass(tc.n)
		require.Equal(t, tc.want, got, "n=%d", tc.n)
		require.GreaterOrEqual(t, got, tc.n)
		require.Equal(t, got, shardcodec.PoolClass(got), "a class is its own class")
	}
}

func TestPoolReuse(t *testing.T) {
	p := &shardcodec.Pool{}
	b := p.Get(1<<20 + 4)
	require.Len(t, *b, 1<<20+4)
	require.Equal(t, shardcodec.PoolClass(1<<20+4), cap(*b))
	p.Put(b)
	// sync.Pool may drop it (a GC between the calls): check only what any
	// buffer it returns must satisfy.
	c := p.Get(1<<20 + 100)
	require.Len(t, *c, 1<<20+100)
	require.Equal(t, shardcodec.PoolClass(1<<20+4), cap(*c))
	p.Put(c)
	odd := make([]byte, 5000)
	p.Put(&odd) // not a class size: dropped, not pooled
	require.Equal(t, shardcodec.PoolClass(5000), cap(*p.Get(5000)))
}

// TestPoolServesGRPCFrames checks the sizes gRPC asks a buffer pool for
// when it reads HTTP/2 data frames (above 1 KiB up to 16 KiB) or gathers
// many small ones: each gets a buffer of its length, at most an eighth
// larger, which comes back to serve the next frame of its class.
func TestPoolServesGRPCFrames(t *testing.T) {
	p := &shardcodec.Pool{}
	for _, n := range []int{1025, 4096, 5000, 9000, 16383, 16384, 57 << 10, 1<<20 + 5} {
		b := p.Get(n)
		require.Len(t, *b, n)
		require.LessOrEqual(t, cap(*b), max(n+n/8, minClass), "n=%d", n)
		// gRPC may put back a shorter slice of the buffer (a padded
		// frame): its capacity still places it in its class.
		*b = (*b)[:n/2]
		p.Put(b)
		c := p.Get(n)
		require.Len(t, *c, n)
		require.Equal(t, shardcodec.PoolClass(n), cap(*c))
	}
}
