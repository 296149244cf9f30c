package objio_test

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/objio"
)

// gatedReader hands out its first n bytes, then waits for open before the
// rest; read counts what it has handed out.
type gatedReader struct {
	r      io.Reader
	n      int64
	read   atomic.Int64
	opened chan struct{} // closed by the test
	begun  chan struct{} // closed at the first read
	once   atomic.Bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.once.CompareAndSwap(false, true) {
		close(g.begun)
	}
	if g.read.Load() >= g.n {
		<-g.opened
	} else {
		p = p[:min(int64(len(p)), g.n-g.read.Load())]
	}
	m, err := g.r.Read(p)
	g.read.Add(int64(m))
	return m, err
}

func newGated(data []byte, n int64) *gatedReader {
	return &gatedReader{r: bytes.NewReader(data), n: n, opened: make(chan struct{}), begun: make(chan struct{})}
}

// TestPutBufferBudget: PUTs share one budget of stripe memory; a PUT that
// does not fit waits before it reads a byte of its body, and runs once the
// holder is done; a waiting PUT whose context ends gives up without
// reading.
func TestPutBufferBudget(t *testing.T) {
	const size = 64 << 10 // four stripes of the small profile
	// Two stripes in flight of 16 KiB data + 8 KiB parity each: room for
	// exactly one such PUT.
	budget := int64(2 * (16 + 8) << 10)
	reg := prometheus.NewRegistry()
	s, _ := newStore(t, 6, func(c *objio.Config) { c.PutBufferBytes = budget; c.Metrics = reg })
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	opts := objio.WriteOptions{Profile: small, Size: size}

	first, second := payload(1, size), payload(2, size)
	a := newGated(first, 16<<10)
	b := newGated(second, size) // never gated
	close(b.opened)
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { _, err := s.WriteBody(context.Background(), a, opts); errA <- err }()
	<-a.begun
	require.Equal(t, float64(budget), gauge("cairn_objio_put_buffer_held_bytes"))
	go func() { _, err := s.WriteBody(context.Background(), b, opts); errB <- err }()

	// A third PUT, whose caller gives up while it waits.
	ctx, cancel := context.WithCancel(context.Background())
	c := newGated(payload(3, size), size)
	close(c.opened)
	errC := make(chan error, 1)
	go func() { _, err := s.WriteBody(ctx, c, opts); errC <- err }()

	require.Eventually(t, func() bool { return gauge("cairn_objio_put_buffer_waiting") == 2 }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, b.read.Load(), "a PUT waiting for stripe memory reads no body")
	cancel()
	require.ErrorIs(t, <-errC, context.Canceled)
	require.Zero(t, c.read.Load())

	close(a.opened)
	require.NoError(t, <-errA)
	require.NoError(t, <-errB)
	require.EqualValues(t, size, b.read.Load())
	require.Zero(t, gauge("cairn_objio_put_buffer_waiting"))
	require.Zero(t, gauge("cairn_objio_put_buffer_held_bytes"))
}

// TestPutBufferLargerThanBudget: a PUT that alone needs more than the whole
// budget still runs, holding all of it.
func TestPutBufferLargerThanBudget(t *testing.T) {
	s, _ := newStore(t, 6, func(c *objio.Config) { c.PutBufferBytes = 1 << 10 })
	data := payload(4, 100<<10)
	put(t, s, small, data)
}
