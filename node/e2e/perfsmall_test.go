package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// perfSmallInlineMax is the inline threshold of TestPerfSmallInline's
// cluster: small enough that a "large" body stays cheap.
const perfSmallInlineMax = 16 << 10

// storageFileCount counts the files under every storage node's data
// directory: an inline PUT must not change it.
func storageFileCount(t *testing.T, c *cluster) int {
	t.Helper()
	n := 0
	for _, name := range c.layout.Names("storage") {
		p, _ := c.layout.Proc(name)
		err := filepath.WalkDir(filepath.Join(c.layout.Dir, p.DataDir), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return err
		})
		require.NoError(t, err)
	}
	return n
}

// metaFilesContain reports whether any file of a meta voter's data
// directory contains pattern.
func metaFilesContain(t *testing.T, c *cluster, pattern []byte) bool {
	t.Helper()
	found := false
	for _, name := range c.layout.Names("meta") {
		p, _ := c.layout.Proc(name)
		err := filepath.WalkDir(filepath.Join(c.layout.Dir, p.DataDir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || found {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil // a file removed under us (compaction) is no match
			}
			found = bytes.Contains(b, pattern)
			return nil
		})
		require.NoError(t, err)
	}
	return found
}

// TestPerfSmallInline runs small objects through real processes: bodies up
// to --inline-max-bytes ride in the meta group's log and write no shard
// file, and every read path serves them (GET, ranges, conditionals, HEAD,
// checksums, SSE-S3 and SSE-C, versions, CopyObject both ways,
// UploadPartCopy). They depend on the meta group only: with two storage
// nodes stopped they are read and written as usual, and they survive a
// kill and restart of every meta voter.
func TestPerfSmallInline(t *testing.T) {
	c := startCluster(t, "CAIRN_INLINE_MAX_BYTES="+strconv.Itoa(perfSmallInlineMax))
	ctx := ctxT(t, 4*time.Minute)
	const bucket = "small"
	c.mustCreateBucket(ctx, bucket)

	small := body(1, 4<<10)
	sum := md5.Sum(small)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	sha := sha256.Sum256(small)
	files := storageFileCount(t, c)

	out, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"),
		Body: bytes.NewReader(small), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	require.NoError(t, err)
	require.Equal(t, etag, aws.ToString(out.ETag))
	require.Equal(t, base64.StdEncoding.EncodeToString(sha[:]), aws.ToString(out.ChecksumSHA256))
	require.Equal(t, files, storageFileCount(t, c), "an inline PUT writes no shard file")

	t.Run("reads", func(t *testing.T) {
		got, err := c.get(ctx, bucket, "a")
		require.NoError(t, err)
		require.Equal(t, small, got)

		g, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), Range: aws.String("bytes=100-1123")})
		require.NoError(t, err)
		part, err := io.ReadAll(g.Body)
		g.Body.Close()
		require.NoError(t, err)
		require.Equal(t, small[100:1124], part)
		require.Equal(t, "bytes 100-1123/4096", aws.ToString(g.ContentRange))

		_, err = c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), IfNoneMatch: aws.String(etag)})
		requireAPIError(t, err, "NotModified", http.StatusNotModified)
		_, err = c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), IfMatch: aws.String(`"0000"`)})
		requireAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)

		h, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), ChecksumMode: types.ChecksumModeEnabled})
		require.NoError(t, err)
		require.EqualValues(t, len(small), aws.ToInt64(h.ContentLength))
		require.Equal(t, etag, aws.ToString(h.ETag))
		require.Equal(t, base64.StdEncoding.EncodeToString(sha[:]), aws.ToString(h.ChecksumSHA256))

		l, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		require.NoError(t, err)
		require.Len(t, l.Contents, 1)
		require.EqualValues(t, len(small), aws.ToInt64(l.Contents[0].Size))
	})

	t.Run("copies", func(t *testing.T) {
		// Inline source, inline destination.
		_, err := c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("a-copy"), CopySource: aws.String(bucket + "/a")})
		require.NoError(t, err)
		got, err := c.get(ctx, bucket, "a-copy")
		require.NoError(t, err)
		require.Equal(t, small, got)
		require.Equal(t, files, storageFileCount(t, c))

		// A body above the threshold goes to shards; so does its copy.
		large := body(2, perfSmallInlineMax+1)
		require.NoError(t, c.put(ctx, bucket, "large", large))
		require.Greater(t, storageFileCount(t, c), files)
		_, err = c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("large-copy"), CopySource: aws.String(bucket + "/large")})
		require.NoError(t, err)
		got, err = c.get(ctx, bucket, "large-copy")
		require.NoError(t, err)
		require.Equal(t, large, got)

		// A multipart object (parts on shards) copied small becomes inline.
		up, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
		require.NoError(t, err)
		// UploadPartCopy from an inline source.
		pc, err := c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/a"), CopySourceRange: aws.String("bytes=10-2057")})
		require.NoError(t, err)
		_, err = c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}})
		require.NoError(t, err)
		got, err = c.get(ctx, bucket, "mp")
		require.NoError(t, err)
		require.Equal(t, small[10:2058], got)
		before := storageFileCount(t, c)
		_, err = c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp-copy"), CopySource: aws.String(bucket + "/mp")})
		require.NoError(t, err)
		require.Equal(t, before, storageFileCount(t, c), "a small copy is inline whatever its source")
		got, err = c.get(ctx, bucket, "mp-copy")
		require.NoError(t, err)
		require.Equal(t, small[10:2058], got)
	})

	t.Run("encrypted", func(t *testing.T) {
		// The positive control: a plain inline body is visible in the meta
		// voters' files, so not finding an encrypted one means something.
		plainMarker := bytes.Repeat([]byte("PERFSMALL-PLAIN-INLINE-MARKER-"), 100)
		require.NoError(t, c.put(ctx, bucket, "plain-marker", plainMarker))
		require.True(t, metaFilesContain(t, c, plainMarker[:64]), "plain inline body not found in the meta log")

		plain := markerBody(3000)
		ck := newSSECKey(9)
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("sse-s3"), Body: bytes.NewReader(plain),
			ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("sse-c"), Body: bytes.NewReader(plain),
			SSECustomerAlgorithm: ck.alg, SSECustomerKey: ck.key, SSECustomerKeyMD5: ck.md5})
		require.NoError(t, err)
		require.False(t, metaFilesContain(t, c, []byte(sseMarker+sseMarker)), "plaintext of an encrypted inline body in the meta log")

		got, err := c.get(ctx, bucket, "sse-s3")
		require.NoError(t, err)
		require.Equal(t, plain, got)
		g, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sse-c"), Range: aws.String("bytes=2000-2999"),
			SSECustomerAlgorithm: ck.alg, SSECustomerKey: ck.key, SSECustomerKeyMD5: ck.md5})
		require.NoError(t, err)
		part, err := io.ReadAll(g.Body)
		g.Body.Close()
		require.NoError(t, err)
		require.Equal(t, plain[2000:], part)
		// The SSE-C object copied to a plain one: decrypted on the way.
		_, err = c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("sse-c-copy"), CopySource: aws.String(bucket + "/sse-c"),
			CopySourceSSECustomerAlgorithm: ck.alg, CopySourceSSECustomerKey: ck.key, CopySourceSSECustomerKeyMD5: ck.md5})
		require.NoError(t, err)
		got, err = c.get(ctx, bucket, "sse-c-copy")
		require.NoError(t, err)
		require.Equal(t, plain, got)
	})

	t.Run("versions", func(t *testing.T) {
		const vb = "small-versions"
		c.mustCreateBucket(ctx, vb)
		_, err := c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(vb),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		require.NoError(t, err)
		v1, v2 := body(3, 100), body(4, 200)
		o1, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(vb), Key: aws.String("k"), Body: bytes.NewReader(v1)})
		require.NoError(t, err)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(vb), Key: aws.String("k"), Body: bytes.NewReader(v2)})
		require.NoError(t, err)
		g, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(vb), Key: aws.String("k"), VersionId: o1.VersionId})
		require.NoError(t, err)
		got, err := io.ReadAll(g.Body)
		g.Body.Close()
		require.NoError(t, err)
		require.Equal(t, v1, got)
		got, err = c.get(ctx, vb, "k")
		require.NoError(t, err)
		require.Equal(t, v2, got)
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(vb), Key: aws.String("k"), VersionId: o1.VersionId})
		require.NoError(t, err)
		_, err = c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(vb), Key: aws.String("k"), VersionId: o1.VersionId})
		require.Error(t, err)
	})

	t.Run("two storage nodes stopped", func(t *testing.T) {
		require.NoError(t, c.procs.Kill("storage-1"))
		require.NoError(t, c.procs.Kill("storage-2"))
		t.Cleanup(func() {
			require.NoError(t, c.procs.StartProc("storage-1"))
			require.NoError(t, c.procs.StartProc("storage-2"))
		})
		got, err := c.get(ctx, bucket, "a")
		require.NoError(t, err)
		require.Equal(t, small, got)
		fresh := body(5, 1000)
		require.NoError(t, c.put(ctx, bucket, "while-degraded", fresh))
		got, err = c.get(ctx, bucket, "while-degraded")
		require.NoError(t, err)
		require.Equal(t, fresh, got)
	})

	t.Run("every meta voter restarted", func(t *testing.T) {
		for _, name := range c.layout.Names("meta") {
			require.NoError(t, c.procs.Kill(name))
		}
		for _, name := range c.layout.Names("meta") {
			require.NoError(t, c.procs.StartProc(name))
		}
		c.waitLeader()
		for key, want := range map[string][]byte{"a": small, "a-copy": small, "while-degraded": body(5, 1000)} {
			got, err := getRetrying(ctx, c, bucket, key)
			require.NoError(t, err, "get %s", key)
			require.Equal(t, want, got, "body of %s", key)
		}
	})
}

// getRetrying retries a GET for a bounded time, as a client does while a
// restarted meta group elects a leader and the gateway finds it.
func getRetrying(ctx context.Context, c *cluster, bucket, key string) ([]byte, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := c.get(ctx, bucket, key)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return got, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
