package bucketcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// step is what the fake stream's next Recv returns.
type step struct {
	ev  *metapb.BucketsEvent
	err error
}

// fakeStream hands out the steps the test feeds it. Each Recv first
// announces itself on asked, so a test that sees the next Recv knows the
// cache has finished with the previous event.
type fakeStream struct {
	grpc.ClientStream
	ctx   context.Context
	steps chan step
	asked chan struct{}
}

func (s *fakeStream) Recv() (*metapb.BucketsEvent, error) {
	select {
	case s.asked <- struct{}{}:
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
	select {
	case st := <-s.steps:
		return st.ev, st.err
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// fakeWatcher opens streams that share the test's channels.
type fakeWatcher struct {
	steps  chan step
	asked  chan struct{}
	opened atomic.Int32
}

func newFakeWatcher() *fakeWatcher {
	return &fakeWatcher{steps: make(chan step), asked: make(chan struct{})}
}

func (w *fakeWatcher) WatchBuckets(ctx context.Context, _ *metapb.WatchBucketsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BucketsEvent], error) {
	w.opened.Add(1)
	return &fakeStream{ctx: ctx, steps: w.steps, asked: w.asked}, nil
}

// send delivers one step and waits until the cache asks for the next,
// that is, until it has acted on this one.
func (w *fakeWatcher) send(t *testing.T, st step) {
	t.Helper()
	<-w.asked
	w.steps <- st
	<-w.asked
	// Give the Recv back: the next send waits for it again.
	go func() { w.asked <- struct{}{} }()
}

// clock is a settable clock for the lease.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func progress(changed uint64, reset bool) step {
	// A long interval: the lease is driven by the test's clock only.
	return step{ev: &metapb.BucketsEvent{ChangedIndex: changed, Reset_: reset, ProgressIntervalMs: 3_600_000}}
}

func start(t *testing.T) (*Cache, *fakeWatcher, *clock, *atomic.Int32) {
	t.Helper()
	w := newFakeWatcher()
	clk := &clock{now: time.Unix(1000, 0)}
	c, err := New(Config{Meta: w, Now: clk.Now, RetryMin: time.Millisecond, RetryMax: time.Millisecond})
	require.NoError(t, err)
	var hooks atomic.Int32
	c.OnInvalidate(func() { hooks.Add(1) })
	c.Start()
	t.Cleanup(c.Close)
	return c, w, clk, &hooks
}

// fill looks name up (a miss) and stores a bucket as the gateway would
// after its linearizable read.
func fill(t *testing.T, c *Cache, name string) {
	t.Helper()
	_, gen, ok := c.Lookup(name)
	require.False(t, ok)
	require.NotZero(t, gen, "cache not in use")
	c.Store(name, &metapb.Bucket{Name: name}, gen)
	b, _, ok := c.Lookup(name)
	require.True(t, ok)
	require.Equal(t, name, b.GetName())
}

func TestNotUsedBeforeReset(t *testing.T) {
	c, _, _, _ := start(t)
	_, gen, ok := c.Lookup("b")
	require.False(t, ok)
	require.Zero(t, gen)
	c.Store("b", &metapb.Bucket{Name: "b"}, 1)
	_, _, ok = c.Lookup("b")
	require.False(t, ok)
}

func TestInvalidation(t *testing.T) {
	tests := []struct {
		name    string
		event   func(c *Cache, w *fakeWatcher, t *testing.T)
		kept    bool
		hookRun bool
	}{
		{"progress without change keeps entries", func(c *Cache, w *fakeWatcher, t *testing.T) { w.send(t, progress(5, false)) }, true, false},
		{"change drops entries", func(c *Cache, w *fakeWatcher, t *testing.T) { w.send(t, progress(6, false)) }, false, true},
		{"reset drops entries", func(c *Cache, w *fakeWatcher, t *testing.T) { w.send(t, progress(5, true)) }, false, true},
		{"own invalidation drops entries", func(c *Cache, w *fakeWatcher, t *testing.T) { c.Invalidate() }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w, _, hooks := start(t)
			w.send(t, progress(5, true))
			fill(t, c, "b")
			before := hooks.Load()
			tt.event(c, w, t)
			_, _, ok := c.Lookup("b")
			require.Equal(t, tt.kept, ok)
			require.Equal(t, tt.hookRun, hooks.Load() > before)
		})
	}
}

