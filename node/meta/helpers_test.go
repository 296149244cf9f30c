package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairn-io/cairn/proto/metapb"
)

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// fakeClock is a settable clock shared by a test cluster.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testNode is one meta node with its own gRPC server on loopback.
type testNode struct {
	cfg    Config
	node   *Node
	srv    *grpc.Server
	served chan error
	client metapb.MetaClient
	conn   *grpc.ClientConn
}

type testCluster struct {
	t     testing.TB
	nodes []*testNode
}

// clusterOpts adjusts every node's Config before start.
type clusterOpts func(i int, c *Config)

// newTestCluster starts n meta nodes (raft over TCP, gRPC on 127.0.0.1)
// and stops them when the test ends. Only the first `start` nodes are
// started; the others are configured peers that stay down.
func newTestCluster(t testing.TB, n, start int, opt clusterOpts) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	var peers []Peer
	var raftLis, grpcLis []net.Listener
	for i := range n {
		rl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		gl, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		raftLis, grpcLis = append(raftLis, rl), append(grpcLis, gl)
		peers = append(peers, Peer{ID: fmt.Sprintf("m%d", i), RaftAddr: rl.Addr().String(), GRPCAddr: gl.Addr().String()})
	}
	for i := range n {
		cfg := Config{
			NodeID:       peers[i].ID,
			DataDir:      filepath.Join(t.TempDir(), peers[i].ID),
			RaftBind:     peers[i].RaftAddr,
			RaftListener: raftLis[i],
			Peers:        peers,
			Logger:       testLogger(t).With("test_node", peers[i].ID),
		}
		if opt != nil {
			opt(i, &cfg)
		}
		tn := &testNode{cfg: cfg}
		c.nodes = append(c.nodes, tn)
		if i < start {
			c.startNode(tn, grpcLis[i])
		} else {
			require.NoError(t, raftLis[i].Close())
			require.NoError(t, grpcLis[i].Close())
		}
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			c.stop(tn)
		}
	})
	return c
}

func (c *testCluster) startNode(tn *testNode, grpcLis net.Listener) {
	t := c.t
	t.Helper()
	n, err := New(context.Background(), tn.cfg)
	require.NoError(t, err)
	tn.node = n
	tn.srv = grpc.NewServer()
	n.Register(tn.srv)
	tn.served = make(chan error, 1)
	go func() { tn.served <- tn.srv.Serve(grpcLis) }()
	tn.conn, err = grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	tn.client = metapb.NewMetaClient(tn.conn)
}

// stop shuts a node down as a crash would look to its peers, and joins
// its gRPC server.
func (c *testCluster) stop(tn *testNode) {
	t := c.t
	t.Helper()
	if tn.node == nil {
		return
	}
	tn.srv.Stop()
	// A node stopped right after it started may stop its server before
	// Serve ran; Serve then reports just that.
	if err := <-tn.served; !errors.Is(err, grpc.ErrServerStopped) {
		require.NoError(t, err)
	}
	require.NoError(t, tn.conn.Close())
	require.NoError(t, tn.node.Close())
	tn.node = nil
}

// restart starts a stopped node again on the same addresses and data.
func (c *testCluster) restart(tn *testNode) {
	t := c.t
	t.Helper()
	self := tn.cfg.self()
	rl, err := net.Listen("tcp", self.RaftAddr)
	require.NoError(t, err)
	gl, err := net.Listen("tcp", self.GRPCAddr)
	require.NoError(t, err)
	tn.cfg.RaftListener = rl
	c.startNode(tn, gl)
}

func (c *testCluster) running() []*testNode {
	var out []*testNode
	for _, tn := range c.nodes {
		if tn.node != nil {
			out = append(out, tn)
		}
	}
	return out
}

// waitLeader waits until exactly one running node leads and all running
// nodes agree on it, and returns it.
func (c *testCluster) waitLeader() *testNode {
	c.t.Helper()
	var leader *testNode
	waitFor(c.t, 30*time.Second, "a leader all running nodes agree on", func() bool {
		leader = nil
		for _, tn := range c.running() {
			if tn.node.isLeader() {
				if leader != nil {
					return false
				}
				leader = tn
			}
		}
		if leader == nil {
			return false
		}
		for _, tn := range c.running() {
			if p, ok := tn.node.leader(); !ok || p.ID != leader.cfg.NodeID {
				return false
			}
		}
		return true
	})
	return leader
}

func (c *testCluster) followers() []*testNode {
	var out []*testNode
	for _, tn := range c.running() {
		if !tn.node.isLeader() {
			out = append(out, tn)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func createBucketCmd(name string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: &metapb.Bucket{Name: name, CreatedUnixNano: 1},
	}}}
}
