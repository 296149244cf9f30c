package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
)

// testMinPart is the minimum part size in these tests, small so that
// tests move little data; e2e tests use S3's 5 MiB.
const testMinPart = 100 << 10

// newMultipartEnv is a gateway over the real metadata state machine and
// the real erasure-coded store on fake storage nodes.
func newMultipartEnv(t *testing.T) *testEnv {
	t.Helper()
	cl := objiotest.NewCluster(t, 6)
	pool := objio.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	store, err := objio.New(objio.Config{Maps: cl.Maps, Dialer: pool})
	require.NoError(t, err)
	meta := metatest.New(t)
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = NewMetaClient(meta)
		c.Bodies = store
		c.MinPartSize = testMinPart
	}})
	return e
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// upload runs a whole multipart upload of parts and returns the upload ID
// and the completed parts.
func (e *testEnv) upload(bucket, key string, parts [][]byte, create func(*s3.CreateMultipartUploadInput)) (string, []types.CompletedPart) {
	e.t.Helper()
	ctx := context.Background()
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if create != nil {
		create(in)
	}
	out, err := e.client.CreateMultipartUpload(ctx, in)
	require.NoError(e.t, err)
	id := aws.ToString(out.UploadId)
	var done []types.CompletedPart
	for i, p := range parts {
		n := int32(i + 1)
		pin := &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(n), Body: bytes.NewReader(p)}
		if in.ChecksumAlgorithm != "" {
			pin.ChecksumAlgorithm = in.ChecksumAlgorithm
		}
		up, err := e.client.UploadPart(ctx, pin)
		require.NoError(e.t, err)
		sum := md5.Sum(p)
		require.Equal(e.t, `"`+hex.EncodeToString(sum[:])+`"`, aws.ToString(up.ETag))
		done = append(done, types.CompletedPart{
			PartNumber: aws.Int32(n), ETag: up.ETag,
			ChecksumCRC32: up.ChecksumCRC32, ChecksumCRC32C: up.ChecksumCRC32C, ChecksumCRC64NVME: up.ChecksumCRC64NVME,
			ChecksumSHA1: up.ChecksumSHA1, ChecksumSHA256: up.ChecksumSHA256,
		})
	}
	return id, done
}

func (e *testEnv) complete(bucket, key, id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return e.client.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
}

func expectedETag(parts [][]byte) string {
	h := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	return fmt.Sprintf(`"%x-%d"`, h.Sum(nil), len(parts))
}