// TestStoreAfterChangeIsDropped: a linearizable read that raced a change
// (looked up before the change event, stored after it) installs nothing.
func TestStoreAfterChangeIsDropped(t *testing.T) {
	c, w, _, _ := start(t)
	w.send(t, progress(5, true))
	_, gen, ok := c.Lookup("b")
	require.False(t, ok)
	w.send(t, progress(9, false))
	c.Store("b", &metapb.Bucket{Name: "b", Policy: "old"}, gen)
	_, _, ok = c.Lookup("b")
	require.False(t, ok)
}

// TestWatchGapFallsBack: when the stream fails the cache is dropped and
// not used (callers read linearizably) until a new stream sends its reset.
func TestWatchGapFallsBack(t *testing.T) {
	c, w, _, hooks := start(t)
	w.send(t, progress(5, true))
	fill(t, c, "b")
	before := hooks.Load()
	<-w.asked
	w.steps <- step{err: status.Error(codes.Unavailable, "leadership lost")}
	// The failed stream is replaced: the new one's first Recv.
	<-w.asked
	require.Equal(t, int32(2), w.opened.Load())
	_, gen, ok := c.Lookup("b")
	require.False(t, ok)
	require.Zero(t, gen, "cache used without a watch")
	require.Greater(t, hooks.Load(), before)
	go func() { w.asked <- struct{}{} }()
	w.send(t, progress(7, true))
	fill(t, c, "b")
}

// TestLeaseLapse: a stream that goes silent stops the cache from being
// used once the lease is over, although the stream has not failed.
func TestLeaseLapse(t *testing.T) {
	c, w, clk, _ := start(t)
	w.send(t, progress(5, true))
	fill(t, c, "b")
	clk.add(3*time.Hour + time.Second) // 3 intervals of an hour
	_, gen, ok := c.Lookup("b")
	require.False(t, ok)
	require.Zero(t, gen)
	w.send(t, progress(5, false))
	_, _, ok = c.Lookup("b")
	require.True(t, ok, "a progress event renews the lease")
}

func TestFirstEventMustBeReset(t *testing.T) {
	c, w, _, _ := start(t)
	<-w.asked
	w.steps <- progress(5, false)
	<-w.asked // a new stream
	require.Equal(t, int32(2), w.opened.Load())
	_, gen, _ := c.Lookup("b")
	require.Zero(t, gen)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no meta", Config{}},
		{"negative lease", Config{Meta: newFakeWatcher(), Lease: -1}},
		{"retry bounds inverted", Config{Meta: newFakeWatcher(), RetryMin: time.Second, RetryMax: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.True(t, errors.Is(tt.cfg.Validate(), ErrInvalidConfig))
		})
	}
	ok := Config{Meta: newFakeWatcher()}
	require.NoError(t, ok.Validate())
}

// TestLookupReturnsACopy: a request that changes the bucket it was given
// does not change the cache.
func TestLookupReturnsACopy(t *testing.T) {
	c, w, _, _ := start(t)
	w.send(t, progress(5, true))
	_, gen, _ := c.Lookup("b")
	stored := &metapb.Bucket{Name: "b", Policy: "p"}
	c.Store("b", stored, gen)
	stored.Policy = "changed by the reader"
	got, _, ok := c.Lookup("b")
	require.True(t, ok)
	require.Equal(t, "p", got.GetPolicy())
	got.Policy = "changed by a request"
	again, _, _ := c.Lookup("b")
	require.Equal(t, "p", again.GetPolicy())
}
