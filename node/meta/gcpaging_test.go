package meta

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// shardStore is a fake storage node that holds a set of shards: the test
// writes them, DeleteShard removes them. While down, every call fails.
type shardStore struct {
	storagepb.UnimplementedStorageServer
	mu struct {
		sync.Mutex
		shards  map[string]bool // drive/shard ID
		down    bool
		deletes int // successful calls
	}
}

func (s *shardStore) DeleteShard(_ context.Context, req *storagepb.DeleteShardRequest) (*storagepb.DeleteShardResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.down {
		return nil, status.Error(codes.Unavailable, "node down")
	}
	s.mu.deletes++
	k := req.GetRef().GetDriveId() + "/" + req.GetRef().GetShardId()
	if !s.mu.shards[k] {
		return nil, status.Error(codes.NotFound, "no such shard")
	}
	delete(s.mu.shards, k)
	return &storagepb.DeleteShardResponse{Existed: true}, nil
}

func (s *shardStore) write(drive, shardID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.shards[drive+"/"+shardID] = true
}

func (s *shardStore) has(drive, shardID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.shards[drive+"/"+shardID]
}

func (s *shardStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.shards)
}

func (s *shardStore) setDown(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.down = v
}

func (s *shardStore) deleteCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.deletes
}

func startShardStore(t *testing.T) (*shardStore, string) {
	t.Helper()
	s := &shardStore{}
	s.mu.shards = map[string]bool{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	storagepb.RegisterStorageServer(srv, s)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		require.NoError(t, <-served)
	})
	return s, lis.Addr().String()
}

// gcHarness is one meta voter whose collector only runs when the test
// says, with storage nodes registered by heartbeat.
type gcHarness struct {
	t      *testing.T
	n      *Node
	client metapb.MetaClient
	stores map[string]*shardStore
}

func newGCHarness(t *testing.T, interval time.Duration, storageNodes ...string) *gcHarness {
	t.Helper()
	c := newTestCluster(t, 1, 1, func(_ int, cfg *Config) {
		cfg.GCInterval = interval
		// Liveness is not under test: every node stays up.
		cfg.NodeTimeout, cfg.NodeDownAfter = time.Hour, time.Hour
	})
	tn := c.waitLeader()
	h := &gcHarness{t: t, n: tn.node, client: tn.client, stores: map[string]*shardStore{}}
	ctx := ctxTimeout(t, 10*time.Second)
	for _, id := range storageNodes {
		s, addr := startShardStore(t)
		h.stores[id] = s
		_, err := tn.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{
			NodeId: id, Addr: addr, Drives: []*metapb.Drive{{DriveId: "d1"}, {DriveId: "d2"}},
		}})
		require.NoError(t, err)
	}
	return h
}

// put writes the shards of a body to their stores, then commits it.
func (h *gcHarness) put(ctx context.Context, bucket, key, versionID, dataID string, shards ...*metapb.ShardPlacement) error {
	for i, sh := range shards {
		h.stores[sh.GetNodeId()].write(sh.GetDriveId(), fmt.Sprintf("%s.%d", dataID, i))
	}
	cmd := putObjectCmd(bucket, key, dataID, shards...)
	cmd.GetPutObject().Version.VersionId = versionID
	res, err := h.n.Propose(ctx, cmd)
	if err != nil {
		return err
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return fmt.Errorf("put %s/%s: %s: %s", bucket, key, res.GetCode(), res.GetMessage())
	}
	return nil
}

func (h *gcHarness) pending() []*metapb.GCEntry {
	h.t.Helper()
	p, err := h.n.fsm.PendingGC(100000)
	require.NoError(h.t, err)
	return p
}

