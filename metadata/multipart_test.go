package metadata

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func createUpload(bucket, key, id string, initiated int64) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_CreateMultipartUpload{CreateMultipartUpload: &metapb.CreateMultipartUpload{
		Upload: &metapb.MultipartUpload{
			Bucket: bucket, Key: key, UploadId: id, InitiatedUnixNano: initiated,
			Template: &metapb.ObjectVersion{ContentType: "text/plain", UserMetadata: map[string]string{"a": "b"}},
		},
	}}}
}

func putPart(bucket, key, id string, n uint32, dataID string, size int64) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_PutPart{PutPart: &metapb.PutPart{
		Bucket: bucket, Key: key, UploadId: id,
		Part: &metapb.PartInfo{
			Number: n, Size: size, Etag: "etag-" + dataID, DataId: dataID, MtimeUnixNano: 10,
			Profile:   &metapb.ErasureProfile{DataShards: 2, ParityShards: 1, BlockSize: 4096},
			Shards:    []*metapb.ShardPlacement{{NodeId: "n1", DriveId: "d1"}, {NodeId: "n2", DriveId: "d1"}, {NodeId: "n3", DriveId: "d1"}},
			Checksums: map[string]string{"CRC32": "c-" + dataID},
		},
	}}}
}

type listedPart struct {
	n      uint32
	dataID string
}

func complete(bucket, key, id, versionID string, minSize uint32, parts ...listedPart) *metapb.Command {
	c := &metapb.CompleteMultipartUpload{
		Bucket: bucket, Key: key, UploadId: id, MinPartSize: minSize,
		Version: &metapb.ObjectVersion{VersionId: versionID, Etag: "composite-2", MtimeUnixNano: 500, ContentType: "text/plain"},
	}
	for _, p := range parts {
		c.Parts = append(c.Parts, &metapb.CompletePart{Number: p.n, Etag: "etag-" + p.dataID})
	}
	return &metapb.Command{Op: &metapb.Command_CompleteMultipartUpload{CompleteMultipartUpload: c}}
}

func abort(bucket, key, id string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_AbortMultipartUpload{AbortMultipartUpload: &metapb.AbortMultipartUpload{
		Bucket: bucket, Key: key, UploadId: id,
	}}}
}

func gcDataIDs(t *testing.T, f *FSM) []string {
	t.Helper()
	gc, err := f.PendingGC(0)
	require.NoError(t, err)
	var out []string
	for _, e := range gc {
		out = append(out, e.DataId)
	}
	return out
}

func TestMultipartComplete(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(createUpload("b", "k", "u1", 1)) // a retried create is harmless
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
	h.mustApply(putPart("b", "k", "u1", 2, "p2", 100))
	h.mustApply(putPart("b", "k", "u1", 2, "p2", 100)) // retried: same body kept
	h.mustApply(putPart("b", "k", "u1", 2, "p2b", 100))
	h.mustApply(putPart("b", "k", "u1", 3, "p3", 7))
	h.mustApply(putPart("b", "k", "u1", 5, "p5", 7))
	require.Equal(t, []string{"p2"}, gcDataIDs(t, h.f), "replaced part goes to GC")

	_, err := h.f.GetObject("b", "k", "")
	require.ErrorIs(t, err, ErrNoSuchKey, "nothing visible before Complete")

	res := h.mustApply(complete("b", "k", "u1", "", 100, listedPart{1, "p1"}, listedPart{2, "p2b"}, listedPart{3, "p3"}))
	v := res.Version
	require.Equal(t, "null", v.VersionId)
	require.Equal(t, int64(207), v.Size)
	require.Len(t, v.Parts, 3)
	require.Equal(t, []string{"p1", "p2b", "p3"}, []string{v.Parts[0].DataId, v.Parts[1].DataId, v.Parts[2].DataId})
	require.Empty(t, v.DataId)

	got, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "composite-2", got.Etag)
	require.Len(t, got.Parts, 3)
	require.Equal(t, []string{"p2", "p5"}, gcDataIDs(t, h.f), "unlisted part goes to GC")

	_, err = h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "b", Key: "k", UploadId: "u1"})
	require.ErrorIs(t, err, ErrNoSuchUpload, "completed upload is gone")
	res = h.apply(complete("b", "k", "u1", "", 100, listedPart{1, "p1"}))
	require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, res.Code)

	// Overwriting the multipart object queues every part of it.
	h.mustApply(putObject("b", "k", "null", "single"))
	require.Equal(t, []string{"p2", "p5", "p1", "p2b", "p3"}, gcDataIDs(t, h.f))
	// Deleting it queues the single body.
	h.mustApply(deleteObject("b", "k", "", ""))
	require.Equal(t, []string{"p2", "p5", "p1", "p2b", "p3", "single"}, gcDataIDs(t, h.f))
}

