package metadata

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	unversioned = metapb.VersioningState_VERSIONING_UNVERSIONED
	enabled     = metapb.VersioningState_VERSIONING_ENABLED
	suspended   = metapb.VersioningState_VERSIONING_SUSPENDED
)

func TestCommandResults(t *testing.T) {
	type step struct {
		cmd  *metapb.Command
		code metapb.ErrorCode
		msg  string // checked when set
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"create bucket twice reports owner", []step{
			{cmd: createBucket("b", "alice", unversioned)},
			{cmd: createBucket("b", "bob", unversioned), code: metapb.ErrorCode_BUCKET_ALREADY_EXISTS, msg: "alice"},
		}},
		{"create bucket without name", []step{
			{cmd: createBucket("", "alice", unversioned), code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
		{"delete missing bucket", []step{
			{cmd: deleteBucket("nope"), code: metapb.ErrorCode_NO_SUCH_BUCKET},
		}},
		{"delete bucket then recreate", []step{
			{cmd: createBucket("b", "alice", unversioned)},
			{cmd: deleteBucket("b")},
			{cmd: deleteBucket("b"), code: metapb.ErrorCode_NO_SUCH_BUCKET},
			{cmd: createBucket("b", "bob", unversioned)},
		}},
		{"put into missing bucket", []step{
			{cmd: putObject("nope", "k", "null", "d1"), code: metapb.ErrorCode_NO_SUCH_BUCKET},
		}},
		{"put with empty key", []step{
			{cmd: createBucket("b", "alice", unversioned)},
			{cmd: putObject("b", "", "null", "d1"), code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
		{"put without version", []step{
			{cmd: &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{}}}, code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
		{"put delete marker", []step{
			{cmd: createBucket("b", "alice", unversioned)},
			{cmd: func() *metapb.Command {
				c := putObject("b", "k", "null", "d1")
				c.GetPutObject().Version.DeleteMarker = true
				return c
			}(), code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
		{"versioned put needs an id", []step{
			{cmd: createBucket("b", "alice", enabled)},
			{cmd: putObject("b", "k", "", "d1"), code: metapb.ErrorCode_INVALID_ARGUMENT},
			{cmd: putObject("b", "k", "null", "d1"), code: metapb.ErrorCode_INVALID_ARGUMENT},
			{cmd: putObject("b", "k", "v1", "d1")},
		}},
		{"versioned delete needs a marker id", []step{
			{cmd: createBucket("b", "alice", enabled)},
			{cmd: deleteObject("b", "k", "", ""), code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
		{"delete in missing bucket", []step{
			{cmd: deleteObject("nope", "k", "", ""), code: metapb.ErrorCode_NO_SUCH_BUCKET},
		}},
		{"delete missing key and version succeed", []step{
			{cmd: createBucket("b", "alice", unversioned)},
			{cmd: deleteObject("b", "k", "", "")},
			{cmd: deleteObject("b", "k", "v9", "")},
		}},
		{"empty command", []step{
			{cmd: &metapb.Command{}, code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
		{"empty operations", []step{
			{cmd: &metapb.Command{Op: &metapb.Command_DeleteBucket{}}, code: metapb.ErrorCode_NO_SUCH_BUCKET},
			{cmd: &metapb.Command{Op: &metapb.Command_CreateBucket{}}, code: metapb.ErrorCode_INVALID_ARGUMENT},
			{cmd: &metapb.Command{Op: &metapb.Command_DeleteObject{}}, code: metapb.ErrorCode_INVALID_ARGUMENT},
			{cmd: &metapb.Command{Op: &metapb.Command_NodeHeartbeat{}}, code: metapb.ErrorCode_INVALID_ARGUMENT},
			{cmd: &metapb.Command{Op: &metapb.Command_AckGc{}}},
		}},
		{"heartbeat without id", []step{
			{cmd: heartbeat("", "a:1", "r1", 5), code: metapb.ErrorCode_INVALID_ARGUMENT},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			for i, s := range tc.steps {
				res := h.apply(s.cmd)
				require.Equal(t, s.code, res.Code, "step %d: %v", i, res)
				if s.msg != "" {
					require.Equal(t, s.msg, res.Message, "step %d", i)
				}
			}
			require.Equal(t, uint64(len(tc.steps)), h.f.AppliedIndex())
		})
	}
}

func TestMalformedCommand(t *testing.T) {
	for _, data := range [][]byte{{0xFF, 0xFF, 0xFF}, {0x0A, 0x05, 0x01}, bytes.Repeat([]byte{0x80}, 20)} {
		h := newHarness(t)
		res := h.f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data})
		require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, res.(*metapb.CommandResult).Code)
		require.Equal(t, uint64(1), h.f.AppliedIndex())
	}
}

func FuzzApplyCommand(f *testing.F) {
	for _, c := range []*metapb.Command{
		createBucket("b", "o", unversioned), putObject("b", "k", "null", "d"),
		deleteObject("b", "k", "", ""), heartbeat("n", "a", "d", 1), ackGC(1, 2),
	} {
		data, err := proto.Marshal(c)
		require.NoError(f, err)
		f.Add(data)
	}
	fsm := openFSM(f, f.TempDir())
	defer fsm.Close()
	require.Equal(f, metapb.ErrorCode_OK, fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: mustMarshal(f, createBucket("b", "o", unversioned))}).(*metapb.CommandResult).Code)
	index := uint64(1)
	f.Fuzz(func(t *testing.T, data []byte) {
		index++
		res := fsm.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data})
		if _, ok := res.(*metapb.CommandResult); !ok {
			t.Fatalf("apply returned %v", res)
		}
		if fsm.AppliedIndex() != index {
			t.Fatalf("applied index %d, want %d", fsm.AppliedIndex(), index)
		}
	})
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	data, err := proto.Marshal(m)
	require.NoError(t, err)
	return data
}

func TestPutGetUnversioned(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "alice", unversioned))
	res := h.mustApply(putObject("b", "a/x", "ignored", "d1"))
	require.Equal(t, "null", res.Version.VersionId, "unversioned bucket stores the null version")
	require.Equal(t, uint64(1), res.Version.Seq)

	got, err := h.f.GetObject("b", "a/x", "")
	require.NoError(t, err)
	require.True(t, proto.Equal(res.Version, got))
	got, err = h.f.GetObject("b", "a/x", "null")
	require.NoError(t, err)
	require.True(t, proto.Equal(res.Version, got))

	_, err = h.f.GetObject("b", "missing", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
	_, err = h.f.GetObject("b", "a/x", "v1")
	require.ErrorIs(t, err, ErrNoSuchVersion)
	_, err = h.f.GetObject("nope", "a/x", "")
	require.ErrorIs(t, err, ErrNoSuchBucket)
	_, err = h.f.GetBucket("nope")
	require.ErrorIs(t, err, ErrNoSuchBucket)
	_, err = h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "nope"})
	require.ErrorIs(t, err, ErrNoSuchBucket)

	bk, err := h.f.GetBucket("b")
	require.NoError(t, err)
	require.Equal(t, "alice", bk.Owner)

	h.mustApply(deleteObject("b", "a/x", "", ""))
	_, err = h.f.GetObject("b", "a/x", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
	_, err = h.f.GetObject("b", "a/x", "null")
	require.ErrorIs(t, err, ErrNoSuchVersion)
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, "d1", gc[0].DataId)
	require.Equal(t, int64(200), gc[0].EnqueuedUnixNano, "delete enqueues at the command's time")
	require.Len(t, gc[0].Shards, 3)
}

func TestBucketNotEmpty(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createBucket("b2", "o", unversioned))
	h.mustApply(putObject("b", "k", "null", "d1"))
	require.Equal(t, metapb.ErrorCode_BUCKET_NOT_EMPTY, h.apply(deleteBucket("b")).Code)
	h.mustApply(deleteObject("b", "k", "", ""))
	h.mustApply(deleteBucket("b"))
	_, err := h.f.GetBucket("b")
	require.ErrorIs(t, err, ErrNoSuchBucket)

	// A delete marker alone (no current row) still keeps a versioned bucket.
	h.mustApply(createBucket("v", "o", enabled))
	h.mustApply(deleteObject("v", "k", "", "m1"))
	require.Equal(t, metapb.ErrorCode_BUCKET_NOT_EMPTY, h.apply(deleteBucket("v")).Code)
	h.mustApply(deleteObject("v", "k", "m1", ""))
	h.mustApply(deleteBucket("v"))

	bs, err := h.f.ListBuckets()
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.Equal(t, "b2", bs[0].Name)
}

func TestOverwriteEnqueuesGC(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(putObject("b", "k", "null", "d1"))
	h.mustApply(putObject("b", "k", "null", "d2"))
	// Same body again (an idempotent retry) must not queue the live body.
	h.mustApply(putObject("b", "k", "null", "d2"))
	// A body-less (empty) object replaced: nothing to collect.
	h.mustApply(putObject("b", "e", "null", ""))
	h.mustApply(putObject("b", "e", "null", "d3"))

	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, "d1", gc[0].DataId)
	require.Equal(t, []*metapb.ShardPlacement{{NodeId: "n1", DriveId: "d1"}, {NodeId: "n2", DriveId: "d1"}, {NodeId: "n3", DriveId: "d1"}},
		cloneShards(gc[0].Shards))

	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "d2", cur.DataId)

	h.mustApply(deleteObject("b", "k", "", ""))
	h.mustApply(deleteObject("b", "e", "", ""))
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 3)
	require.Equal(t, []string{"d1", "d2", "d3"}, []string{gc[0].DataId, gc[1].DataId, gc[2].DataId})
	require.Less(t, gc[0].Seq, gc[1].Seq)

	limited, err := h.f.PendingGC(2)
	require.NoError(t, err)
	require.Len(t, limited, 2)

	for _, tc := range []struct {
		limit uint64
		n     uint64
		more  bool
	}{{10, 3, false}, {3, 3, false}, {2, 2, true}} {
		n, more, err := h.f.CountGC(tc.limit)
		require.NoError(t, err)
		require.Equal(t, tc.n, n, "limit %d", tc.limit)
		require.Equal(t, tc.more, more, "limit %d", tc.limit)
	}

	h.mustApply(ackGC(gc[0].Seq, gc[2].Seq, 9999))
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, "d2", gc[0].DataId)
}

