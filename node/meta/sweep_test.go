package meta

import (
	"context"
	"fmt"
	"net"
	"sort"
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

// sweepStorage is a fake storage node holding shard names with mtimes. It
// serves ListShards (honouring the cutoff unless ignoreCutoff is set) and
// DeleteShard.
type sweepStorage struct {
	storagepb.UnimplementedStorageServer
	mu struct {
		sync.Mutex
		shards       map[string]int64 // "drive/shard" -> mtime
		ignoreCutoff bool
	}
}

func startSweepStorage(t *testing.T) (*sweepStorage, string) {
	t.Helper()
	f := &sweepStorage{}
	f.mu.shards = map[string]int64{}
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

func (f *sweepStorage) put(drive, shard string, mtime time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.shards[drive+"/"+shard] = mtime.UnixNano()
}

func (f *sweepStorage) setIgnoreCutoff(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.ignoreCutoff = v
}

// names returns every "drive/shard" held, sorted.
func (f *sweepStorage) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.mu.shards {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (f *sweepStorage) ListShards(req *storagepb.ListShardsRequest, stream grpc.ServerStreamingServer[storagepb.ListShardsResponse]) error {
	f.mu.Lock()
	var pages []*storagepb.ListShardsResponse
	names := make([]string, 0, len(f.mu.shards))
	for k := range f.mu.shards {
		names = append(names, k)
	}
	sort.Strings(names)
	var cur *storagepb.ListShardsResponse
	for _, k := range names {
		mtime := f.mu.shards[k]
		if mtime >= req.GetOlderThanUnixNano() && !f.mu.ignoreCutoff {
			continue
		}
		var drive, shard string
		for i := range k {
			if k[i] == '/' {
				drive, shard = k[:i], k[i+1:]
				break
			}
		}
		if cur == nil || cur.DriveId != drive || len(cur.Shards) >= int(req.GetPageSize()) {
			cur = &storagepb.ListShardsResponse{DriveId: drive}
			pages = append(pages, cur)
		}
		cur.Shards = append(cur.Shards, &storagepb.ListedShard{ShardId: shard, MtimeUnixNano: mtime})
	}
	f.mu.Unlock()
	for _, p := range pages {
		if err := stream.Send(p); err != nil {
			return err
		}
	}
	return nil
}

func (f *sweepStorage) DeleteShard(_ context.Context, req *storagepb.DeleteShardRequest) (*storagepb.DeleteShardResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := req.GetRef().GetDriveId() + "/" + req.GetRef().GetShardId()
	if _, ok := f.mu.shards[k]; !ok {
		return nil, status.Error(codes.NotFound, "no such shard")
	}
	delete(f.mu.shards, k)
	return &storagepb.DeleteShardResponse{Existed: true}, nil
}

func putPartCmd(bucket, key, uploadID, dataID string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_PutPart{PutPart: &metapb.PutPart{
		Bucket: bucket, Key: key, UploadId: uploadID,
		Part: &metapb.PartInfo{
			Number: 1, Size: 1, Etag: "e", DataId: dataID,
			Profile: &metapb.ErasureProfile{DataShards: 2, ParityShards: 1, BlockSize: 1024},
			Shards:  []*metapb.ShardPlacement{{NodeId: "s1", DriveId: "d1"}},
		},
	}}}
}

func TestSweep(t *testing.T) {
	clock := newFakeClock()
	c := newTestCluster(t, 3, 3, func(_ int, cfg *Config) {
		cfg.Now = clock.Now
		// The test drives the rounds itself and keeps the GC queue full.
		cfg.GCInterval = time.Hour
		cfg.SweepInterval = time.Hour
		cfg.OrphanGrace = time.Hour
	})
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 60*time.Second)
	n := leader.node
	s1, addr1 := startSweepStorage(t)
	s2, addr2 := startSweepStorage(t)
	heartbeat := func(id, addr string) {
		t.Helper()
		_, err := leader.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{
			NodeId: id, Addr: addr, Drives: []*metapb.Drive{{DriveId: "d1"}, {DriveId: "d2"}},
		}})
		require.NoError(t, err)
	}
	heartbeat("s1", addr1)
	heartbeat("s2", addr2)
	propose := func(cmd *metapb.Command) {
		t.Helper()
		res, err := n.Propose(ctx, cmd)
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, res.GetCode(), res.GetMessage())
	}
	propose(createBucketCmd("b"))
	sh := &metapb.ShardPlacement{NodeId: "s1", DriveId: "d1"}
	propose(putObjectCmd("b", "k", "live", sh))
	propose(putObjectCmd("b", "gone", "pending", sh))
	propose(putObjectCmd("b", "gone", "replacement", sh)) // queues "pending" for GC
	propose(&metapb.Command{Op: &metapb.Command_CreateMultipartUpload{CreateMultipartUpload: &metapb.CreateMultipartUpload{
		Upload: &metapb.MultipartUpload{Bucket: "b", Key: "mp", UploadId: "u1", InitiatedUnixNano: 1},
	}}})
	propose(putPartCmd("b", "mp", "u1", "part"))
	pending, err := n.fsm.PendingGC(10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "pending", pending[0].GetDataId())

	now := clock.Now()
	old, young := now.Add(-2*time.Hour), now.Add(-30*time.Minute)
	for _, s := range []struct{ drive, shard string }{
		{"d1", "live.0"}, {"d2", "live.1"}, {"d1", "replacement.0"}, {"d1", "pending.0"}, {"d2", "pending.1"},
		{"d1", "part.0"},
		{"d1", "orphan.0"}, {"d2", "orphan.1"}, {"d1", "orphan.2"}, {"d2", "other-orphan.5"},
		// Names the gateway never writes are skipped, not deleted.
		{"d1", "notashard"}, {"d1", "a.b.0"}, {"d1", "x.007"}, {"d1", "x.256"}, {"d1", ".0"}, {"d1", "x."},
	} {
		s1.put(s.drive, s.shard, old)
	}
	s1.put("d1", "young.0", young)
	s1.put("d2", "young.1", young)
	survivors := []string{
		"d1/.0", "d1/a.b.0", "d1/live.0", "d1/notashard", "d1/part.0", "d1/pending.0", "d1/replacement.0",
		"d1/x.", "d1/x.007", "d1/x.256", "d1/young.0",
		"d2/live.1", "d2/pending.1", "d2/young.1",
	}

	st, err := n.sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, st.deleted)
	require.Equal(t, 2, st.nodes)
	require.Equal(t, survivors, s1.names(), "committed, GC-pending, young and unparsable shards survive")

	// A storage node that ignores the cutoff cannot get a young shard
	// deleted.
	s1.setIgnoreCutoff(true)
	st, err = n.sweep(ctx)
	require.NoError(t, err)
	require.Zero(t, st.deleted)
	require.Equal(t, survivors, s1.names())
	s1.setIgnoreCutoff(false)

	// Followers do not sweep: their reads are not linearizable.
	s1.put("d1", "late-orphan.0", old)
	for _, f := range c.followers() {
		_, err := f.node.sweep(ctx)
		require.Error(t, err)
	}
	require.Contains(t, s1.names(), "d1/late-orphan.0")

	// Once the young shards pass the grace they are orphans too. A node
	// that stopped heartbeating (s2) is not swept.
	s2.put("d1", "down-orphan.0", old)
	clock.Advance(time.Hour)
	heartbeat("s1", addr1)
	st, err = n.sweep(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.nodes)
	require.Equal(t, 3, st.deleted)
	require.NotContains(t, s1.names(), "d1/young.0")
	require.NotContains(t, s1.names(), "d1/late-orphan.0")
	require.Contains(t, s1.names(), "d1/live.0")
	require.Equal(t, []string{"d1/down-orphan.0"}, s2.names())

	// UnknownData is served, forwarded, by every node.
	for _, tn := range c.nodes {
		resp, err := tn.client.UnknownData(ctx, &metapb.UnknownDataRequest{DataIds: []string{"live", "orphan", "pending", "part", "orphan"}})
		require.NoError(t, err)
		require.Equal(t, []string{"orphan"}, resp.GetUnknown())
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	_, err = leader.client.UnknownData(ctx, &metapb.UnknownDataRequest{DataIds: many})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

// TestSweeperLoop checks that the leader's loop runs the sweep by itself.
func TestSweeperLoop(t *testing.T) {
	clock := newFakeClock()
	c := newTestCluster(t, 1, 1, func(_ int, cfg *Config) {
		cfg.Now = clock.Now
		cfg.SweepInterval = 20 * time.Millisecond
		cfg.OrphanGrace = time.Minute
	})
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	s, addr := startSweepStorage(t)
	_, err := leader.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: "s1", Addr: addr}})
	require.NoError(t, err)
	_, err = leader.node.Propose(ctx, createBucketCmd("b"))
	require.NoError(t, err)
	_, err = leader.node.Propose(ctx, putObjectCmd("b", "k", "live", &metapb.ShardPlacement{NodeId: "s1", DriveId: "d"}))
	require.NoError(t, err)
	old := clock.Now().Add(-time.Hour)
	s.put("d", "live.0", old)
	s.put("d", "orphan.0", old)
	waitFor(t, 20*time.Second, "the sweeper to delete the orphan", func() bool {
		return len(s.names()) == 1
	})
	require.Equal(t, []string{"d/live.0"}, s.names())
}

func TestParseShardID(t *testing.T) {
	tests := []struct {
		in     string
		dataID string
		ok     bool
	}{
		{"0123456789abcdef0123456789abcdef.0", "0123456789abcdef0123456789abcdef", true},
		{"data.5", "data", true},
		{"a-b_C.255", "a-b_C", true},
		{"data.256", "", false},
		{"data.05", "", false},
		{"data.1000", "", false},
		{"data.x", "", false},
		{"data.", "", false},
		{".0", "", false},
		{"data", "", false},
		{"a.b.0", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id, ok := parseShardID(tc.in)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.dataID, id)
		})
	}
}
