package meta

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestProposeViaFollowerReadFromAnother(t *testing.T) {
	c := newTestCluster(t, 3, 3, nil)
	leader := c.waitLeader()
	fs := c.followers()
	require.Len(t, fs, 2)
	ctx := ctxTimeout(t, 30*time.Second)

	resp, err := fs[0].client.Propose(ctx, &metapb.ProposeRequest{Command: createBucketCmd("photos")})
	require.NoError(t, err)
	require.Equal(t, metapb.ErrorCode_OK, resp.GetResult().GetCode())

	// Reads are linearizable: the other follower sees the write at once.
	got, err := fs[1].client.GetBucket(ctx, &metapb.GetBucketRequest{Name: "photos"})
	require.NoError(t, err)
	require.Equal(t, metapb.ErrorCode_OK, got.GetCode())
	require.Equal(t, "photos", got.GetBucket().GetName())

	// A second create is a result code, not an RPC error.
	resp, err = fs[1].client.Propose(ctx, &metapb.ProposeRequest{Command: createBucketCmd("photos")})
	require.NoError(t, err)
	require.Equal(t, metapb.ErrorCode_BUCKET_ALREADY_EXISTS, resp.GetResult().GetCode())

	for _, tn := range c.nodes {
		t.Run("reads on "+tn.cfg.NodeID, func(t *testing.T) {
			tests := []struct {
				name     string
				call     func() (metapb.ErrorCode, error)
				wantCode metapb.ErrorCode
			}{
				{name: "missing bucket", wantCode: metapb.ErrorCode_NO_SUCH_BUCKET, call: func() (metapb.ErrorCode, error) {
					r, err := tn.client.GetBucket(ctx, &metapb.GetBucketRequest{Name: "nope"})
					return r.GetCode(), err
				}},
				{name: "object in missing bucket", wantCode: metapb.ErrorCode_NO_SUCH_BUCKET, call: func() (metapb.ErrorCode, error) {
					r, err := tn.client.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "nope", Key: "k"})
					return r.GetCode(), err
				}},
				{name: "missing key", wantCode: metapb.ErrorCode_NO_SUCH_KEY, call: func() (metapb.ErrorCode, error) {
					r, err := tn.client.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "photos", Key: "k"})
					return r.GetCode(), err
				}},
				{name: "list missing bucket", wantCode: metapb.ErrorCode_NO_SUCH_BUCKET, call: func() (metapb.ErrorCode, error) {
					r, err := tn.client.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "nope"})
					return r.GetCode(), err
				}},
				{name: "list empty bucket", wantCode: metapb.ErrorCode_OK, call: func() (metapb.ErrorCode, error) {
					r, err := tn.client.ListObjects(ctx, &metapb.ListObjectsRequest{Bucket: "photos"})
					if err == nil && len(r.GetObjects()) != 0 {
						return 0, fmt.Errorf("unexpected objects %v", r.GetObjects())
					}
					return r.GetCode(), err
				}},
				{name: "list buckets", wantCode: metapb.ErrorCode_OK, call: func() (metapb.ErrorCode, error) {
					r, err := tn.client.ListBuckets(ctx, &metapb.ListBucketsRequest{})
					if err == nil && (len(r.GetBuckets()) != 1 || r.GetBuckets()[0].GetName() != "photos") {
						return 0, fmt.Errorf("unexpected buckets %v", r.GetBuckets())
					}
					return metapb.ErrorCode_OK, err
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, err := tt.call()
					require.NoError(t, err)
					require.Equal(t, tt.wantCode, code)
				})
			}
			st, err := tn.client.Status(ctx, &metapb.StatusRequest{})
			require.NoError(t, err)
			require.Equal(t, tn.cfg.NodeID, st.GetNodeId())
			require.Equal(t, leader.cfg.NodeID, st.GetLeaderId())
			require.Equal(t, leader.cfg.self().GRPCAddr, st.GetLeaderAddr())
			require.ElementsMatch(t, []string{"m0", "m1", "m2"}, st.GetVoters())
			wantState := "Follower"
			if tn == leader {
				wantState = "Leader"
			}
			require.Equal(t, wantState, st.GetRaftState())
		})
	}
}