func cloneShards(in []*metapb.ShardPlacement) []*metapb.ShardPlacement {
	out := make([]*metapb.ShardPlacement, len(in))
	for i, s := range in {
		out[i] = &metapb.ShardPlacement{NodeId: s.NodeId, DriveId: s.DriveId}
	}
	return out
}

func TestVersioned(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", enabled))
	v1 := h.mustApply(putObject("b", "k", "v1", "d1")).Version
	v2 := h.mustApply(putObject("b", "k", "v2", "d2")).Version
	require.Greater(t, v2.Seq, v1.Seq)

	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "v2", cur.VersionId)

	marker := h.mustApply(deleteObject("b", "k", "", "m1")).Version
	require.True(t, marker.DeleteMarker)
	require.Equal(t, "m1", marker.VersionId)
	_, err = h.f.GetObject("b", "k", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
	got, err := h.f.GetObject("b", "k", "m1")
	require.NoError(t, err)
	require.True(t, got.DeleteMarker)
	resp, err := h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b"})
	require.NoError(t, err)
	require.Empty(t, resp.Objects)
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Empty(t, gc, "versioning keeps old bodies")

	// Removing the marker makes v2 current again.
	removed := h.mustApply(deleteObject("b", "k", "m1", "")).Version
	require.True(t, removed.DeleteMarker)
	cur, err = h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "v2", cur.VersionId)

	// Removing the current version falls back to v1 and queues v2's body.
	h.mustApply(deleteObject("b", "k", "v2", ""))
	cur, err = h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "v1", cur.VersionId)
	// Removing an older version leaves the current one alone.
	h.mustApply(putObject("b", "k", "v3", "d3"))
	h.mustApply(deleteObject("b", "k", "v1", ""))
	cur, err = h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "v3", cur.VersionId)
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 2)
	require.Equal(t, "d2", gc[0].DataId)
	require.Equal(t, "d1", gc[1].DataId)

	h.mustApply(deleteObject("b", "k", "v3", ""))
	_, err = h.f.GetObject("b", "k", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
	h.mustApply(deleteBucket("b"))
}

