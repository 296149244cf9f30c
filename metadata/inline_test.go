package metadata

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func putInline(bucket, key, versionID, dataID string, body []byte) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: &metapb.ObjectVersion{
		Bucket: bucket, Key: key, VersionId: versionID, DataId: dataID, Size: int64(len(body)),
		Etag: "e-" + dataID, MtimeUnixNano: 100, Inline: true, InlineData: body,
	}}}}
}

// TestInlineVersion: an inline version is stored with its body, read back
// whole by GetObject, left out of listings, invisible to the body scans of
// repair and scrub, and replaced without any shard to collect.
func TestInlineVersion(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	body := bytes.Repeat([]byte("inline!"), 600)
	res := h.mustApply(putInline("b", "k", "v1", "d1", body))
	require.True(t, res.GetVersion().GetInline())

	v, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.True(t, v.GetInline())
	require.Equal(t, body, v.GetInlineData())

	list, err := h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b"})
	require.NoError(t, err)
	require.Len(t, list.GetObjects(), 1)
	require.True(t, list.GetObjects()[0].GetInline())
	require.Empty(t, list.GetObjects()[0].GetInlineData(), "listings must not carry bodies")
	vers, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b"})
	require.NoError(t, err)
	require.Len(t, vers.GetVersions(), 1)
	require.Empty(t, vers.GetVersions()[0].GetInlineData())

	bodies, _, err := h.f.ScanBodies(nil, 0)
	require.NoError(t, err)
	require.Empty(t, bodies, "an inline body has nothing on storage nodes")
	_, found, err := h.f.LocateBody("d1")
	require.NoError(t, err)
	require.False(t, found)

	// A replay of the same command answers with the first outcome and
	// stores nothing twice.
	again := h.mustApply(putInline("b", "k", "v1", "d1", body))
	require.Equal(t, res.GetVersion().GetSeq(), again.GetVersion().GetSeq())

	// Overwriting queues a GC entry without shards: the collector
	// acknowledges it at once, which drops the commit record.
	h.mustApply(putObject("b", "k", "null", "d2"))
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, "d1", gc[0].GetDataId())
	require.Empty(t, gc[0].GetShards())
	v, err = h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.False(t, v.GetInline())
}

func TestInlineVersionRejected(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	withShards := putInline("b", "k", "", "d1", []byte("x"))
	withShards.GetPutObject().Version.Shards = []*metapb.ShardPlacement{{NodeId: "n", DriveId: "d"}}
	notInline := putObject("b", "k", "", "d2")
	notInline.GetPutObject().Version.InlineData = []byte("x")
	for name, cmd := range map[string]*metapb.Command{
		"too large":       putInline("b", "k", "", "d0", make([]byte, MaxInlineBytes+1)),
		"with shards":     withShards,
		"no data id":      putInline("b", "k", "", "", []byte("x")),
		"data not inline": notInline,
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, h.apply(cmd).GetCode())
		})
	}
	_, err := h.f.GetObject("b", "k", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
	// The limit itself is accepted.
	h.mustApply(putInline("b", "k", "", "d3", make([]byte, MaxInlineBytes)))
}

// TestInlineSnapshotRestoreAndRestart: the body travels in snapshots and
// survives reopening the database.
func TestInlineSnapshotRestoreAndRestart(t *testing.T) {
	src := newHarness(t)
	src.mustApply(createBucket("b", "o", unversioned))
	body := []byte("small body riding in the log")
	src.mustApply(putInline("b", "k", "", "d1", body))
	var sink memSink
	snap, err := src.f.Snapshot()
	require.NoError(t, err)
	require.NoError(t, snap.Persist(&sink))
	snap.Release()

	dst := newHarness(t)
	require.NoError(t, dst.f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	dst.reopen()
	v, err := dst.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.True(t, v.GetInline())
	require.Equal(t, body, v.GetInlineData())
}

// TestInlineCurrentAfterDelete: when the newest version goes, the older
// inline one becomes current and GetObject still returns its body.
func TestInlineCurrentAfterDelete(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
	old := []byte("the older body")
	h.mustApply(putInline("b", "k", "v1", "d1", old))
	h.mustApply(putInline("b", "k", "v2", "d2", []byte("the newer body")))
	h.mustApply(deleteObject("b", "k", "v2", ""))
	v, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "v1", v.GetVersionId())
	require.Equal(t, old, v.GetInlineData())
	v, err = h.f.GetObject("b", "k", "v1")
	require.NoError(t, err)
	require.Equal(t, old, v.GetInlineData())
}

// TestPutObjectSeesBucketChangesInBatch: PutObjects in one Raft batch share
// one read of their bucket, yet each sees every change to the bucket made
// by an earlier command of the batch (created, versioning enabled,
// deleted).
func TestPutObjectSeesBucketChangesInBatch(t *testing.T) {
	h := newHarness(t)
	body := []byte("small")
	results := h.f.ApplyBatch([]*raft.Log{
		h.log(putInline("b", "k1", "", "d1", body)),
		h.log(createBucket("b", "o", unversioned)),
		h.log(putInline("b", "k2", "", "d2", body)),
		h.log(putInline("b", "k3", "v3", "d3", body)),
		h.log(updateVersioning("b", metapb.VersioningState_VERSIONING_ENABLED)),
		h.log(putInline("b", "k4", "v4", "d4", body)),
		h.log(putInline("b", "k5", "v5", "d5", body)),
	})
	want := []struct {
		code      metapb.ErrorCode
		versionID string
	}{
		{metapb.ErrorCode_NO_SUCH_BUCKET, ""},
		{metapb.ErrorCode_OK, ""},
		{metapb.ErrorCode_OK, "null"},
		{metapb.ErrorCode_OK, "null"},
		{metapb.ErrorCode_OK, ""},
		{metapb.ErrorCode_OK, "v4"},
		{metapb.ErrorCode_OK, "v5"},
	}
	require.Len(t, results, len(want))
	for i, w := range want {
		res, ok := results[i].(*metapb.CommandResult)
		require.True(t, ok, "command %d: %v", i, results[i])
		require.Equal(t, w.code, res.Code, "command %d: %v", i, res)
		require.Equal(t, w.versionID, res.GetVersion().GetVersionId(), "command %d", i)
	}
	v, err := h.f.GetObject("b", "k4", "v4")
	require.NoError(t, err)
	require.Equal(t, body, v.GetInlineData())
}