// TestGCPagesPastStuckHead queues more than a page of entries whose shards
// are partly on a node that is out of reach, then entries on healthy nodes
// only: one round deletes everything it can reach, finishes the healthy
// entries and trims the others, and once the node returns only its own
// shards are collected.
func TestGCPagesPastStuckHead(t *testing.T) {
	h := newGCHarness(t, time.Hour, "dead", "ok")
	ctx := ctxTimeout(t, 2*time.Minute)
	_, err := h.n.Propose(ctx, createBucketCmd("b"))
	require.NoError(t, err)
	stuck, healthy := gcBatch+44, 50
	require.NoError(t, parallel(8, stuck, func(i int) error {
		key := fmt.Sprintf("stuck/%d", i)
		if err := h.put(ctx, "b", key, "", fmt.Sprintf("s%d", i),
			&metapb.ShardPlacement{NodeId: "dead", DriveId: "d1"}, &metapb.ShardPlacement{NodeId: "ok", DriveId: "d2"}); err != nil {
			return err
		}
		return h.put(ctx, "b", key, "", "") // replaces it: the body goes to GC
	}))
	require.NoError(t, parallel(8, healthy, func(i int) error {
		key := fmt.Sprintf("healthy/%d", i)
		if err := h.put(ctx, "b", key, "", fmt.Sprintf("h%d", i),
			&metapb.ShardPlacement{NodeId: "ok", DriveId: "d1"}, &metapb.ShardPlacement{NodeId: "ok", DriveId: "d2"}); err != nil {
			return err
		}
		return h.put(ctx, "b", key, "", "")
	}))
	require.Len(t, h.pending(), stuck+healthy)
	require.Equal(t, stuck+2*healthy, h.stores["ok"].count())

	h.stores["dead"].setDown(true)
	done, err := h.n.collect(ctx)
	require.NoError(t, err)
	require.Equal(t, healthy, done, "the entries behind the stuck ones are finished")
	require.Zero(t, h.stores["ok"].count(), "every shard on the healthy node is reclaimed")
	require.Equal(t, stuck, h.stores["dead"].count())
	left := h.pending()
	require.Len(t, left, stuck)
	for _, e := range left {
		require.Equal(t, "dead", e.GetShards()[0].GetNodeId())
		require.Empty(t, e.GetShards()[1].GetNodeId(), "the deleted shard is acknowledged")
	}

	// The node returns: only its shards are collected.
	h.stores["dead"].setDown(false)
	okCalls := h.stores["ok"].deleteCalls()
	done, err = h.n.collect(ctx)
	require.NoError(t, err)
	require.Equal(t, stuck, done)
	require.Empty(t, h.pending())
	require.Zero(t, h.stores["dead"].count())
	require.Equal(t, okCalls, h.stores["ok"].deleteCalls(), "no shard is deleted twice")
}

// TestGCSkipsDownNodes checks that a node committed down (or not up) is not
// called at all, and its entries wait for it.
func TestGCSkipsDownNodes(t *testing.T) {
	clock := newFakeClock()
	c := newTestCluster(t, 1, 1, func(_ int, cfg *Config) {
		cfg.GCInterval = time.Hour
		cfg.Now = clock.Now
		cfg.NodeTimeout, cfg.NodeDownAfter = time.Minute, 2*time.Minute
	})
	tn := c.waitLeader()
	h := &gcHarness{t: t, n: tn.node, client: tn.client, stores: map[string]*shardStore{}}
	ctx := ctxTimeout(t, time.Minute)
	// The leader's grace for nodes it has not heard from counts from when
	// it became ready, before the clock moves.
	require.NoError(t, h.n.ensureReady(ctx))
	for _, id := range []string{"gone", "ok"} {
		s, addr := startShardStore(t)
		h.stores[id] = s
		_, err := tn.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{
			NodeId: id, Addr: addr, Drives: []*metapb.Drive{{DriveId: "d1"}},
		}})
		require.NoError(t, err)
	}
	_, err := h.n.Propose(ctx, createBucketCmd("b"))
	require.NoError(t, err)
	require.NoError(t, h.put(ctx, "b", "k", "", "x", &metapb.ShardPlacement{NodeId: "gone", DriveId: "d1"}, &metapb.ShardPlacement{NodeId: "ok", DriveId: "d1"}))
	require.NoError(t, h.put(ctx, "b", "k", "", ""))

	// "gone" stops heartbeating; "ok" goes on.
	clock.Advance(3 * time.Minute)
	m, err := h.n.fsm.ClusterMap()
	require.NoError(t, err)
	for _, node := range m.GetNodes() {
		if node.GetNodeId() == "ok" {
			_, err := tn.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: node})
			require.NoError(t, err)
		}
	}
	require.NoError(t, h.n.reconcileLiveness(ctx))
	_, err = h.n.collect(ctx)
	require.NoError(t, err)
	require.Zero(t, h.stores["gone"].deleteCalls(), "a node that is not up is not called")
	require.False(t, h.stores["ok"].has("d1", "x.1"))
	require.True(t, h.stores["gone"].has("d1", "x.0"))
	require.Len(t, h.pending(), 1)
}