func TestMultipartRoundTrip(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	parts := [][]byte{randBytes(1, testMinPart+1000), randBytes(2, testMinPart), randBytes(3, 12345)}
	id, done := e.upload("bkt", "big/obj", parts, func(in *s3.CreateMultipartUploadInput) {
		in.ContentType = aws.String("text/x-test")
		in.Metadata = map[string]string{"color": "blue"}
	})

	// Nothing is visible before Complete, and the upload is listed.
	_, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big/obj")})
	require.Error(t, err)
	lu, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	require.Len(t, lu.Uploads, 1)
	require.Equal(t, id, aws.ToString(lu.Uploads[0].UploadId))

	lp, err := e.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big/obj"), UploadId: aws.String(id)})
	require.NoError(t, err)
	require.Len(t, lp.Parts, 3)
	require.Equal(t, int64(12345), aws.ToInt64(lp.Parts[2].Size))

	out, err := e.complete("bkt", "big/obj", id, done)
	require.NoError(t, err)
	require.Equal(t, expectedETag(parts), aws.ToString(out.ETag))

	whole := bytes.Join(parts, nil)
	got, gout := e.get("bkt", "big/obj")
	require.True(t, bytes.Equal(whole, got), "body differs")
	require.Equal(t, expectedETag(parts), aws.ToString(gout.ETag))
	require.Equal(t, "text/x-test", aws.ToString(gout.ContentType))
	require.Equal(t, "blue", gout.Metadata["color"])

	// Every Range form, across part boundaries.
	b1, b2 := len(parts[0]), len(parts[0])+len(parts[1])
	n := len(whole)
	ranges := []struct {
		spec       string
		start, end int
	}{
		{fmt.Sprintf("bytes=%d-%d", b1-1, b1), b1 - 1, b1},
		{fmt.Sprintf("bytes=%d-%d", b1, b2-1), b1, b2 - 1},
		{fmt.Sprintf("bytes=%d-%d", b1-10, b2+10), b1 - 10, b2 + 10},
		{fmt.Sprintf("bytes=%d-", b2-1), b2 - 1, n - 1},
		{"bytes=-12346", n - 12346, n - 1},
		{"bytes=0-0", 0, 0},
		{fmt.Sprintf("bytes=%d-%d", 64<<10-1, 192<<10), 64<<10 - 1, 192 << 10},
	}
	for _, r := range ranges {
		got, out := e.get("bkt", "big/obj", func(in *s3.GetObjectInput) { in.Range = aws.String(r.spec) })
		require.True(t, bytes.Equal(whole[r.start:r.end+1], got), "range %s", r.spec)
		require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, n), aws.ToString(out.ContentRange))
	}

	// partNumber returns one part.
	for i, p := range parts {
		got, out := e.get("bkt", "big/obj", func(in *s3.GetObjectInput) { in.PartNumber = aws.Int32(int32(i + 1)) })
		require.True(t, bytes.Equal(p, got), "part %d", i+1)
		require.Equal(t, int32(3), aws.ToInt32(out.PartsCount))
	}
	head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big/obj"), PartNumber: aws.Int32(2)})
	require.NoError(t, err)
	require.Equal(t, int64(len(parts[1])), aws.ToInt64(head.ContentLength))
	require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", b1, b2-1, n), aws.ToString(head.ContentRange))
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big/obj"), PartNumber: aws.Int32(4)})
	requireS3Error(t, err, "InvalidPartNumber", 416)
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big/obj"), PartNumber: aws.Int32(1), Range: aws.String("bytes=0-1")})
	requireS3Error(t, err, "InvalidRequest", 400)

	// A simple object is its own part 1.
	e.put("bkt", "simple", []byte("hello"))
	got, out = nil, nil
	got, gout = e.get("bkt", "simple", func(in *s3.GetObjectInput) { in.PartNumber = aws.Int32(1) })
	require.Equal(t, "hello", string(got))
	require.Equal(t, "bytes 0-4/5", aws.ToString(gout.ContentRange))
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("simple"), PartNumber: aws.Int32(2)})
	requireS3Error(t, err, "InvalidPartNumber", 416)

	lu, err = e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	require.Empty(t, lu.Uploads)
}

func TestMultipartReuploadAndGC(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	meta := e.srvMeta(t)
	parts := [][]byte{randBytes(1, testMinPart), randBytes(2, 10)}
	id, done := e.upload("bkt", "k", parts, nil)
	// Part 2 uploaded again: the last one counts.
	again := randBytes(3, 20)
	up, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id), PartNumber: aws.Int32(2), Body: bytes.NewReader(again)})
	require.NoError(t, err)
	// Completing with the old ETag of part 2 fails.
	_, err = e.complete("bkt", "k", id, done)
	requireS3Error(t, err, "InvalidPart", 400)
	done[1] = types.CompletedPart{PartNumber: aws.Int32(2), ETag: up.ETag}
	// A part 3 that Complete leaves out goes to GC.
	_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id), PartNumber: aws.Int32(3), Body: bytes.NewReader([]byte("left out"))})
	require.NoError(t, err)
	_, err = e.complete("bkt", "k", id, done)
	require.NoError(t, err)
	got, _ := e.get("bkt", "k")
	require.True(t, bytes.Equal(append(append([]byte(nil), parts[0]...), again...), got))
	gc, err := meta.FSM.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 2, "replaced part 2 and unused part 3")

	// An aborted upload's parts go to GC too.
	id2, _ := e.upload("bkt", "k2", [][]byte{[]byte("x"), []byte("y")}, nil)
	_, err = e.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k2"), UploadId: aws.String(id2)})
	require.NoError(t, err)
	gc, err = meta.FSM.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 4)
}

// srvMeta digs out the FSM-backed meta of a multipart env.
func (e *testEnv) srvMeta(t *testing.T) *metatest.Client {
	t.Helper()
	gw, ok := e.srv.Config.Handler.(*Gateway)
	require.True(t, ok)
	mc, ok := gw.cfg.Meta.(*MetaClient)
	require.True(t, ok)
	m, ok := mc.c.(*metatest.Client)
	require.True(t, ok)
	return m
}