func TestMultipartCompleteErrors(t *testing.T) {
	tests := []struct {
		name string
		cmd  *metapb.Command
		want metapb.ErrorCode
	}{
		{"unknown upload", complete("b", "k", "nope", "", 0, listedPart{1, "p1"}), metapb.ErrorCode_NO_SUCH_UPLOAD},
		{"other key", complete("b", "k2", "u1", "", 0, listedPart{1, "p1"}), metapb.ErrorCode_NO_SUCH_UPLOAD},
		{"unknown bucket", complete("nb", "k", "u1", "", 0, listedPart{1, "p1"}), metapb.ErrorCode_NO_SUCH_BUCKET},
		{"no parts", complete("b", "k", "u1", "", 0), metapb.ErrorCode_INVALID_ARGUMENT},
		{"descending", complete("b", "k", "u1", "", 0, listedPart{2, "p2"}, listedPart{1, "p1"}), metapb.ErrorCode_INVALID_PART_ORDER},
		{"repeated", complete("b", "k", "u1", "", 0, listedPart{1, "p1"}, listedPart{1, "p1"}), metapb.ErrorCode_INVALID_PART_ORDER},
		{"missing part", complete("b", "k", "u1", "", 0, listedPart{1, "p1"}, listedPart{4, "p4"}), metapb.ErrorCode_INVALID_PART},
		{"wrong etag", complete("b", "k", "u1", "", 0, listedPart{1, "p2"}), metapb.ErrorCode_INVALID_PART},
		{"small non-last part", complete("b", "k", "u1", "", 50, listedPart{1, "p1"}, listedPart{3, "p3"}, listedPart{2, "p2"}), metapb.ErrorCode_INVALID_PART_ORDER},
		{"too small", complete("b", "k", "u1", "", 50, listedPart{1, "p1"}, listedPart{3, "p3"}), metapb.ErrorCode_OK},
		{"too small middle", complete("b", "k", "u1", "", 50, listedPart{1, "p1"}, listedPart{3, "p3"}, listedPart{4, "x"}), metapb.ErrorCode_ENTITY_TOO_SMALL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createBucket("b", "o", unversioned))
			h.mustApply(createUpload("b", "k", "u1", 1))
			h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
			h.mustApply(putPart("b", "k", "u1", 2, "p2", 100))
			h.mustApply(putPart("b", "k", "u1", 3, "p3", 10))
			h.mustApply(putPart("b", "k", "u1", 4, "x", 10))
			res := h.apply(tc.cmd)
			require.Equal(t, tc.want, res.Code, res.Message)
			if tc.want != metapb.ErrorCode_OK {
				// A rejected Complete changes nothing.
				_, err := h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "b", Key: "k", UploadId: "u1"})
				require.NoError(t, err)
				require.Empty(t, gcDataIDs(t, h.f))
			}
		})
	}
}

func TestMultipartChecksumsAndConditions(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))

	bad := complete("b", "k", "u1", "", 0, listedPart{1, "p1"})
	bad.GetCompleteMultipartUpload().Parts[0].Checksums = map[string]string{"CRC32": "other"}
	require.Equal(t, metapb.ErrorCode_INVALID_PART, h.apply(bad).Code)

	cond := complete("b", "k", "u1", "", 0, listedPart{1, "p1"})
	cond.GetCompleteMultipartUpload().IfMatch = "abc"
	require.Equal(t, metapb.ErrorCode_NO_SUCH_KEY, h.apply(cond).Code)

	h.mustApply(putObject("b", "k", "null", "d1"))
	cond.GetCompleteMultipartUpload().IfMatch = "abc"
	require.Equal(t, metapb.ErrorCode_PRECONDITION_FAILED, h.apply(cond).Code)
	cond.GetCompleteMultipartUpload().IfMatch = ""
	cond.GetCompleteMultipartUpload().IfNoneMatch = true
	require.Equal(t, metapb.ErrorCode_PRECONDITION_FAILED, h.apply(cond).Code)

	good := complete("b", "k", "u1", "", 0, listedPart{1, "p1"})
	good.GetCompleteMultipartUpload().Parts[0].Checksums = map[string]string{"CRC32": "c-p1"}
	good.GetCompleteMultipartUpload().IfMatch = "e-d1"
	h.mustApply(good)
	require.Equal(t, []string{"d1"}, gcDataIDs(t, h.f))
}