func TestSuspendedDeleteWritesNullMarker(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", suspended))
	h.mustApply(putObject("b", "k", "x", "d1"))
	marker := h.mustApply(deleteObject("b", "k", "", "ignored")).Version
	require.Equal(t, "null", marker.VersionId)
	require.True(t, marker.DeleteMarker)
	_, err := h.f.GetObject("b", "k", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1, "the null body is replaced by the marker")
	h.mustApply(putObject("b", "k", "x", "d2"))
	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "d2", cur.DataId)
}

func TestHeartbeatEpoch(t *testing.T) {
	d1 := &metapb.Drive{DriveId: "d1", CapacityBytes: 100, FreeBytes: 50}
	d2 := &metapb.Drive{DriveId: "d2", CapacityBytes: 100, FreeBytes: 50}
	tests := []struct {
		name      string
		cmd       *metapb.Command
		wantEpoch uint64
	}{
		{"new node", heartbeat("n1", "a:1", "r1", 10, d1), 1},
		{"same node again", heartbeat("n1", "a:1", "r1", 20, d1), 1},
		{"free space changes", heartbeat("n1", "a:1", "r1", 30, &metapb.Drive{DriveId: "d1", CapacityBytes: 100, FreeBytes: 10}), 1},
		{"address changes", heartbeat("n1", "a:2", "r1", 40, d1), 2},
		{"domain changes", heartbeat("n1", "a:2", "r2", 50, d1), 3},
		{"drive added", heartbeat("n1", "a:2", "r2", 60, d2, d1), 4},
		{"drive order only", heartbeat("n1", "a:2", "r2", 70, d1, d2), 4},
		{"drive failed", heartbeat("n1", "a:2", "r2", 80, d1, &metapb.Drive{DriveId: "d2", State: metapb.DriveState_DRIVE_FAILED}), 5},
		{"second node", heartbeat("n0", "b:1", "r1", 90), 6},
	}
	h := newHarness(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.mustApply(tc.cmd)
			m, err := h.f.ClusterMap()
			require.NoError(t, err)
			require.Equal(t, tc.wantEpoch, m.Epoch)
		})
	}
	m, err := h.f.ClusterMap()
	require.NoError(t, err)
	require.Len(t, m.Nodes, 2)
	require.Equal(t, "n0", m.Nodes[0].NodeId)
	n1 := m.Nodes[1]
	require.Equal(t, int64(80), n1.LastHeartbeatUnixNano)
	require.False(t, n1.Up, "up is computed by the reader, never stored")
}

