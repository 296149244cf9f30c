package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
)

// sseMarker is a plaintext pattern that must never reach a drive when the
// object is encrypted.
const sseMarker = "CAIRN-SSE-PLAINTEXT-MARKER-0123456789-"

// markerBody is n bytes of the repeated marker.
func markerBody(n int) []byte {
	return bytes.Repeat([]byte(sseMarker), n/len(sseMarker)+1)[:n]
}

type ssecKey struct{ alg, key, md5 *string }

func newSSECKey(seed uint64) ssecKey {
	k := body(seed, 32)
	sum := md5.Sum(k)
	return ssecKey{aws.String("AES256"), aws.String(base64.StdEncoding.EncodeToString(k)), aws.String(base64.StdEncoding.EncodeToString(sum[:]))}
}

func requireSSEError(t *testing.T, err error, code string, status int) {
	t.Helper()
	require.Error(t, err)
	var re *awshttp.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, status, re.HTTPStatusCode(), "%v", err)
	if code != "" {
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, code, ae.ErrorCode())
	}
}

// shardFilesContain reports which files under the storage nodes' data
// directories contain pattern.
func shardFilesContain(t *testing.T, c *cluster, pattern []byte) []string {
	t.Helper()
	var hits []string
	for _, name := range c.layout.Names("storage") {
		p, _ := c.layout.Proc(name)
		root := filepath.Join(c.layout.Dir, p.DataDir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, pattern) {
				hits = append(hits, path)
			}
			return nil
		})
		require.NoError(t, err)
	}
	return hits
}