func TestMultipartVersioned(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
	h.mustApply(putObject("b", "k", "v1", "d1"))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, h.apply(complete("b", "k", "u1", "", 0, listedPart{1, "p1"})).Code)
	h.mustApply(complete("b", "k", "u1", "v2", 0, listedPart{1, "p1"}))
	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, "v2", cur.VersionId)
	old, err := h.f.GetObject("b", "k", "v1")
	require.NoError(t, err)
	require.Equal(t, "d1", old.DataId)
	require.Empty(t, gcDataIDs(t, h.f))
	h.mustApply(deleteObject("b", "k", "v2", ""))
	require.Equal(t, []string{"p1"}, gcDataIDs(t, h.f))
}

func TestMultipartAbort(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
	h.mustApply(putPart("b", "k", "u1", 2, "p2", 100))
	require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, h.apply(abort("b", "k", "u2")).Code)
	h.mustApply(abort("b", "k", "u1"))
	require.Equal(t, []string{"p1", "p2"}, gcDataIDs(t, h.f))
	require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, h.apply(abort("b", "k", "u1")).Code)
	require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, h.apply(putPart("b", "k", "u1", 3, "p3", 1)).Code)
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, h.apply(putPart("b", "k", "u1", 0, "p0", 1)).Code)
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, h.apply(putPart("b", "k", "u1", MaxPartNumber+1, "p0", 1)).Code)

	// Deleting a bucket aborts its uploads.
	h.mustApply(createUpload("b", "k", "u3", 1))
	h.mustApply(putPart("b", "k", "u3", 1, "p9", 100))
	h.mustApply(deleteBucket("b"))
	require.Equal(t, []string{"p1", "p2", "p9"}, gcDataIDs(t, h.f))
	h.mustApply(createBucket("b", "o", unversioned))
	resp, err := h.f.ListMultipartUploads(&metapb.ListMultipartUploadsRequest{Bucket: "b"})
	require.NoError(t, err)
	require.Empty(t, resp.Uploads)
}

func TestGetMultipartUploadPages(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	for _, n := range []uint32{1, 2, 3, 7, 10, 300, 10000} {
		h.mustApply(putPart("b", "k", "u1", n, fmt.Sprintf("p%d", n), 1))
	}
	numbers := func(ps []*metapb.PartInfo) []uint32 {
		var out []uint32
		for _, p := range ps {
			out = append(out, p.Number)
		}
		return out
	}
	tests := []struct {
		marker, max uint32
		want        []uint32
		truncated   bool
	}{
		{0, 0, []uint32{1, 2, 3, 7, 10, 300, 10000}, false},
		{0, 3, []uint32{1, 2, 3}, true},
		{3, 3, []uint32{7, 10, 300}, true},
		{300, 3, []uint32{10000}, false},
		{5, 0, []uint32{7, 10, 300, 10000}, false},
		{10000, 0, nil, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("marker %d max %d", tc.marker, tc.max), func(t *testing.T) {
			resp, err := h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "b", Key: "k", UploadId: "u1", PartNumberMarker: tc.marker, MaxParts: tc.max})
			require.NoError(t, err)
			require.Equal(t, tc.want, numbers(resp.Parts))
			require.Equal(t, tc.truncated, resp.Truncated)
			require.Equal(t, "text/plain", resp.Upload.Template.ContentType)
		})
	}
	_, err := h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "nb", Key: "k", UploadId: "u1"})
	require.ErrorIs(t, err, ErrNoSuchBucket)
}

