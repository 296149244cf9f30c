package metaclient

import (
	"context"
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

// hangMeta is an in-process meta node. When hung, every call blocks until
// its context ends, as a stopped process or a partition that drops packets
// does; the cancellation is counted.
type hangMeta struct {
	metapb.MetaClient // nil: methods not overridden panic
	addr              string
	leader            atomic.Pointer[string]
	hang              atomic.Bool
	calls, cancelled  atomic.Int64
	proposals         atomic.Int64
}

func (h *hangMeta) wait(ctx context.Context) error {
	h.calls.Add(1)
	if !h.hang.Load() {
		return nil
	}
	<-ctx.Done()
	h.cancelled.Add(1)
	return status.FromContextError(ctx.Err()).Err()
}

func (h *hangMeta) Status(ctx context.Context, _ *metapb.StatusRequest, _ ...grpc.CallOption) (*metapb.StatusResponse, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	resp := &metapb.StatusResponse{NodeId: h.addr}
	if l := h.leader.Load(); l != nil {
		resp.LeaderAddr = *l
	}
	return resp, nil
}

func (h *hangMeta) GetBucket(ctx context.Context, in *metapb.GetBucketRequest, _ ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	return &metapb.GetBucketResponse{Bucket: &metapb.Bucket{Name: in.GetName(), Owner: h.addr}}, nil
}

func (h *hangMeta) Propose(ctx context.Context, _ *metapb.ProposeRequest, _ ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	if err := h.wait(ctx); err != nil {
		return nil, err
	}
	h.proposals.Add(1)
	return &metapb.ProposeResponse{}, nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newHung(t *testing.T, clock *fakeClock, n int) (*Client, []*hangMeta) {
	t.Helper()
	var (
		fakes   []*hangMeta
		clients []metapb.MetaClient
		addrs   []string
	)
	for i := range n {
		f := &hangMeta{addr: string(rune('a' + i))}
		fakes = append(fakes, f)
		clients = append(clients, f)
		addrs = append(addrs, f.addr)
	}
	c := start(Config{
		Addrs:                 addrs,
		ReadTimeout:           10 * time.Second,
		ProposeTimeout:        10 * time.Second,
		AttemptTimeout:        20 * time.Millisecond,
		ProposeAttemptTimeout: 20 * time.Millisecond,
		AvoidFor:              time.Minute,
		LeaderRefresh:         time.Hour,
		Now:                   clock.Now,
	}, clients)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c, fakes
}

func bucketOwner(t *testing.T, c *Client) string {
	t.Helper()
	resp, err := c.GetBucket(context.Background(), &metapb.GetBucketRequest{Name: "b"})
	require.NoError(t, err)
	return resp.GetBucket().GetOwner()
}

func TestHungNodeAbandonedAndAvoided(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	c, fakes := newHung(t, clock, 3)
	fakes[0].hang.Store(true)

	// The first call gives up on a (its attempt is cancelled) and is
	// served by b, although the caller set no deadline.
	require.Equal(t, "b", bucketOwner(t, c))
	require.GreaterOrEqual(t, fakes[0].cancelled.Load(), int64(1))

	// Later calls avoid a: it is not asked again while avoided.
	asked := fakes[0].calls.Load()
	for range 5 {
		require.Equal(t, "b", bucketOwner(t, c))
	}
	_, err := c.Propose(context.Background(), &metapb.ProposeRequest{})
	require.NoError(t, err)
	require.Equal(t, asked, fakes[0].calls.Load(), "an avoided node was tried first")

	// Once forgiven and recovered, a is usable again (after b fails).
	fakes[0].hang.Store(false)
	clock.Add(2 * time.Minute)
	fakes[1].hang.Store(true)
	fakes[2].hang.Store(true)
	owner := bucketOwner(t, c)
	require.Equal(t, "a", owner)
}

func TestPrefersLeader(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	c, fakes := newHung(t, clock, 3)
	leader := "c"
	for _, f := range fakes {
		f.leader.Store(&leader)
	}
	c.kickLeader()
	require.Eventually(t, func() bool {
		l, ok := c.Leader()
		return ok && l == "c"
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, "c", bucketOwner(t, c))

	// The leader hangs: the call fails over, and the hung leader is no
	// longer preferred.
	fakes[2].hang.Store(true)
	got := bucketOwner(t, c)
	require.NotEqual(t, "c", got)
	require.Equal(t, got, bucketOwner(t, c))
}

func TestEveryNodeHungIsBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	var clients []metapb.MetaClient
	var fakes []*hangMeta
	for _, a := range []string{"a", "b", "c"} {
		f := &hangMeta{addr: a}
		f.hang.Store(true)
		fakes = append(fakes, f)
		clients = append(clients, f)
	}
	c := start(Config{
		Addrs:          []string{"a", "b", "c"},
		ReadTimeout:    100 * time.Millisecond,
		ProposeTimeout: 100 * time.Millisecond,
		AttemptTimeout: 10 * time.Millisecond,
		LeaderRefresh:  time.Hour,
		Now:            clock.Now,
	}, clients)
	t.Cleanup(func() { require.NoError(t, c.Close()) })

	for name, do := range map[string]func() error{
		"read": func() error {
			_, err := c.GetBucket(context.Background(), &metapb.GetBucketRequest{Name: "x"})
			return err
		},
		"propose": func() error {
			_, err := c.Propose(context.Background(), &metapb.ProposeRequest{})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := do()
			require.Equal(t, codes.DeadlineExceeded, status.Code(err), "err: %v", err)
		})
	}
	for _, f := range fakes {
		require.Positive(t, f.cancelled.Load(), "node %s was never tried", f.addr)
	}
	require.Zero(t, fakes[0].proposals.Load()+fakes[1].proposals.Load()+fakes[2].proposals.Load())
}

func TestConfigValidate(t *testing.T) {
	require.ErrorIs(t, Config{}.Validate(), ErrNoAddrs)
	require.ErrorIs(t, Config{Addrs: []string{"x"}, ReadTimeout: -1}.Validate(), ErrInvalidConfig)
	require.NoError(t, Config{Addrs: []string{"x"}}.Validate())
}