func TestSSE(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	const bucket = "sse"
	c.mustCreateBucket(ctx, bucket)

	// Larger than a 4 MiB stripe, and not a multiple of the package size.
	const size = 5<<20 + 12345
	plain := markerBody(size)
	sum := md5.Sum(plain)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	ck := newSSECKey(42)
	kctx := base64.StdEncoding.EncodeToString([]byte(`{"purpose":"e2e"}`))

	modes := []struct {
		name  string
		put   func(*s3.PutObjectInput)
		get   func(*s3.GetObjectInput)
		head  func(*s3.HeadObjectInput)
		check func(t *testing.T, sse types.ServerSideEncryption, kmsKey, ckMD5 *string, bucketKey *bool)
	}{
		{
			name: "sse-s3",
			put:  func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 },
			check: func(t *testing.T, sse types.ServerSideEncryption, kmsKey, _ *string, _ *bool) {
				require.Equal(t, types.ServerSideEncryptionAes256, sse)
				require.Nil(t, kmsKey)
			},
		},
		{
			name: "sse-kms",
			put: func(in *s3.PutObjectInput) {
				in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
				in.SSEKMSKeyId = aws.String(devcluster.DevKMSKeyID)
				in.SSEKMSEncryptionContext = aws.String(kctx)
				in.BucketKeyEnabled = aws.Bool(true)
			},
			check: func(t *testing.T, sse types.ServerSideEncryption, kmsKey, _ *string, bucketKey *bool) {
				require.Equal(t, types.ServerSideEncryptionAwsKms, sse)
				require.Equal(t, devcluster.DevKMSKeyID, aws.ToString(kmsKey))
				require.True(t, aws.ToBool(bucketKey))
			},
		},
		{
			name: "sse-kms default key",
			put:  func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKms },
			check: func(t *testing.T, sse types.ServerSideEncryption, kmsKey, _ *string, _ *bool) {
				require.Equal(t, types.ServerSideEncryptionAwsKms, sse)
				require.Equal(t, devcluster.DevKMSKeyID, aws.ToString(kmsKey))
			},
		},
		{
			name: "sse-c",
			put: func(in *s3.PutObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ck.alg, ck.key, ck.md5
			},
			get: func(in *s3.GetObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ck.alg, ck.key, ck.md5
			},
			head: func(in *s3.HeadObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ck.alg, ck.key, ck.md5
			},
			check: func(t *testing.T, sse types.ServerSideEncryption, _, ckMD5 *string, _ *bool) {
				require.Empty(t, sse)
				require.Equal(t, aws.ToString(ck.md5), aws.ToString(ckMD5))
			},
		},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			key := "obj-" + m.name
			in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(plain)}
			m.put(in)
			out, err := c.s3.PutObject(ctx, in)
			require.NoError(t, err)
			m.check(t, out.ServerSideEncryption, out.SSEKMSKeyId, out.SSECustomerKeyMD5, out.BucketKeyEnabled)
			require.Equal(t, etag, aws.ToString(out.ETag))

			get := func(rng string) ([]byte, *s3.GetObjectOutput) {
				t.Helper()
				gin := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
				if rng != "" {
					gin.Range = aws.String(rng)
				}
				if m.get != nil {
					m.get(gin)
				}
				gout, err := c.s3.GetObject(ctx, gin)
				require.NoError(t, err)
				defer gout.Body.Close()
				data, err := io.ReadAll(gout.Body)
				require.NoError(t, err)
				return data, gout
			}
			data, gout := get("")
			require.True(t, bytes.Equal(plain, data), "whole body differs")
			m.check(t, gout.ServerSideEncryption, gout.SSEKMSKeyId, gout.SSECustomerKeyMD5, gout.BucketKeyEnabled)
			require.Equal(t, etag, aws.ToString(gout.ETag))

			for _, r := range []struct {
				hdr      string
				from, to int
			}{
				{"bytes=0-0", 0, 0},
				{"bytes=65535-65536", 65535, 65536},
				{fmt.Sprintf("bytes=%d-%d", 4<<20-10, 4<<20+10), 4<<20 - 10, 4<<20 + 10},
				{"bytes=1000000-", 1000000, size - 1},
				{"bytes=-100", size - 100, size - 1},
			} {
				data, gout := get(r.hdr)
				require.True(t, bytes.Equal(plain[r.from:r.to+1], data), "range %s differs", r.hdr)
				require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", r.from, r.to, size), aws.ToString(gout.ContentRange))
			}

			hin := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
			if m.head != nil {
				m.head(hin)
			}
			hout, err := c.s3.HeadObject(ctx, hin)
			require.NoError(t, err)
			require.Equal(t, int64(size), aws.ToInt64(hout.ContentLength))
			m.check(t, hout.ServerSideEncryption, hout.SSEKMSKeyId, hout.SSECustomerKeyMD5, hout.BucketKeyEnabled)
		})
	}

	t.Run("sse-c without or with a wrong key is refused", func(t *testing.T) {
		key := aws.String("obj-sse-c")
		_, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: key})
		requireSSEError(t, err, "InvalidRequest", 400)
		_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: key})
		requireSSEError(t, err, "", 400)
		wrong := newSSECKey(7)
		_, err = c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: key,
			SSECustomerAlgorithm: wrong.alg, SSECustomerKey: wrong.key, SSECustomerKeyMD5: wrong.md5})
		requireSSEError(t, err, "AccessDenied", 403)
		_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: key,
			SSECustomerAlgorithm: wrong.alg, SSECustomerKey: wrong.key, SSECustomerKeyMD5: wrong.md5})
		requireSSEError(t, err, "", 403)
	})

	t.Run("bucket default encryption", func(t *testing.T) {
		const b2 = "sse-default"
		c.mustCreateBucket(ctx, b2)
		_, err := c.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(b2)})
		requireSSEError(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)
		_, err = c.s3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(b2),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
					SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(devcluster.DevKMSKeyID)},
			}}},
		})
		require.NoError(t, err)
		conf, err := c.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(b2)})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAwsKms, conf.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm)

		out, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b2), Key: aws.String("by-default"), Body: bytes.NewReader(plain)})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.Equal(t, devcluster.DevKMSKeyID, aws.ToString(out.SSEKMSKeyId))
		got, err := c.get(ctx, b2, "by-default")
		require.NoError(t, err)
		require.True(t, bytes.Equal(plain, got))

		_, err = c.s3.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String(b2)})
		require.NoError(t, err)
		out, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b2), Key: aws.String("after-delete"), Body: bytes.NewReader([]byte("x"))})
		require.NoError(t, err)
		require.Empty(t, out.ServerSideEncryption)
	})

	t.Run("shards on disk hold only ciphertext", func(t *testing.T) {
		// Every object written so far is encrypted: the marker must be in
		// no file of any storage node.
		require.Empty(t, shardFilesContain(t, c, []byte(sseMarker)))

		// The scan does find plaintext when there is some: an unencrypted
		// object with another marker lands in the shard files.
		ctrl := bytes.Repeat([]byte("CAIRN-UNENCRYPTED-CONTROL-"), 4096)
		require.NoError(t, c.put(ctx, bucket, "control", ctrl))
		require.NotEmpty(t, shardFilesContain(t, c, []byte("CAIRN-UNENCRYPTED-CONTROL-")))
		require.Empty(t, shardFilesContain(t, c, []byte(sseMarker)))
	})
}
