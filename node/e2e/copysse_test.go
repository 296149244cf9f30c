package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
)

// TestCopyEncrypted copies encrypted objects server-side through a real
// cluster: an SSE-C source into an SSE-S3 copy, and ranges of an SSE-KMS
// multipart source and of the SSE-C source into the parts of an SSE-S3
// upload. Every body is compared byte for byte, and no plaintext reaches
// a drive.
func TestCopyEncrypted(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	const bucket = "copysse"
	c.mustCreateBucket(ctx, bucket)
	ck := newSSECKey(77)

	// Across a 4 MiB stripe, not a multiple of the package size.
	const size = 4<<20 + 54321
	plain := markerBody(size)
	_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec"), Body: bytes.NewReader(plain),
		SSECustomerAlgorithm: ck.alg, SSECustomerKey: ck.key, SSECustomerKeyMD5: ck.md5})
	require.NoError(t, err)

	getAll := func(t *testing.T, key string) ([]byte, *s3.GetObjectOutput) {
		t.Helper()
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		require.NoError(t, err)
		defer out.Body.Close()
		data, err := io.ReadAll(out.Body)
		require.NoError(t, err)
		return data, out
	}

	t.Run("sse-c source to sse-s3 copy", func(t *testing.T) {
		_, err := c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy-s3"), CopySource: aws.String(bucket + "/ssec"),
			ServerSideEncryption: types.ServerSideEncryptionAes256})
		requireSSEError(t, err, "InvalidRequest", 400)
		wrong := newSSECKey(78)
		_, err = c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy-s3"), CopySource: aws.String(bucket + "/ssec"),
			ServerSideEncryption:           types.ServerSideEncryptionAes256,
			CopySourceSSECustomerAlgorithm: wrong.alg, CopySourceSSECustomerKey: wrong.key, CopySourceSSECustomerKeyMD5: wrong.md5})
		requireSSEError(t, err, "AccessDenied", 403)

		out, err := c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy-s3"), CopySource: aws.String(bucket + "/ssec"),
			ServerSideEncryption:           types.ServerSideEncryptionAes256,
			CopySourceSSECustomerAlgorithm: ck.alg, CopySourceSSECustomerKey: ck.key, CopySourceSSECustomerKeyMD5: ck.md5})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
		require.Nil(t, out.SSECustomerAlgorithm)
		sum := md5.Sum(plain)
		require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, aws.ToString(out.CopyObjectResult.ETag))

		// The copy reads back without any key.
		got, gout := getAll(t, "copy-s3")
		require.True(t, bytes.Equal(plain, got), "copied body differs")
		require.Equal(t, types.ServerSideEncryptionAes256, gout.ServerSideEncryption)
	})

	t.Run("ranged upload part copy from an sse-kms source", func(t *testing.T) {
		// An SSE-KMS multipart source: 5 MiB and 1 MiB+777 parts.
		parts := [][]byte{markerBody(5 << 20), markerBody(1<<20 + 777)}
		cout, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("kms-mp"),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(devcluster.DevKMSKeyID)})
		require.NoError(t, err)
		var done []types.CompletedPart
		for i, p := range parts {
			up, err := c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("kms-mp"), UploadId: cout.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
			require.NoError(t, err)
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
		}
		_, err = c.complete(ctx, bucket, "kms-mp", aws.ToString(cout.UploadId), done)
		require.NoError(t, err)
		src := bytes.Join(parts, nil)

		// Into an SSE-S3 upload: part 1 is a range of the SSE-KMS source
		// across its part boundary, part 2 a range of the SSE-C source.
		dout, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("assembled"),
			ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		from, to := 12345, 5<<20+500000 // inclusive
		p1, err := c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("assembled"), UploadId: dout.UploadId,
			PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/kms-mp"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", from, to))})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAes256, p1.ServerSideEncryption)
		sum := md5.Sum(src[from : to+1])
		require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, aws.ToString(p1.CopyPartResult.ETag))
		cfrom, cto := 65530, 4<<20+10 // inclusive, across packages and the stripe
		_, err = c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("assembled"), UploadId: dout.UploadId,
			PartNumber: aws.Int32(2), CopySource: aws.String(bucket + "/ssec"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", cfrom, cto))})
		requireSSEError(t, err, "InvalidRequest", 400)
		p2, err := c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("assembled"), UploadId: dout.UploadId,
			PartNumber: aws.Int32(2), CopySource: aws.String(bucket + "/ssec"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", cfrom, cto)),
			CopySourceSSECustomerAlgorithm: ck.alg, CopySourceSSECustomerKey: ck.key, CopySourceSSECustomerKeyMD5: ck.md5})
		require.NoError(t, err)
		_, err = c.complete(ctx, bucket, "assembled", aws.ToString(dout.UploadId), []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag, ChecksumCRC32: p1.CopyPartResult.ChecksumCRC32},
			{PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag, ChecksumCRC32: p2.CopyPartResult.ChecksumCRC32},
		})
		require.NoError(t, err)

		got, gout := getAll(t, "assembled")
		want := append(append([]byte(nil), src[from:to+1]...), plain[cfrom:cto+1]...)
		require.True(t, bytes.Equal(want, got), "assembled body differs")
		require.Equal(t, types.ServerSideEncryptionAes256, gout.ServerSideEncryption)
	})

	t.Run("no plaintext on the drives", func(t *testing.T) {
		require.Empty(t, shardFilesContain(t, c, []byte(sseMarker)))
	})
}
