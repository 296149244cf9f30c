package meta

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// fakeStorage is a storage service that records DeleteShard calls. Shards
// listed in missing answer NotFound; while failing is set every call fails.
type fakeStorage struct {
	storagepb.UnimplementedStorageServer
	mu struct {
		sync.Mutex
		deleted map[string]string // shard ID -> drive ID
		failing bool
	}
	missing map[string]bool
}

func (f *fakeStorage) DeleteShard(_ context.Context, req *storagepb.DeleteShardRequest) (*storagepb.DeleteShardResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.failing {
		return nil, status.Error(codes.Unavailable, "drive offline")
	}
	id := req.GetRef().GetShardId()
	f.mu.deleted[id] = req.GetRef().GetDriveId()
	if f.missing[id] {
		return nil, status.Error(codes.NotFound, "no such shard")
	}
	return &storagepb.DeleteShardResponse{Existed: true}, nil
}

func (f *fakeStorage) setFailing(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.failing = v
}

func (f *fakeStorage) deleted() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.mu.deleted {
		out[k] = v
	}
	return out
}

func startFakeStorage(t *testing.T, missing ...string) (*fakeStorage, string) {
	t.Helper()
	f := &fakeStorage{missing: map[string]bool{}}
	f.mu.deleted = map[string]string{}
	for _, m := range missing {
		f.missing[m] = true
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	storagepb.RegisterStorageServer(srv, f)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		require.NoError(t, <-served)
	})
	return f, lis.Addr().String()
}

func putObjectCmd(bucket, key, dataID string, shards ...*metapb.ShardPlacement) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: &metapb.ObjectVersion{
		Bucket: bucket, Key: key, DataId: dataID, Shards: shards, Size: 1,
		Profile: &metapb.ErasureProfile{DataShards: 2, ParityShards: 1, BlockSize: 1024},
	}}}}
}

func TestGCCollector(t *testing.T) {
	storage, addr := startFakeStorage(t, "old.1")
	storage.setFailing(true)
	c := newTestCluster(t, 3, 3, func(_ int, cfg *Config) { cfg.GCInterval = 50 * time.Millisecond })
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 60*time.Second)
	n := leader.node

	_, err := n.Propose(ctx, createBucketCmd("b"))
	require.NoError(t, err)
	_, err = leader.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{
		NodeId: "s1", Addr: addr, Drives: []*metapb.Drive{{DriveId: "d1"}, {DriveId: "d2"}},
	}})
	require.NoError(t, err)
	shards := []*metapb.ShardPlacement{{NodeId: "s1", DriveId: "d1"}, {NodeId: "s1", DriveId: "d2"}, {NodeId: "s1", DriveId: "d1"}}
	for _, dataID := range []string{"old", "new"} {
		res, err := n.Propose(ctx, putObjectCmd("b", "k", dataID, shards...))
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, res.GetCode(), res.GetMessage())
	}
	pending, err := n.fsm.PendingGC(10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "overwriting the null version queues the old body")

	// While the storage node fails, the entry stays queued.
	acked, err := n.collect(ctx)
	require.NoError(t, err)
	require.Zero(t, acked)
	pending, err = n.fsm.PendingGC(10)
	require.NoError(t, err)
	require.Len(t, pending, 1)

	storage.setFailing(false)
	waitFor(t, 30*time.Second, "the collector to ack the entry", func() bool {
		p, err := n.fsm.PendingGC(10)
		require.NoError(t, err)
		return len(p) == 0
	})
	// NotFound (old.1) counts as deleted; the live body was not touched.
	require.Equal(t, map[string]string{"old.0": "d1", "old.1": "d2", "old.2": "d1"}, storage.deleted())
	// The ack is replicated.
	for _, tn := range c.running() {
		waitFor(t, 10*time.Second, "ack to replicate to "+tn.cfg.NodeID, func() bool {
			p, err := tn.node.fsm.PendingGC(10)
			require.NoError(t, err)
			return len(p) == 0
		})
	}
}

// TestGCStorageDialer checks the injected dialer seam and that a node
// missing from the map keeps its entries queued.
func TestGCStorageDialer(t *testing.T) {
	storage, addr := startFakeStorage(t)
	var mu sync.Mutex
	dialed := map[string]int{}
	var conns []*grpc.ClientConn
	t.Cleanup(func() {
		for _, cc := range conns {
			require.NoError(t, cc.Close())
		}
	})
	dial := func(a string) (ShardDeleter, error) {
		mu.Lock()
		defer mu.Unlock()
		dialed[a]++
		cc, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		conns = append(conns, cc)
		return storagepb.NewStorageClient(cc), nil
	}
	// A long interval keeps the background collector out of the way; the
	// test drives rounds itself.
	c := newTestCluster(t, 1, 1, func(_ int, cfg *Config) {
		cfg.GCInterval = time.Hour
		cfg.Storage = dial
	})
	n := c.waitLeader().node
	ctx := ctxTimeout(t, 30*time.Second)
	_, err := n.Propose(ctx, createBucketCmd("b"))
	require.NoError(t, err)
	_, err = c.nodes[0].client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: "s1", Addr: addr}})
	require.NoError(t, err)
	for _, cmd := range []*metapb.Command{
		putObjectCmd("b", "k1", "x", &metapb.ShardPlacement{NodeId: "s1", DriveId: "d"}),
		putObjectCmd("b", "k1", "y"),
		putObjectCmd("b", "k2", "z", &metapb.ShardPlacement{NodeId: "ghost", DriveId: "d"}),
		putObjectCmd("b", "k2", "w"),
	} {
		res, err := n.Propose(ctx, cmd)
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, res.GetCode(), res.GetMessage())
	}
	acked, err := n.collect(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, acked)
	require.Equal(t, map[string]string{"x.0": "d"}, storage.deleted())
	mu.Lock()
	require.Equal(t, map[string]int{addr: 1}, dialed)
	mu.Unlock()
	pending, err := n.fsm.PendingGC(10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "z", pending[0].GetDataId())
}
