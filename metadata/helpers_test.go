package metadata

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openFSM(t testing.TB, dir string) *FSM {
	t.Helper()
	f, err := Open(dir, Options{Logger: testLogger(t)})
	require.NoError(t, err)
	return f
}

// harness feeds commands to an FSM with consecutive Raft indexes.
type harness struct {
	t     testing.TB
	f     *FSM
	dir   string
	index uint64
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, f: openFSM(t, dir), dir: dir}
	t.Cleanup(func() {
		if h.f != nil {
			_ = h.f.Close()
		}
	})
	return h
}

func (h *harness) log(cmd *metapb.Command) *raft.Log {
	h.t.Helper()
	data, err := proto.Marshal(cmd)
	require.NoError(h.t, err)
	h.index++
	return &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}
}

func (h *harness) apply(cmd *metapb.Command) *metapb.CommandResult {
	h.t.Helper()
	res, ok := h.f.Apply(h.log(cmd)).(*metapb.CommandResult)
	require.True(h.t, ok, "apply returned a non-result")
	return res
}

func (h *harness) mustApply(cmd *metapb.Command) *metapb.CommandResult {
	h.t.Helper()
	res := h.apply(cmd)
	require.Equal(h.t, metapb.ErrorCode_OK, res.Code, "result %v", res)
	return res
}

func (h *harness) reopen() {
	h.t.Helper()
	require.NoError(h.t, h.f.Close())
	h.f = openFSM(h.t, h.dir)
}

func createBucket(name, owner string, vs metapb.VersioningState) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: &metapb.Bucket{Name: name, Owner: owner, Versioning: vs, CreatedUnixNano: 1},
	}}}
}

func deleteBucket(name string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_DeleteBucket{DeleteBucket: &metapb.DeleteBucket{Name: name}}}
}

func putObject(bucket, key, versionID, dataID string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: &metapb.ObjectVersion{
		Bucket: bucket, Key: key, VersionId: versionID, DataId: dataID, Size: int64(len(dataID)),
		Etag: "e-" + dataID, MtimeUnixNano: 100,
		Profile: &metapb.ErasureProfile{DataShards: 2, ParityShards: 1, BlockSize: 4096},
		Shards: []*metapb.ShardPlacement{
			{NodeId: "n1", DriveId: "d1"}, {NodeId: "n2", DriveId: "d1"}, {NodeId: "n3", DriveId: "d1"},
		},
		UserMetadata: map[string]string{"k": dataID},
	}}}}
}

func deleteObject(bucket, key, versionID, markerID string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{
		Bucket: bucket, Key: key, VersionId: versionID, MarkerVersionId: markerID, MtimeUnixNano: 200,
	}}}
}

func heartbeat(id, addr, domain string, unix int64, drives ...*metapb.Drive) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_NodeHeartbeat{NodeHeartbeat: &metapb.NodeHeartbeat{
		Node:     &metapb.Node{NodeId: id, Addr: addr, FailureDomain: domain, Drives: drives, Up: true},
		UnixNano: unix,
	}}}
}

func ackGC(seqs ...uint64) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_AckGc{AckGc: &metapb.AckGC{Seqs: seqs}}}
}

// memSink is a raft.SnapshotSink over a buffer.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// dump returns the FSM's snapshot stream: two FSMs with equal dumps hold
// byte-identical databases.
func dump(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	require.NoError(t, err)
	defer snap.Release()
	var sink memSink
	require.NoError(t, snap.Persist(&sink))
	require.True(t, sink.closed)
	return sink.Bytes()
}

// readView collects every read result of an FSM for comparisons.
func readView(t testing.TB, f *FSM, buckets, objKeys []string) string {
	t.Helper()
	var sb bytes.Buffer
	bs, err := f.ListBuckets()
	require.NoError(t, err)
	fmt.Fprintf(&sb, "buckets %v\n", bs)
	for _, b := range buckets {
		resp, err := f.ListObjects(&metapb.ListObjectsRequest{Bucket: b})
		fmt.Fprintf(&sb, "list %s: %v %v\n", b, resp, err)
		for _, k := range objKeys {
			v, err := f.GetObject(b, k, "")
			fmt.Fprintf(&sb, "get %s/%s: %v %v\n", b, k, v, err)
		}
	}
	m, err := f.ClusterMap()
	require.NoError(t, err)
	gc, err := f.PendingGC(0)
	require.NoError(t, err)
	fmt.Fprintf(&sb, "map %v\ngc %v\napplied %d\n", m, gc, f.AppliedIndex())
	return sb.String()
}