func TestFailoverAndRestart(t *testing.T) {
	c := newTestCluster(t, 3, 3, nil)
	old := c.waitLeader()
	ctx := ctxTimeout(t, 60*time.Second)
	_, err := old.node.Propose(ctx, createBucketCmd("before"))
	require.NoError(t, err)

	c.stop(old)
	leader := c.waitLeader()
	require.NotSame(t, old, leader)
	for _, tn := range c.running() {
		res, err := tn.node.Propose(ctx, createBucketCmd("after-"+tn.cfg.NodeID))
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, res.GetCode())
	}

	// The old leader comes back with its data directory and catches up.
	c.restart(old)
	waitFor(t, 30*time.Second, "restarted node to apply what it missed", func() bool {
		bs, err := old.node.fsm.ListBuckets()
		require.NoError(t, err)
		return len(bs) == 3
	})
	got, err := old.client.GetBucket(ctx, &metapb.GetBucketRequest{Name: "before"})
	require.NoError(t, err)
	require.Equal(t, metapb.ErrorCode_OK, got.GetCode())
}

func TestConcurrentProposes(t *testing.T) {
	c := newTestCluster(t, 3, 3, nil)
	c.waitLeader()
	ctx := ctxTimeout(t, 60*time.Second)
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tn := c.nodes[i%len(c.nodes)]
			cmd := createBucketCmd(fmt.Sprintf("b%02d", i))
			var res *metapb.CommandResult
			if i%2 == 0 {
				res, errs[i] = tn.node.Propose(ctx, cmd)
			} else {
				var resp *metapb.ProposeResponse
				resp, errs[i] = tn.client.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
				res = resp.GetResult()
			}
			if errs[i] == nil && res.GetCode() != metapb.ErrorCode_OK {
				errs[i] = fmt.Errorf("code %v: %s", res.GetCode(), res.GetMessage())
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "propose %d", i)
	}
	resp, err := c.nodes[0].client.ListBuckets(ctx, &metapb.ListBucketsRequest{})
	require.NoError(t, err)
	require.Len(t, resp.GetBuckets(), n)
}

func TestHeartbeatLiveness(t *testing.T) {
	clock := newFakeClock()
	const timeout = 3 * time.Second
	c := newTestCluster(t, 3, 3, func(_ int, cfg *Config) {
		cfg.Now = clock.Now
		cfg.NodeTimeout = timeout
	})
	c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	f := c.followers()[0]

	hb := &metapb.HeartbeatRequest{Node: &metapb.Node{
		NodeId: "s1", Addr: "127.0.0.1:1", Drives: []*metapb.Drive{{DriveId: "d1"}},
	}}
	stamped := clock.Now()
	resp, err := f.client.Heartbeat(ctx, hb)
	require.NoError(t, err)
	require.NotZero(t, resp.GetEpoch())

	nodeUp := func(tn *testNode) bool {
		m, err := tn.client.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
		require.NoError(t, err)
		require.Len(t, m.GetMap().GetNodes(), 1)
		n := m.GetMap().GetNodes()[0]
		require.Equal(t, stamped.UnixNano(), n.GetLastHeartbeatUnixNano(), "stamped by the leader's clock")
		return n.GetUp()
	}
	tests := []struct {
		name    string
		advance time.Duration
		wantUp  bool
	}{
		{name: "fresh", advance: 0, wantUp: true},
		{name: "just inside the timeout", advance: timeout - time.Nanosecond, wantUp: true},
		{name: "at the timeout", advance: time.Nanosecond, wantUp: false},
		{name: "long gone", advance: time.Hour, wantUp: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			for _, tn := range c.nodes {
				require.Equal(t, tt.wantUp, nodeUp(tn), "map served via %s", tn.cfg.NodeID)
			}
		})
	}

	// A new heartbeat brings it back.
	stamped = clock.Now()
	resp2, err := c.nodes[0].client.Heartbeat(ctx, hb)
	require.NoError(t, err)
	require.Equal(t, resp.GetEpoch(), resp2.GetEpoch(), "same node and drives do not move the epoch")
	require.True(t, nodeUp(c.nodes[1]))
}