func TestMultipartErrors(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	small := [][]byte{randBytes(1, 1000), randBytes(2, 1000)}
	id, done := e.upload("bkt", "k", small, nil)

	_, err := e.complete("bkt", "k", id, done)
	requireS3Error(t, err, "EntityTooSmall", 400)
	_, err = e.complete("bkt", "k", id, []types.CompletedPart{done[1], done[0]})
	requireS3Error(t, err, "InvalidPartOrder", 400)
	_, err = e.complete("bkt", "k", id, []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"00000000000000000000000000000000"`)}})
	requireS3Error(t, err, "InvalidPart", 400)
	_, err = e.complete("bkt", "k", id, []types.CompletedPart{{PartNumber: aws.Int32(7), ETag: done[0].ETag}})
	requireS3Error(t, err, "InvalidPart", 400)
	_, err = e.complete("bkt", "k", "nope", done[:1])
	requireS3Error(t, err, "NoSuchUpload", 404)
	_, err = e.complete("bkt", "other", id, done[:1])
	requireS3Error(t, err, "NoSuchUpload", 404)
	_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String("nope"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	requireS3Error(t, err, "NoSuchUpload", 404)
	for _, n := range []int32{0, 10001} {
		_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id), PartNumber: aws.Int32(n), Body: strings.NewReader("x")})
		requireS3Error(t, err, "InvalidArgument", 400)
	}
	_, err = e.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String("nope")})
	requireS3Error(t, err, "NoSuchUpload", 404)
	_, err = e.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String("nope")})
	requireS3Error(t, err, "NoSuchUpload", 404)
	_, err = e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	requireS3Error(t, err, "NoSuchBucket", 404)
	_, err = e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumType: types.ChecksumTypeFullObject})
	requireS3Error(t, err, "InvalidRequest", 400)

	for _, body := range []string{"", "<CompleteMultipartUpload></CompleteMultipartUpload>", "not xml"} {
		req := e.signedRequest(http.MethodPost, "/bkt/k?uploadId="+id, strings.NewReader(body), int64(len(body)), nil)
		resp, data := e.do(req)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body %q", body)
		require.Contains(t, string(data), "<Code>MalformedXML</Code>")
	}

	// Complete with the last part small is fine; the upload is then gone,
	// and a repeat answers the same result (see
	// TestCompleteMultipartUploadRepeated) until the object changes.
	_, err = e.complete("bkt", "k", id, done[1:])
	require.NoError(t, err)
	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = e.complete("bkt", "k", id, done[1:])
	requireS3Error(t, err, "NoSuchUpload", 404)
}

func TestMultipartChecksums(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	parts := [][]byte{randBytes(1, testMinPart+3), randBytes(2, testMinPart), randBytes(3, 77)}
	whole := bytes.Join(parts, nil)
	sumOf := func(a checksum.Algorithm, b []byte) string {
		h := a.New()
		h.Write(b)
		return checksum.Encode(h.Sum(nil))
	}
	tests := []struct {
		alg  types.ChecksumAlgorithm
		typ  types.ChecksumType
		want func() string
	}{
		{types.ChecksumAlgorithmCrc64nvme, "", func() string { return sumOf(checksum.CRC64NVME, whole) }},
		{types.ChecksumAlgorithmCrc32, types.ChecksumTypeFullObject, func() string { return sumOf(checksum.CRC32, whole) }},
		{types.ChecksumAlgorithmCrc32c, types.ChecksumTypeFullObject, func() string { return sumOf(checksum.CRC32C, whole) }},
		{types.ChecksumAlgorithmCrc32, types.ChecksumTypeComposite, func() string {
			v, _ := checksum.Composite(checksum.CRC32, []string{sumOf(checksum.CRC32, parts[0]), sumOf(checksum.CRC32, parts[1]), sumOf(checksum.CRC32, parts[2])})
			return v
		}},
		{types.ChecksumAlgorithmSha256, "", func() string {
			v, _ := checksum.Composite(checksum.SHA256, []string{sumOf(checksum.SHA256, parts[0]), sumOf(checksum.SHA256, parts[1]), sumOf(checksum.SHA256, parts[2])})
			return v
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.alg)+" "+string(tc.typ), func(t *testing.T) {
			key := "ck-" + string(tc.alg) + string(tc.typ)
			id, done := e.upload("bkt", key, parts, func(in *s3.CreateMultipartUploadInput) {
				in.ChecksumAlgorithm, in.ChecksumType = tc.alg, tc.typ
			})
			out, err := e.complete("bkt", key, id, done)
			require.NoError(t, err)
			alg := checksum.Algorithm(tc.alg)
			got := map[checksum.Algorithm]string{
				checksum.CRC32: aws.ToString(out.ChecksumCRC32), checksum.CRC32C: aws.ToString(out.ChecksumCRC32C),
				checksum.CRC64NVME: aws.ToString(out.ChecksumCRC64NVME), checksum.SHA256: aws.ToString(out.ChecksumSHA256),
			}[alg]
			require.Equal(t, tc.want(), got)
			head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			require.NoError(t, err)
			wantType := types.ChecksumTypeComposite
			if tc.typ == types.ChecksumTypeFullObject || tc.alg == types.ChecksumAlgorithmCrc64nvme {
				wantType = types.ChecksumTypeFullObject
			}
			require.Equal(t, wantType, head.ChecksumType)
		})
	}

	// A part whose checksum is of another algorithm than the upload's is refused.
	out, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mix"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	require.NoError(t, err)
	_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mix"), UploadId: out.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader([]byte("abc")), ChecksumAlgorithm: types.ChecksumAlgorithmSha1})
	requireS3Error(t, err, "InvalidRequest", 400)
	// A wrong checksum value is BadDigest.
	_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mix"), UploadId: out.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader([]byte("abc")), ChecksumCRC32: aws.String(sumOf(checksum.CRC32, []byte("abd")))})
	require.Error(t, err)
}

func TestListMultipartUploadsParams(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	var ids []string
	for _, k := range []string{"a", "a", "dir/x", "dir/y", "e"} {
		out, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(k)})
		require.NoError(t, err)
		ids = append(ids, aws.ToString(out.UploadId))
	}
	out, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/")})
	require.NoError(t, err)
	require.Len(t, out.Uploads, 3)
	require.Len(t, out.CommonPrefixes, 1)
	require.Equal(t, "dir/", aws.ToString(out.CommonPrefixes[0].Prefix))

	out, err = e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), MaxUploads: aws.Int32(1)})
	require.NoError(t, err)
	require.True(t, aws.ToBool(out.IsTruncated))
	require.Equal(t, "a", aws.ToString(out.NextKeyMarker))
	out, err = e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), KeyMarker: out.NextKeyMarker, UploadIdMarker: out.NextUploadIdMarker})
	require.NoError(t, err)
	require.Len(t, out.Uploads, 4)
	require.Equal(t, ids[1], aws.ToString(out.Uploads[0].UploadId))

	out, err = e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt"), Prefix: aws.String("dir/")})
	require.NoError(t, err)
	require.Len(t, out.Uploads, 2)
	_, err = e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("nob")})
	requireS3Error(t, err, "NoSuchBucket", 404)

	lp, err := e.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("a"), UploadId: aws.String(ids[0])})
	require.NoError(t, err)
	require.Empty(t, lp.Parts)
}

func TestListPartsPaging(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	id, _ := e.upload("bkt", "k", [][]byte{{1}, {2}, {3}, {4}, {5}}, nil)
	var seen []int32
	var marker *string
	for {
		out, err := e.client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(id), MaxParts: aws.Int32(2), PartNumberMarker: marker})
		require.NoError(t, err)
		for _, p := range out.Parts {
			seen = append(seen, aws.ToInt32(p.PartNumber))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = out.NextPartNumberMarker
	}
	require.Equal(t, []int32{1, 2, 3, 4, 5}, seen)
}

func TestCopyObject(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("src")
	e.createBucket("dst")
	data := randBytes(9, 300<<10)
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("o"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/a"), Metadata: map[string]string{"m": "1"}})
	require.NoError(t, err)

	out, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c1"), CopySource: aws.String("src/o")})
	require.NoError(t, err)
	sum := md5.Sum(data)
	require.Equal(t, fmt.Sprintf(`"%x"`, sum), aws.ToString(out.CopyObjectResult.ETag))
	got, gout := e.get("dst", "c1")
	require.True(t, bytes.Equal(data, got))
	require.Equal(t, "text/a", aws.ToString(gout.ContentType))
	require.Equal(t, "1", gout.Metadata["m"])

	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c2"), CopySource: aws.String("/src/o"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/b"), Metadata: map[string]string{"n": "2"}})
	require.NoError(t, err)
	_, gout = e.get("dst", "c2")
	require.Equal(t, "text/b", aws.ToString(gout.ContentType))
	require.Equal(t, map[string]string{"n": "2"}, gout.Metadata)

	// Onto itself: only with a change.
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("o"), CopySource: aws.String("src/o")})
	requireS3Error(t, err, "InvalidRequest", 400)
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("o"), CopySource: aws.String("src/o"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"m": "3"}})
	require.NoError(t, err)
	got, gout = e.get("src", "o")
	require.True(t, bytes.Equal(data, got))
	require.Equal(t, "3", gout.Metadata["m"])

	// Conditions.
	etag := fmt.Sprintf(`"%x"`, sum)
	conds := []struct {
		name string
		in   func(*s3.CopyObjectInput)
		ok   bool
	}{
		{"if-match", func(in *s3.CopyObjectInput) { in.CopySourceIfMatch = aws.String(etag) }, true},
		{"if-match fails", func(in *s3.CopyObjectInput) { in.CopySourceIfMatch = aws.String(`"nope"`) }, false},
		{"if-none-match", func(in *s3.CopyObjectInput) { in.CopySourceIfNoneMatch = aws.String(`"nope"`) }, true},
		{"if-none-match fails", func(in *s3.CopyObjectInput) { in.CopySourceIfNoneMatch = aws.String(etag) }, false},
	}
	for _, c := range conds {
		t.Run(c.name, func(t *testing.T) {
			in := &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("cond"), CopySource: aws.String("src/o")}
			c.in(in)
			_, err := e.client.CopyObject(ctx, in)
			if c.ok {
				require.NoError(t, err)
			} else {
				requireS3Error(t, err, "PreconditionFailed", 412)
			}
		})
	}
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
	requireS3Error(t, err, "NoSuchKey", 404)
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("nob"), Key: aws.String("x"), CopySource: aws.String("src/o")})
	requireS3Error(t, err, "NoSuchBucket", 404)

	// A multipart source copies into a plain object with an MD5 ETag.
	parts := [][]byte{randBytes(11, testMinPart), randBytes(12, 999)}
	id, done := e.upload("src", "mp", parts, nil)
	_, err = e.complete("src", "mp", id, done)
	require.NoError(t, err)
	out, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("mpcopy"), CopySource: aws.String("src/mp")})
	require.NoError(t, err)
	whole := bytes.Join(parts, nil)
	wsum := md5.Sum(whole)
	require.Equal(t, fmt.Sprintf(`"%x"`, wsum), aws.ToString(out.CopyObjectResult.ETag))
	got, _ = e.get("dst", "mpcopy")
	require.True(t, bytes.Equal(whole, got))
}

func TestUploadPartCopy(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	parts := [][]byte{randBytes(21, testMinPart+10), randBytes(22, 5000)}
	id, done := e.upload("bkt", "srcmp", parts, nil)
	_, err := e.complete("bkt", "srcmp", id, done)
	require.NoError(t, err)
	src := bytes.Join(parts, nil)

	out, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("dst")})
	require.NoError(t, err)
	// Part 1: a range straddling the source's part boundary; part 2: all.
	from, to := 100, testMinPart+5000 // inclusive
	c1, err := e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: out.UploadId, PartNumber: aws.Int32(1),
		CopySource: aws.String("bkt/srcmp"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", from, to))})
	require.NoError(t, err)
	c2, err := e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: out.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("bkt/srcmp")})
	require.NoError(t, err)
	_, err = e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: out.UploadId, PartNumber: aws.Int32(3),
		CopySource: aws.String("bkt/srcmp"), CopySourceRange: aws.String(fmt.Sprintf("bytes=0-%d", len(src)))})
	requireS3Error(t, err, "InvalidRange", 416)
	_, err = e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: out.UploadId, PartNumber: aws.Int32(3),
		CopySource: aws.String("bkt/srcmp"), CopySourceRange: aws.String("bytes=5-")})
	requireS3Error(t, err, "InvalidArgument", 400)
	_, err = e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: aws.String("nope"), PartNumber: aws.Int32(3),
		CopySource: aws.String("bkt/srcmp")})
	requireS3Error(t, err, "NoSuchUpload", 404)

	_, err = e.complete("bkt", "dst", aws.ToString(out.UploadId), []types.CompletedPart{
		{PartNumber: aws.Int32(1), ETag: c1.CopyPartResult.ETag},
		{PartNumber: aws.Int32(2), ETag: c2.CopyPartResult.ETag},
	})
	require.NoError(t, err)
	got, _ := e.get("bkt", "dst")
	want := append(append([]byte(nil), src[from:to+1]...), src...)
	require.True(t, bytes.Equal(want, got))
}

func TestBucketLifecycle(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	_, err := e.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("bkt")})
	requireS3Error(t, err, "NoSuchLifecycleConfiguration", 404)
	_, err = e.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("bkt"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("abort"), Status: types.ExpirationStatusEnabled,
			Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(3)},
		}}}})
	require.NoError(t, err)
	out, err := e.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	require.Len(t, out.Rules, 1)
	require.Equal(t, int32(3), aws.ToInt32(out.Rules[0].AbortIncompleteMultipartUpload.DaysAfterInitiation))
	require.Equal(t, "tmp/", aws.ToString(out.Rules[0].Filter.Prefix))

	bk, err := e.srvMeta(t).FSM.GetBucket("bkt")
	require.NoError(t, err)
	require.Len(t, bk.LifecycleRules, 1)
	require.Equal(t, uint32(3), bk.LifecycleRules[0].AbortIncompleteMultipartDays)
	require.Equal(t, "tmp/", bk.LifecycleRules[0].Prefix)

	_, err = e.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("bkt"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("bad"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(0)},
		}}}})
	requireS3Error(t, err, "InvalidArgument", 400)

	_, err = e.client.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	_, err = e.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("bkt")})
	requireS3Error(t, err, "NoSuchLifecycleConfiguration", 404)
}

func TestMultipartSSEC(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	ckAlg, ckKey, ckMD5 := customerKeyInput(randBytes(5, 32))
	parts := [][]byte{randBytes(6, testMinPart+70000), randBytes(7, 9999)}
	id, done := e.upload("bkt", "enc", nil, func(in *s3.CreateMultipartUploadInput) {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ckAlg, ckKey, ckMD5
	})
	require.Empty(t, done)
	for i, p := range parts {
		_, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("enc"), UploadId: aws.String(id),
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		requireS3Error(t, err, "InvalidRequest", 400) // the upload's key is required
		up, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("enc"), UploadId: aws.String(id),
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
			SSECustomerAlgorithm: ckAlg, SSECustomerKey: ckKey, SSECustomerKeyMD5: ckMD5})
		require.NoError(t, err)
		sum := md5.Sum(p)
		require.Equal(t, fmt.Sprintf(`"%x"`, sum), aws.ToString(up.ETag), "part ETag is the plaintext MD5")
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	_, err := e.complete("bkt", "enc", id, done)
	require.NoError(t, err)

	whole := bytes.Join(parts, nil)
	withKey := func(in *s3.GetObjectInput) {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ckAlg, ckKey, ckMD5
	}
	got, _ := e.get("bkt", "enc", withKey)
	require.True(t, bytes.Equal(whole, got), "decrypted body differs")
	b := len(parts[0])
	got, _ = e.get("bkt", "enc", withKey, func(in *s3.GetObjectInput) { in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", b-70000, b+100)) })
	require.True(t, bytes.Equal(whole[b-70000:b+101], got), "decrypted range differs")
	got, _ = e.get("bkt", "enc", withKey, func(in *s3.GetObjectInput) { in.PartNumber = aws.Int32(2) })
	require.True(t, bytes.Equal(parts[1], got))
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("enc")})
	requireS3Error(t, err, "InvalidRequest", 400)
	// A copy needs the source's key, and decrypts part by part.
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("c"), CopySource: aws.String("bkt/enc")})
	requireS3Error(t, err, "InvalidRequest", 400)
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("c"), CopySource: aws.String("bkt/enc"),
		CopySourceSSECustomerAlgorithm: ckAlg, CopySourceSSECustomerKey: ckKey, CopySourceSSECustomerKeyMD5: ckMD5})
	require.NoError(t, err)
	got, _ = e.get("bkt", "c")
	require.True(t, bytes.Equal(whole, got), "copy of the multipart source differs")
}