func TestHeartbeatKeepsAdminState(t *testing.T) {
	h := newHarness(t)
	cmd := heartbeat("n1", "a:1", "r1", 10)
	cmd.GetNodeHeartbeat().Node.State = metapb.NodeState_NODE_DRAINING
	h.mustApply(cmd)
	h.mustApply(heartbeat("n1", "a:1", "r1", 20)) // reports ACTIVE
	m, err := h.f.ClusterMap()
	require.NoError(t, err)
	require.Equal(t, metapb.NodeState_NODE_DRAINING, m.Nodes[0].State)
}

func TestReplayedIndexesSkipped(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(putObject("b", "k", "null", "d1"))
	before := dump(t, h.f)

	// Raft replays the tail after a restart: the same entries again.
	h.reopen()
	require.Equal(t, uint64(2), h.f.AppliedIndex())
	for i, c := range []*metapb.Command{createBucket("b", "o", unversioned), putObject("b", "k", "null", "d2")} {
		l := &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: mustMarshal(t, c)}
		res := h.f.Apply(l).(*metapb.CommandResult)
		require.Equal(t, metapb.ErrorCode_OK, res.Code)
	}
	require.Equal(t, before, dump(t, h.f), "replayed entries must not change state")

	// A batch straddling the applied index applies only the new part.
	h.index = 1
	logs := []*raft.Log{h.log(putObject("b", "k", "null", "d3")), h.log(putObject("b", "k2", "null", "d4"))}
	res := h.f.ApplyBatch(logs)
	require.Len(t, res, 2)
	require.Nil(t, res[0].(*metapb.CommandResult).Version, "index 2 was already applied")
	require.Equal(t, "d4", res[1].(*metapb.CommandResult).Version.DataId)
	require.Equal(t, uint64(3), h.f.AppliedIndex())
	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "d1", cur.DataId)
}

