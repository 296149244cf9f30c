package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// A proposer retries a command whose commit it could not confirm (the
// leadership was lost), so the FSM may apply one command twice. These tests
// apply the very same command again after other commands and check that the
// replay reports the first outcome and changes nothing.

// versionIDs lists the version IDs stored for bucket/key, newest first.
func versionIDs(t *testing.T, f *FSM, bucket, key string) []string {
	t.Helper()
	resp, err := f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: bucket, Prefix: key})
	require.NoError(t, err)
	var out []string
	for _, v := range resp.Versions {
		if v.Key == key {
			out = append(out, v.VersionId)
		}
	}
	return out
}

func TestPutObjectReplay(t *testing.T) {
	held := putObject("lk", "k", "v1", "d1")
	held.GetPutObject().Version.LegalHold = true
	cases := []struct {
		name   string
		bucket *metapb.Command
		first  *metapb.Command
		// between runs after the first apply and before the replay.
		between     []*metapb.Command
		wantVersion string
		wantCurrent string // data ID of the current version after the replay
		wantGC      []string
	}{
		{
			name:        "default retention protects the committed version",
			bucket:      createLockBucketWithDefault("lk", 1),
			first:       putObject("lk", "k", "v1", "d1"),
			wantVersion: "v1",
			wantCurrent: "d1",
		},
		{
			name:        "legal hold protects the committed version",
			bucket:      createLockBucket("lk"),
			first:       held,
			wantVersion: "v1",
			wantCurrent: "d1",
		},
		{
			name:        "unversioned: a later PUT won and the first body is queued",
			bucket:      createBucket("lk", "o", unversioned),
			first:       putObject("lk", "k", "v1", "d1"),
			between:     []*metapb.Command{putObject("lk", "k", "v2", "d2")},
			wantVersion: nullVersion,
			wantCurrent: "d2",
			wantGC:      []string{"d1"},
		},
		{
			name:        "versioned: the committed version was deleted since",
			bucket:      createBucket("lk", "o", metapb.VersioningState_VERSIONING_ENABLED),
			first:       putObject("lk", "k", "v1", "d1"),
			between:     []*metapb.Command{putObject("lk", "k", "v2", "d2"), deleteObject("lk", "k", "v1", "")},
			wantVersion: "v1",
			wantCurrent: "d2",
			wantGC:      []string{"d1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(tc.bucket)
			first := h.mustApply(tc.first)
			for _, c := range tc.between {
				h.mustApply(c)
			}
			ids := versionIDs(t, h.f, "lk", "k")

			res := h.apply(tc.first)
			require.Equal(t, metapb.ErrorCode_OK, res.Code, "replay must report the commit: %v", res)
			require.Equal(t, tc.wantVersion, res.GetVersion().GetVersionId())
			require.Equal(t, first.GetVersion().GetSeq(), res.GetVersion().GetSeq())

			cur, err := h.f.GetObject("lk", "k", "")
			require.NoError(t, err)
			require.Equal(t, tc.wantCurrent, cur.DataId)
			require.Equal(t, ids, versionIDs(t, h.f, "lk", "k"), "replay must not add or remove versions")
			require.Equal(t, tc.wantGC, gcDataIDs(t, h.f), "replay must not queue a live body")
		})
	}
}

func TestPutObjectReplayChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createLockBucketWithDefault("lk", 1))
	put := putObject("lk", "k", "v1", "d1")
	h.mustApply(put)
	h.mustApply(putObject("lk", "k", "v2", "d2"))
	before := readView(t, h.f, []string{"lk"}, []string{"k"})
	h.mustApply(put)
	after := readView(t, h.f, []string{"lk"}, []string{"k"})
	require.Equal(t, before[:len(before)-len("applied 3\n")], after[:len(after)-len("applied 4\n")])
}

func TestPutObjectDataIDOfAnotherObject(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(putObject("b", "k", "v1", "d1"))
	res := h.apply(putObject("b", "other", "v1", "d1"))
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, res.Code, "a body belongs to one object: %v", res)
	_, err := h.f.GetObject("b", "other", "")
	require.ErrorIs(t, err, ErrNoSuchKey)
}

func TestPutObjectAfterGCAck(t *testing.T) {
	// Once the body of a removed version is collected, its data ID is
	// forgotten: the idempotence table does not grow without bound.
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(putObject("b", "k", "v1", "d1"))
	h.mustApply(putObject("b", "k", "v2", "d2"))
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	h.mustApply(ackGC(gc[0].Seq))
	h.mustApply(putObject("b", "k", "v3", "d3"))
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, "d2", gc[0].DataId)
	h.mustApply(ackGC(gc[0].Seq))
	// The row of d2 is gone: a put of d2 is a new commit again.
	res := h.mustApply(putObject("b", "k", "v4", "d2"))
	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "d2", cur.DataId)
	require.Equal(t, res.Version.Seq, cur.Seq)
}