// TestHeartbeatTimeoutRealClock checks the default clock end to end: a node
// that stops heartbeating is reported down once NodeTimeout has passed.
func TestHeartbeatTimeoutRealClock(t *testing.T) {
	c := newTestCluster(t, 1, 1, func(_ int, cfg *Config) { cfg.NodeTimeout = 200 * time.Millisecond })
	tn := c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	_, err := tn.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: "s1", Addr: "127.0.0.1:1"}})
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "node to be reported down", func() bool {
		m, err := tn.client.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
		require.NoError(t, err)
		return !m.GetMap().GetNodes()[0].GetUp()
	})
}

func TestNoLeaderIsUnavailable(t *testing.T) {
	// One of three voters cannot elect itself.
	c := newTestCluster(t, 3, 1, nil)
	tn := c.nodes[0]
	// Call the handlers in process: the code they return does not depend
	// on how fast it travels back.
	svc := &service{n: tn.node}
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{name: "propose", call: func(ctx context.Context) error {
			_, err := svc.Propose(ctx, &metapb.ProposeRequest{Command: createBucketCmd("x")})
			return err
		}},
		{name: "get bucket", call: func(ctx context.Context) error {
			_, err := svc.GetBucket(ctx, &metapb.GetBucketRequest{Name: "x"})
			return err
		}},
		{name: "get cluster map", call: func(ctx context.Context) error {
			_, err := svc.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
			return err
		}},
		{name: "heartbeat", call: func(ctx context.Context) error {
			_, err := svc.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: "s"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := tt.call(ctx)
			require.Equal(t, codes.Unavailable, status.Code(err), "err: %v", err)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := tn.node.Propose(ctx, createBucketCmd("x"))
	require.ErrorIs(t, err, ErrNoLeader)

	// Over the wire as well; the client may hit its own deadline first,
	// but never gets anything but "try again".
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	_, err = tn.client.GetBucket(ctx2, &metapb.GetBucketRequest{Name: "x"})
	require.Contains(t, []codes.Code{codes.Unavailable, codes.DeadlineExceeded}, status.Code(err), "err: %v", err)

	st, err := tn.client.Status(ctxTimeout(t, 10*time.Second), &metapb.StatusRequest{})
	require.NoError(t, err)
	require.Empty(t, st.GetLeaderId())
	require.NotEqual(t, "Leader", st.GetRaftState())
}

func TestClosedNode(t *testing.T) {
	c := newTestCluster(t, 1, 1, nil)
	tn := c.waitLeader()
	n := tn.node
	c.stop(tn)
	require.NoError(t, n.Close(), "close is idempotent")
	_, err := n.Propose(ctxTimeout(t, 10*time.Second), createBucketCmd("x"))
	require.ErrorIs(t, err, ErrClosed)
}

func TestNewFailsCleanly(t *testing.T) {
	c := newTestCluster(t, 1, 1, nil)
	running := c.waitLeader()
	tests := []struct {
		name   string
		mutate func(cfg *Config)
	}{
		{name: "invalid config", mutate: func(cfg *Config) { cfg.NodeID = "" }},
		// The running node holds the stores' locks.
		{name: "data dir in use", mutate: func(*Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			cfg := running.cfg
			cfg.RaftListener = lis
			tt.mutate(&cfg)
			n, err := New(context.Background(), cfg)
			require.Error(t, err)
			require.Nil(t, n)
			_, err = lis.Accept()
			require.ErrorIs(t, err, net.ErrClosed, "New closes the listener it was given")
		})
	}
	// The running node is unaffected.
	_, err := running.node.Propose(ctxTimeout(t, 10*time.Second), createBucketCmd("still-works"))
	require.NoError(t, err)
}
