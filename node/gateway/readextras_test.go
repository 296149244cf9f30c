package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/proto/metapb"
)

// TestPreconditions follows the GetObject reference: If-Match wins over
// If-Unmodified-Since, If-None-Match over If-Modified-Since.
func TestPreconditions(t *testing.T) {
	mtime := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	v := &metapb.ObjectVersion{Etag: "abc", MtimeUnixNano: mtime.Add(300 * time.Millisecond).UnixNano()}
	before := mtime.Add(-time.Hour).Format(http.TimeFormat)
	at := mtime.Format(http.TimeFormat)
	after := mtime.Add(time.Hour).Format(http.TimeFormat)
	cases := []struct {
		name string
		h    map[string]string
		want int
	}{
		{"none", nil, 0},
		{"if-match hit", map[string]string{"If-Match": `"abc"`}, 0},
		{"if-match star", map[string]string{"If-Match": `*`}, 0},
		{"if-match list", map[string]string{"If-Match": `"x", "abc"`}, 0},
		{"if-match miss", map[string]string{"If-Match": `"x"`}, 412},
		{"if-unmodified-since before", map[string]string{"If-Unmodified-Since": before}, 412},
		{"if-unmodified-since at mtime", map[string]string{"If-Unmodified-Since": at}, 0},
		{"if-match true wins over unmodified-since false", map[string]string{"If-Match": `"abc"`, "If-Unmodified-Since": before}, 0},
		{"if-none-match hit", map[string]string{"If-None-Match": `"abc"`}, 304},
		{"if-none-match star", map[string]string{"If-None-Match": `*`}, 304},
		{"if-none-match miss", map[string]string{"If-None-Match": `"x"`}, 0},
		{"if-modified-since after", map[string]string{"If-Modified-Since": after}, 304},
		{"if-modified-since at mtime", map[string]string{"If-Modified-Since": at}, 304},
		{"if-modified-since before", map[string]string{"If-Modified-Since": before}, 0},
		{"if-none-match false wins over modified-since true", map[string]string{"If-None-Match": `"abc"`, "If-Modified-Since": before}, 304},
		{"if-none-match true wins over modified-since false", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": after}, 0},
		{"412 before 304", map[string]string{"If-Match": `"x"`, "If-None-Match": `"abc"`}, 412},
		{"bad date ignored", map[string]string{"If-Modified-Since": "yesterday"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, val := range tc.h {
				h.Set(k, val)
			}
			require.Equal(t, tc.want, preconditions(h, v))
		})
	}
}

func TestConditionalGetThroughSDK(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	put := e.put("bkt", "k", []byte("hello"))
	etag := aws.ToString(put.ETag)
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)

	_, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfNoneMatch: aws.String(etag)})
	requireS3Error(t, err, "NotModified", http.StatusNotModified)
	_, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfModifiedSince: aws.Time(future)})
	requireS3Error(t, err, "NotModified", http.StatusNotModified)
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfUnmodifiedSince: aws.Time(past)})
	requireS3Error(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
	data, _ := e.get("bkt", "k", func(in *s3.GetObjectInput) {
		in.IfMatch = aws.String(etag)
		in.IfUnmodifiedSince = aws.Time(past)
	})
	require.Equal(t, "hello", string(data))
	data, _ = e.get("bkt", "k", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(past) })
	require.Equal(t, "hello", string(data))
}