func TestPutPartReplay(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	first := putPart("b", "k", "u1", 1, "p1", 100)
	h.mustApply(first)
	h.mustApply(putPart("b", "k", "u1", 1, "p1b", 100)) // the client re-sent the part
	require.Equal(t, []string{"p1"}, gcDataIDs(t, h.f))

	h.mustApply(first) // the gateway's retry of the first commit
	up, err := h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "b", Key: "k", UploadId: "u1"})
	require.NoError(t, err)
	require.Len(t, up.Parts, 1)
	require.Equal(t, "p1b", up.Parts[0].DataId, "a replay must not bring back a body queued for GC")
	require.Equal(t, []string{"p1"}, gcDataIDs(t, h.f))

	// After Complete the replay must not fail either: the gateway would
	// delete a body the object now uses.
	h.mustApply(complete("b", "k", "u1", "v1", 0, listedPart{1, "p1b"}))
	require.Equal(t, metapb.ErrorCode_OK, h.apply(putPart("b", "k", "u1", 1, "p1b", 100)).Code)
	require.Equal(t, []string{"p1"}, gcDataIDs(t, h.f))
}

func TestCompleteMultipartReplay(t *testing.T) {
	for _, vs := range []metapb.VersioningState{unversioned, metapb.VersioningState_VERSIONING_ENABLED} {
		t.Run(vs.String(), func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createBucket("b", "o", vs))
			h.mustApply(createUpload("b", "k", "u1", 1))
			h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
			h.mustApply(putPart("b", "k", "u1", 2, "p2", 7))
			h.mustApply(putPart("b", "k", "u1", 3, "p3", 7))
			done := complete("b", "k", "u1", "v1", 0, listedPart{1, "p1"}, listedPart{2, "p2"})
			first := h.mustApply(done)
			h.mustApply(putObject("b", "k", "v2", "d2"))
			ids := versionIDs(t, h.f, "b", "k")
			gc := gcDataIDs(t, h.f)

			res := h.apply(done)
			require.Equal(t, metapb.ErrorCode_OK, res.Code, "replayed Complete must report the commit: %v", res)
			require.Equal(t, first.Version.VersionId, res.Version.VersionId)
			require.Equal(t, first.Version.Seq, res.Version.Seq)
			require.Equal(t, ids, versionIDs(t, h.f, "b", "k"))
			require.Equal(t, gc, gcDataIDs(t, h.f))
		})
	}
}

// commitRows counts the rows of a commit-record table.
func commitRows(t *testing.T, f *FSM, table byte) int {
	t.Helper()
	db, err := f.acquire()
	require.NoError(t, err)
	defer f.mu.RUnlock()
	n := 0
	require.NoError(t, scan(db, keys.TablePrefix(table), 0, func(_, _ []byte) error { n++; return nil }))
	return n
}

// TestCommitRecordsAreCollected: once every body is collected, no commit
// record is left, and a replay arriving after that no longer finds one.
func TestCommitRecordsAreCollected(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(putObject("b", "k", "v1", "d1"))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
	h.mustApply(putPart("b", "k", "u1", 2, "p2", 100))
	h.mustApply(putPart("b", "k", "u1", 3, "p3", 100))
	done := complete("b", "k", "u1", "v2", 0, listedPart{1, "p1"}, listedPart{2, "p2"})
	h.mustApply(done)
	// A Complete whose only part is empty has no body to collect.
	h.mustApply(createUpload("b", "e", "u2", 1))
	h.mustApply(putPart("b", "e", "u2", 1, "", 0))
	h.mustApply(complete("b", "e", "u2", "v3", 0, listedPart{1, ""}))
	require.Equal(t, 4, commitRows(t, h.f, keys.TableBody))
	require.Equal(t, 2, commitRows(t, h.f, keys.TableCompleted))

	h.mustApply(deleteObject("b", "k", "", ""))
	h.mustApply(deleteObject("b", "e", "", ""))
	require.Equal(t, 1, commitRows(t, h.f, keys.TableCompleted), "the record of a bodiless version goes with it")
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	var seqs []uint64
	for _, e := range gc {
		seqs = append(seqs, e.Seq)
	}
	h.mustApply(ackGC(seqs...))
	require.Zero(t, commitRows(t, h.f, keys.TableBody))
	require.Zero(t, commitRows(t, h.f, keys.TableCompleted))
	require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, h.apply(done).Code)
}

// TestCompleteAgainIsNotAReplay: another Complete of a completed upload
// (a new request, not the same command) still finds no upload.
func TestCompleteAgainIsNotAReplay(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
	h.mustApply(complete("b", "k", "u1", "v1", 0, listedPart{1, "p1"}))
	again := complete("b", "k", "u1", "v2", 0, listedPart{1, "p1"})
	again.GetCompleteMultipartUpload().Version.MtimeUnixNano++
	require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, h.apply(again).Code)
}