func TestListMultipartUploads(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	uploads := [][2]string{
		{"a", "1"}, {"a", "2"}, {"dir/x", "1"}, {"dir/y", "1"}, {"dir/y", "2"}, {"e", "1"}, {"z/q/r", "1"},
	}
	for _, u := range uploads {
		h.mustApply(createUpload("b", u[0], u[1], 1))
	}
	type page struct {
		uploads   []string
		prefixes  []string
		truncated bool
		nextKey   string
		nextID    string
	}
	run := func(req *metapb.ListMultipartUploadsRequest) page {
		req.Bucket = "b"
		resp, err := h.f.ListMultipartUploads(req)
		require.NoError(t, err)
		var p page
		for _, u := range resp.Uploads {
			p.uploads = append(p.uploads, u.Key+"#"+u.UploadId)
		}
		p.prefixes, p.truncated, p.nextKey, p.nextID = resp.CommonPrefixes, resp.Truncated, resp.NextKeyMarker, resp.NextUploadIdMarker
		return p
	}
	tests := []struct {
		name string
		req  *metapb.ListMultipartUploadsRequest
		want page
	}{
		{"all", &metapb.ListMultipartUploadsRequest{}, page{uploads: []string{"a#1", "a#2", "dir/x#1", "dir/y#1", "dir/y#2", "e#1", "z/q/r#1"}}},
		{"max 2", &metapb.ListMultipartUploadsRequest{MaxUploads: 2}, page{uploads: []string{"a#1", "a#2"}, truncated: true, nextKey: "a", nextID: "2"}},
		{"upload id marker", &metapb.ListMultipartUploadsRequest{KeyMarker: "a", UploadIdMarker: "1", MaxUploads: 2}, page{uploads: []string{"a#2", "dir/x#1"}, truncated: true, nextKey: "dir/x", nextID: "1"}},
		{"key marker skips key", &metapb.ListMultipartUploadsRequest{KeyMarker: "a"}, page{uploads: []string{"dir/x#1", "dir/y#1", "dir/y#2", "e#1", "z/q/r#1"}}},
		{"prefix", &metapb.ListMultipartUploadsRequest{Prefix: "dir/"}, page{uploads: []string{"dir/x#1", "dir/y#1", "dir/y#2"}}},
		{"delimiter", &metapb.ListMultipartUploadsRequest{Delimiter: "/"}, page{uploads: []string{"a#1", "a#2", "e#1"}, prefixes: []string{"dir/", "z/"}}},
		{"delimiter paged", &metapb.ListMultipartUploadsRequest{Delimiter: "/", MaxUploads: 3}, page{uploads: []string{"a#1", "a#2"}, prefixes: []string{"dir/"}, truncated: true, nextKey: "dir/"}},
		{"after prefix marker", &metapb.ListMultipartUploadsRequest{Delimiter: "/", KeyMarker: "dir/"}, page{uploads: []string{"e#1"}, prefixes: []string{"z/"}}},
		{"prefix and delimiter", &metapb.ListMultipartUploadsRequest{Prefix: "z/", Delimiter: "/"}, page{prefixes: []string{"z/q/"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, run(tc.req))
		})
	}
}

func TestExpiredUploads(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createBucket("c", "o", unversioned))
	day := int64(dayNanos)
	h.mustApply(createUpload("b", "logs/old", "u1", 1*day))
	h.mustApply(createUpload("b", "logs/new", "u2", 9*day))
	h.mustApply(createUpload("b", "data/old", "u3", 1*day))
	h.mustApply(createUpload("c", "logs/old", "u4", 1*day))
	h.mustApply(&metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: "b", LifecycleRules: []*metapb.LifecycleRule{
			{Id: "r1", Enabled: true, Prefix: "logs/", AbortIncompleteMultipartDays: 3},
			{Id: "off", Enabled: false, Prefix: "", AbortIncompleteMultipartDays: 1},
		}},
		Fields: []string{"lifecycle"},
	}}})
	got, err := h.f.ExpiredUploads(10*day, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "u1", got[0].UploadId)
	h.mustApply(&metapb.Command{Op: &metapb.Command_AbortMultipartUpload{AbortMultipartUpload: got[0]}})
	got, err = h.f.ExpiredUploads(10*day, 0)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = h.f.ExpiredUploads(20*day, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "u2", got[0].UploadId)
}

func TestMultipartSurvivesSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	h.mustApply(createUpload("b", "k", "u1", 1))
	h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
	h.reopen()
	resp, err := h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "b", Key: "k", UploadId: "u1"})
	require.NoError(t, err)
	require.Len(t, resp.Parts, 1)

	other := newHarness(t)
	snap, err := h.f.Snapshot()
	require.NoError(t, err)
	var sink memSink
	require.NoError(t, snap.Persist(&sink))
	snap.Release()
	require.NoError(t, other.f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	require.Equal(t, dump(t, h.f), dump(t, other.f))
}
