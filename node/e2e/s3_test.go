package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
)

const stripe = 4 << 20 // the default 4+2 profile with 1 MiB blocks

// TestObjectAPI runs the S3 behaviour checks against one cluster.
func TestObjectAPI(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 10*time.Minute)
	c.mustCreateBucket(ctx, "data")

	t.Run("round trips", func(t *testing.T) {
		sizes := []int{0, 1, stripe - 1, stripe, stripe + 1, 64<<20 + 7}
		for i, n := range sizes {
			key := fmt.Sprintf("rt/%d", n)
			want := body(uint64(i+1), n)
			require.NoError(t, c.put(ctx, "data", key, want), "put %d bytes", n)
			got, err := c.get(ctx, "data", key)
			require.NoError(t, err)
			require.Equal(t, len(want), len(got), "size of %s", key)
			require.True(t, bytes.Equal(want, got), "body of %s differs", key)

			head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
			require.NoError(t, err)
			sum := md5.Sum(want)
			require.Equal(t, fmt.Sprintf("%q", fmt.Sprintf("%x", sum)), aws.ToString(head.ETag))
			require.Equal(t, int64(n), aws.ToInt64(head.ContentLength))
		}
	})

	t.Run("ranged gets", func(t *testing.T) {
		n := 3*stripe + 12345
		want := body(99, n)
		require.NoError(t, c.put(ctx, "data", "ranged", want))
		ranges := []struct {
			spec       string
			start, end int // inclusive
		}{
			{"bytes=0-0", 0, 0},
			{"bytes=0-99", 0, 99},
			{fmt.Sprintf("bytes=%d-%d", stripe-10, stripe+10), stripe - 10, stripe + 10},
			{fmt.Sprintf("bytes=%d-%d", 1<<20-1, 1<<20), 1<<20 - 1, 1 << 20},
			{fmt.Sprintf("bytes=%d-", n-5), n - 5, n - 1},
			{"bytes=-7", n - 7, n - 1},
			{fmt.Sprintf("bytes=%d-%d", 5, n+1000), 5, n - 1},
			{fmt.Sprintf("bytes=%d-%d", stripe, 3*stripe-1), stripe, 3*stripe - 1},
		}
		for _, r := range ranges {
			out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("ranged"), Range: aws.String(r.spec)})
			require.NoError(t, err, r.spec)
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			require.NoError(t, err)
			require.True(t, bytes.Equal(want[r.start:r.end+1], got), "range %s", r.spec)
			require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, n), aws.ToString(out.ContentRange))
		}
		_, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("ranged"), Range: aws.String(fmt.Sprintf("bytes=%d-", n))})
		requireAPIError(t, err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
	})

	t.Run("listing", func(t *testing.T) {
		c.mustCreateBucket(ctx, "list")
		keys := []string{"a", "a/b", "a/b/c", "a/c", "b/x", "b/y/z", "c", "dir/", "dir/sub/file", "z z", "é/unicode"}
		for _, k := range keys {
			require.NoError(t, c.put(ctx, "list", k, []byte(k)))
		}
		cases := []struct {
			prefix, delim string
			objects       []string
			prefixes      []string
		}{
			{"", "", keys, nil},
			{"", "/", []string{"a", "c", "z z"}, []string{"a/", "b/", "dir/", "é/"}},
			{"a/", "/", []string{"a/b", "a/c"}, []string{"a/b/"}},
			{"b", "/", nil, []string{"b/"}},
			{"dir/", "", []string{"dir/", "dir/sub/file"}, nil},
			{"nope", "/", nil, nil},
		}
		for _, tc := range cases {
			for _, pageSize := range []int32{1, 2, 1000} {
				objs, prefixes := listAll(t, ctx, c.s3, "list", tc.prefix, tc.delim, pageSize)
				require.Equal(t, nilIfEmpty(tc.objects), nilIfEmpty(objs), "objects prefix=%q delim=%q page=%d", tc.prefix, tc.delim, pageSize)
				require.Equal(t, nilIfEmpty(tc.prefixes), nilIfEmpty(prefixes), "prefixes prefix=%q delim=%q page=%d", tc.prefix, tc.delim, pageSize)
			}
		}
		out, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), StartAfter: aws.String("b/y/z")})
		require.NoError(t, err)
		var after []string
		for _, o := range out.Contents {
			after = append(after, aws.ToString(o.Key))
		}
		require.Equal(t, []string{"c", "dir/", "dir/sub/file", "z z", "é/unicode"}, after)
	})

	t.Run("delete and bucket lifecycle", func(t *testing.T) {
		c.mustCreateBucket(ctx, "scratch")
		require.NoError(t, c.put(ctx, "scratch", "k", []byte("v")))
		_, err := c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("scratch")})
		requireAPIError(t, err, "BucketNotEmpty", http.StatusConflict)
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("scratch"), Key: aws.String("k")})
		require.NoError(t, err)
		_, err = c.get(ctx, "scratch", "k")
		requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
		_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("scratch")})
		require.NoError(t, err)
		_, err = c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("scratch")})
		require.Error(t, err)
		lb, err := c.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		require.NoError(t, err)
		var names []string
		for _, b := range lb.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
		require.Equal(t, []string{"data", "list"}, names)
	})

	t.Run("bad input", func(t *testing.T) {
		wrong := s3.New(s3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("http://" + c.layout.S3Addr()), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, "not-the-secret", ""),
		})
		_, err := wrong.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("denied"), Body: strings.NewReader("x")})
		requireAPIError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
		_, err = c.get(ctx, "data", "denied")
		requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)

		err = c.put(ctx, "no-such-bucket", "k", []byte("x"))
		requireAPIError(t, err, "NoSuchBucket", http.StatusNotFound)

		// Wrong Content-MD5: a new key stays absent, an existing key keeps its body.
		badMD5 := md5.Sum([]byte("something else"))
		for _, existing := range []bool{false, true} {
			key := fmt.Sprintf("md5-%v", existing)
			old := []byte("old body")
			if existing {
				require.NoError(t, c.put(ctx, "data", key, old))
			}
			_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("data"), Key: aws.String(key), Body: bytes.NewReader(body(7, 100000)),
				ContentMD5: aws.String(base64.StdEncoding.EncodeToString(badMD5[:])),
			})
			requireAPIError(t, err, "BadDigest", http.StatusBadRequest)
			got, err := c.get(ctx, "data", key)
			if existing {
				require.NoError(t, err)
				require.Equal(t, old, got)
			} else {
				requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
			}
		}
	})

	t.Run("client disconnect mid-body leaves nothing", func(t *testing.T) {
		disconnectMidBody(t, c.layout, "data", "torn", 20<<20)
		// The gateway must notice and abandon the PUT; the key never appears.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			_, err := c.get(ctx, "data", "torn")
			requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// disconnectMidBody sends a correctly signed PUT announcing size bytes,
// writes half of them and closes the connection.
func disconnectMidBody(t *testing.T, l *devcluster.Layout, bucket, key string, size int) {
	t.Helper()
	url := fmt.Sprintf("http://%s/%s/%s", l.S3Addr(), bucket, key)
	req, err := http.NewRequest(http.MethodPut, url, nil)
	require.NoError(t, err)
	req.ContentLength = int64(size)
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signer := v4.NewSigner()
	err = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	require.NoError(t, err)

	conn, err := net.Dial("tcp", l.S3Addr())
	require.NoError(t, err)
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT /%s/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", bucket, key, l.S3Addr(), size)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	_, err = conn.Write(head.Bytes())
	require.NoError(t, err)
	_, err = conn.Write(body(3, size/2))
	require.NoError(t, err)
	require.NoError(t, conn.Close())
}

func listAll(t *testing.T, ctx context.Context, cl *s3.Client, bucket, prefix, delim string, pageSize int32) (objs, prefixes []string) {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(pageSize)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delim != "" {
		in.Delimiter = aws.String(delim)
	}
	p := s3.NewListObjectsV2Paginator(cl, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Contents)+len(page.CommonPrefixes), int(pageSize))
		for _, o := range page.Contents {
			objs = append(objs, aws.ToString(o.Key))
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
	}
	sort.Strings(prefixes)
	return objs, prefixes
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// requireAPIError checks the S3 error code and HTTP status of err.
func requireAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	require.Error(t, err, "want %s", code)
	var re interface{ HTTPStatusCode() int }
	require.True(t, errors.As(err, &re), "no HTTP status in %v", err)
	require.Equal(t, status, re.HTTPStatusCode(), "status of %v", err)
	// HEAD responses have no body, so there is no code to compare.
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "NotFound" && ae.ErrorCode() != "Forbidden" {
		require.Equal(t, code, ae.ErrorCode(), "code of %v", err)
	}
}