func TestResponseOverrides(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("bkt")
	e.put("bkt", "k", []byte("hello"))
	_, out := e.get("bkt", "k", func(in *s3.GetObjectInput) {
		in.ResponseContentType = aws.String("text/plain")
		in.ResponseContentLanguage = aws.String("fr")
		in.ResponseCacheControl = aws.String("no-cache")
		in.ResponseContentDisposition = aws.String("inline")
		in.ResponseContentEncoding = aws.String("identity")
		in.ResponseExpires = aws.Time(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	})
	require.Equal(t, "text/plain", aws.ToString(out.ContentType))
	require.Equal(t, "fr", aws.ToString(out.ContentLanguage))
	require.Equal(t, "no-cache", aws.ToString(out.CacheControl))
	require.Equal(t, "inline", aws.ToString(out.ContentDisposition))
	require.Equal(t, "identity", aws.ToString(out.ContentEncoding))
	require.Equal(t, "Wed, 01 Jan 2031 00:00:00 GMT", aws.ToString(out.ExpiresString))
}

func checksumOf(alg checksum.Algorithm, data []byte) string {
	h := alg.New()
	h.Write(data)
	return checksum.Encode(h.Sum(nil))
}

func sdkChecksum(out *s3.GetObjectOutput, alg checksum.Algorithm) string {
	switch alg {
	case checksum.CRC32:
		return aws.ToString(out.ChecksumCRC32)
	case checksum.CRC32C:
		return aws.ToString(out.ChecksumCRC32C)
	case checksum.CRC64NVME:
		return aws.ToString(out.ChecksumCRC64NVME)
	case checksum.SHA1:
		return aws.ToString(out.ChecksumSHA1)
	case checksum.SHA256:
		return aws.ToString(out.ChecksumSHA256)
	}
	return ""
}

// TestChecksumAlgorithms puts with every algorithm through the SDK: over
// TLS it sends the checksum as an aws-chunked trailer, over plain HTTP as a
// header. The stored value comes back only with checksum mode enabled.
func TestChecksumAlgorithms(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newFSMEnv(t, envOptions{tls: tls})
		e.createBucket("bkt")
		for _, alg := range checksum.Algorithms() {
			t.Run(fmt.Sprintf("tls=%v/%s", tls, alg), func(t *testing.T) {
				ctx := context.Background()
				data := bytes.Repeat([]byte(string(alg)), 5000)
				key := "k-" + string(alg)
				_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key),
					Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithm(alg)})
				require.NoError(t, err)
				got, out := e.get("bkt", key, func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
				require.Equal(t, data, got)
				require.Equal(t, checksumOf(alg, data), sdkChecksum(out, alg))
				require.Equal(t, types.ChecksumTypeFullObject, out.ChecksumType)
				// The SDK asks for checksums by default; a plain GET gets none.
				resp, raw := e.do(e.signedRequest(http.MethodGet, "/bkt/"+key, nil, 0, nil))
				require.Equal(t, data, raw)
				require.Empty(t, resp.Header.Get(alg.HeaderName()))
				require.Empty(t, resp.Header.Get("x-amz-checksum-type"))
			})
		}
	}
}

// TestChecksumMismatch sends each algorithm's wrong value as a header and
// as a trailer: BadDigest, and nothing is stored.
func TestChecksumMismatch(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("bkt")
	data := []byte("payload")
	for _, alg := range checksum.Algorithms() {
		wrong := checksumOf(alg, []byte("other"))
		t.Run("header/"+string(alg), func(t *testing.T) {
			resp, body := e.do(e.signedRequest(http.MethodPut, "/bkt/h", bytes.NewReader(data), int64(len(data)),
				http.Header{http.CanonicalHeaderKey(alg.HeaderName()): {wrong}}))
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Contains(t, string(body), "<Code>BadDigest</Code>")
		})
		t.Run("trailer/"+string(alg), func(t *testing.T) {
			resp, body := e.do(e.trailerRequest("/bkt/t", data, alg, wrong))
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Contains(t, string(body), "<Code>BadDigest</Code>")
		})
		t.Run("trailer ok/"+string(alg), func(t *testing.T) {
			resp, body := e.do(e.trailerRequest("/bkt/ok-"+string(alg), data, alg, checksumOf(alg, data)))
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			require.Equal(t, checksumOf(alg, data), resp.Header.Get(alg.HeaderName()))
		})
	}
	require.Equal(t, len(checksum.Algorithms()), e.bodies.live(), "only the good uploads are stored")
	_, err := e.gatewayMeta(t).f.GetObject("bkt", "h", "")
	require.Error(t, err)
	_, err = e.gatewayMeta(t).f.GetObject("bkt", "t", "")
	require.Error(t, err)

	// Naming an algorithm without sending its value is refused.
	resp, body := e.do(e.signedRequest(http.MethodPut, "/bkt/n", bytes.NewReader(data), int64(len(data)),
		http.Header{"X-Amz-Sdk-Checksum-Algorithm": {"SHA256"}}))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InvalidRequest</Code>")
}

// trailerRequest is an unsigned aws-chunked PUT with a trailing checksum,
// as SDKs send over TLS.
func (e *testEnv) trailerRequest(path string, data []byte, alg checksum.Algorithm, value string) *http.Request {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%x\r\n%s\r\n0\r\n%s:%s\r\n\r\n", len(data), data, alg.HeaderName(), value)
	req, err := http.NewRequest(http.MethodPut, e.srv.URL+path, strings.NewReader(b.String()))
	require.NoError(e.t, err)
	req.ContentLength = int64(b.Len())
	const payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	req.Header.Set("X-Amz-Content-Sha256", payload)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
	req.Header.Set("X-Amz-Trailer", alg.HeaderName())
	req.Header.Set("X-Amz-Sdk-Checksum-Algorithm", string(alg))
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	require.NoError(e.t, v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "s3", testRegion, time.Now()))
	return req
}