// TestGCNeverCollectsCommitted races the collector against overwrites,
// deletes and new versions while a storage node comes and goes: no shard
// of a body that a committed version references is ever deleted, and once
// the writes stop and the node is back, every other shard is.
func TestGCNeverCollectsCommitted(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	nodes := []string{"n1", "n2", "n3"}
	h := newGCHarness(t, 5*time.Millisecond, nodes...)
	ctx := ctxTimeout(t, 2*time.Minute)
	_, err := h.n.Propose(ctx, createBucketCmd("u"))
	require.NoError(t, err)
	_, err = h.n.Propose(ctx, &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: &metapb.Bucket{Name: "v", CreatedUnixNano: 1, Versioning: metapb.VersioningState_VERSIONING_ENABLED},
	}}})
	require.NoError(t, err)

	stop := make(chan struct{})
	var flapper sync.WaitGroup
	flapper.Go(func() {
		r := rand.New(rand.NewPCG(seed, 1))
		for {
			select {
			case <-stop:
				h.stores["n3"].setDown(false)
				return
			case <-time.After(time.Duration(r.IntN(20)) * time.Millisecond):
			}
			h.stores["n3"].setDown(r.IntN(2) == 0)
		}
	})
	require.NoError(t, parallel(4, 4, func(w int) error {
		r := rand.New(rand.NewPCG(seed, uint64(w)+2))
		for i := range 60 {
			dataID := fmt.Sprintf("w%d-%d", w, i)
			key := fmt.Sprintf("k%d", r.IntN(4))
			shards := []*metapb.ShardPlacement{}
			for j := range 3 {
				shards = append(shards, &metapb.ShardPlacement{NodeId: nodes[(j+r.IntN(3))%3], DriveId: fmt.Sprintf("d%d", 1+r.IntN(2))})
			}
			var err error
			switch op := r.IntN(10); {
			case op < 5: // overwrite
				err = h.put(ctx, "u", key, "", dataID, shards...)
			case op < 8: // a new version that stays
				err = h.put(ctx, "v", key, dataID, dataID, shards...)
			default: // delete
				var res *metapb.CommandResult
				res, err = h.n.Propose(ctx, &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{Bucket: "u", Key: key}}})
				if err == nil && res.GetCode() != metapb.ErrorCode_OK {
					err = fmt.Errorf("delete: %s", res.GetMessage())
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}))
	close(stop)
	flapper.Wait()

	// Every shard of every committed version is still there.
	live := map[string]bool{}
	for _, b := range []string{"u", "v"} {
		resp, err := h.client.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: b, MaxKeys: 10000})
		require.NoError(t, err)
		require.False(t, resp.GetTruncated())
		for _, v := range resp.GetVersions() {
			if v.GetDeleteMarker() {
				continue
			}
			full, err := h.n.fsm.GetObject(b, v.GetKey(), v.GetVersionId())
			require.NoError(t, err)
			for i, sh := range full.GetShards() {
				id := fmt.Sprintf("%s.%d", full.GetDataId(), i)
				live[sh.GetNodeId()+"/"+sh.GetDriveId()+"/"+id] = true
				require.True(t, h.stores[sh.GetNodeId()].has(sh.GetDriveId(), id), "shard %s of committed %s/%s on %s was collected", id, b, v.GetKey(), sh.GetNodeId())
			}
		}
	}
	// And everything else is reclaimed once the node is back.
	waitFor(t, time.Minute, "the GC queue to drain", func() bool { return len(h.pending()) == 0 })
	total := 0
	for _, s := range h.stores {
		total += s.count()
	}
	require.Equal(t, len(live), total, "only the shards of committed versions are left")
}

// parallel runs fn(0..n-1) on up to limit goroutines and returns the first
// error.
func parallel(limit, n int, fn func(i int) error) error {
	sem := make(chan struct{}, limit)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