func TestNonCommandEntriesAdvanceIndex(t *testing.T) {
	h := newHarness(t)
	res := h.f.ApplyBatch([]*raft.Log{
		{Index: 1, Type: raft.LogConfiguration, Data: []byte("not a command")},
		{Index: 2, Type: raft.LogNoop},
	})
	require.Len(t, res, 2)
	require.Equal(t, uint64(2), h.f.AppliedIndex())
	require.Empty(t, h.f.ApplyBatch(nil))
}

// randomCommands generates a command mix that exercises every handler,
// including rejections.
func randomCommands(r *rand.Rand, n int) []*metapb.Command {
	buckets := []string{"a", "b", "v"}
	objKeys := []string{"k", "k/1", "k/2", "x\x00y", "é"}
	cmds := []*metapb.Command{createBucket("a", "o", unversioned), createBucket("v", "o", enabled)}
	for i := range n {
		b, k := buckets[r.IntN(len(buckets))], objKeys[r.IntN(len(objKeys))]
		vid := []string{"v1", "v2", "v3"}[r.IntN(3)]
		switch r.IntN(8) {
		case 0:
			cmds = append(cmds, createBucket(b, "o", unversioned))
		case 1:
			cmds = append(cmds, deleteBucket(b))
		case 2, 3:
			cmds = append(cmds, putObject(b, k, vid, "d"+string(rune('a'+i%26))))
		case 4:
			cmds = append(cmds, deleteObject(b, k, "", "m"+vid))
		case 5:
			cmds = append(cmds, deleteObject(b, k, vid, ""))
		case 6:
			cmds = append(cmds, heartbeat("n"+vid, "addr"+k, "r", int64(i)))
		case 7:
			cmds = append(cmds, ackGC(uint64(r.IntN(20))))
		}
	}
	return cmds
}

func TestApplyBatchEqualsSequentialApply(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	cmds := randomCommands(r, 300)

	seq, batched := newHarness(t), newHarness(t)
	var seqResults, batchResults []*metapb.CommandResult
	for _, c := range cmds {
		seqResults = append(seqResults, seq.apply(c))
	}
	for i := 0; i < len(cmds); {
		n := min(1+r.IntN(64), len(cmds)-i)
		logs := make([]*raft.Log, n)
		for j := range logs {
			logs[j] = batched.log(cmds[i+j])
		}
		for _, res := range batched.f.ApplyBatch(logs) {
			batchResults = append(batchResults, res.(*metapb.CommandResult))
		}
		i += n
	}
	require.Len(t, batchResults, len(seqResults))
	for i := range seqResults {
		require.True(t, proto.Equal(seqResults[i], batchResults[i]), "result %d: %v vs %v", i, seqResults[i], batchResults[i])
	}
	require.Equal(t, dump(t, seq.f), dump(t, batched.f))
}

func TestSnapshotRestore(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	src := newHarness(t)
	for _, c := range randomCommands(r, 200) {
		src.apply(c)
	}
	snap, err := src.f.Snapshot()
	require.NoError(t, err)
	defer snap.Release()
	// Changes after the snapshot must not leak into it.
	want := dump(t, src.f)
	wantView := readView(t, src.f, []string{"a", "b", "v"}, []string{"k", "k/1", "k/2", "x\x00y", "é"})
	src.mustApply(createBucket("later", "o", unversioned))
	var sink memSink
	require.NoError(t, snap.Persist(&sink))

	// The destination has unrelated state that Restore must erase.
	dst := newHarness(t)
	dst.mustApply(createBucket("zzz", "o", unversioned))
	dst.mustApply(putObject("zzz", "k", "null", "d"))
	dst.mustApply(heartbeat("other", "a", "r", 1))
	require.NoError(t, dst.f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, want, dump(t, dst.f))
	require.Equal(t, wantView, readView(t, dst.f, []string{"a", "b", "v"}, []string{"k", "k/1", "k/2", "x\x00y", "é"}))
	require.Equal(t, src.f.AppliedIndex()-1, dst.f.AppliedIndex())

	// The restored FSM keeps working, and survives a restart.
	dst.index = dst.f.AppliedIndex()
	dst.mustApply(createBucket("after", "o", unversioned))
	dst.reopen()
	_, err = dst.f.GetBucket("after")
	require.NoError(t, err)
	_, err = dst.f.GetBucket("zzz")
	require.ErrorIs(t, err, ErrNoSuchBucket)
}

func TestRestoreRejectsBadStreams(t *testing.T) {
	src := newHarness(t)
	src.mustApply(createBucket("b", "o", unversioned))
	good := dump(t, src.f)
	tests := []struct {
		name    string
		data    func() []byte
		wantErr error
	}{
		{"empty", func() []byte { return nil }, ErrCorrupt},
		{"bad magic", func() []byte { d := bytes.Clone(good); d[0] ^= 1; return d }, ErrCorrupt},
		{"future version", func() []byte { d := bytes.Clone(good); d[11] = 9; return d }, ErrUnsupportedFormat},
		{"flipped bit", func() []byte { d := bytes.Clone(good); d[len(d)/2] ^= 0x10; return d }, ErrCorrupt},
		{"truncated", func() []byte { return good[:len(good)-3] }, ErrCorrupt},
		{"trailing data", func() []byte { return append(bytes.Clone(good), 0) }, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := newHarness(t)
			dst.mustApply(createBucket("keep", "o", unversioned))
			before := dump(t, dst.f)
			err := dst.f.Restore(io.NopCloser(bytes.NewReader(tc.data())))
			require.ErrorIs(t, err, tc.wantErr)
			require.Equal(t, before, dump(t, dst.f), "a failed restore must leave the state intact")
		})
	}
}

func TestRestartKeepsState(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(putObject("b", "k1", "null", "d1"))
	h.mustApply(putObject("b", "k1", "null", "d2"))
	h.mustApply(heartbeat("n1", "a:1", "r1", 5))
	view := readView(t, h.f, []string{"b"}, []string{"k1"})
	h.reopen()
	require.Equal(t, view, readView(t, h.f, []string{"b"}, []string{"k1"}))
	// Sequence numbers continue after the restart.
	res := h.mustApply(putObject("b", "k2", "null", "d3"))
	require.Equal(t, uint64(4), res.Version.Seq, "seqs 1-3: two puts and one gc entry")
}

func TestOpenRejectsOtherFormat(t *testing.T) {
	dir := t.TempDir()
	f := openFSM(t, dir)
	require.NoError(t, f.mu.db.Set([]byte("Sformat"), uint64Value(99), nil))
	require.NoError(t, f.Close())
	_, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrUnsupportedFormat)
}

func TestClosed(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	snap, err := h.f.Snapshot()
	require.NoError(t, err)
	require.NoError(t, h.f.Close(), "close releases open snapshots")
	snap.Release()
	var sink memSink
	require.ErrorIs(t, snap.Persist(&sink), ErrClosed)
	require.True(t, sink.cancelled)

	require.ErrorIs(t, h.f.Close(), ErrClosed)
	_, err = h.f.GetBucket("b")
	require.ErrorIs(t, err, ErrClosed)
	_, err = h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b"})
	require.ErrorIs(t, err, ErrClosed)
	_, err = h.f.Snapshot()
	require.ErrorIs(t, err, ErrClosed)
	res := h.f.Apply(h.log(createBucket("c", "o", unversioned)))
	resErr, ok := res.(error)
	require.True(t, ok)
	require.True(t, errors.Is(resErr, ErrClosed))
	h.f = nil
}

func TestPebbleLoggerFatalEnds(t *testing.T) {
	code := -1
	l := pebbleLogger{log: testLogger(t), exit: func(c int) { code = c }}
	l.Infof("hello %d", 1)
	require.Equal(t, -1, code)
	l.Fatalf("boom %d", 2)
	require.Equal(t, 1, code)
}
