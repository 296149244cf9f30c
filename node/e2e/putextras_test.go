package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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

// TestPutExtras drives storage classes, tagging, Object Lock, stored
// headers, limits, checksums and conditional reads through the SDK against
// a real cluster. The storage-node kill runs last.
func TestPutExtras(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 10*time.Minute)
	c.mustCreateBucket(ctx, "extras")

	t.Run("tagging", func(t *testing.T) {
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("tagged"),
			Body: strings.NewReader("t"), Tagging: aws.String("project=cairn&stage=e2e%20test")})
		require.NoError(t, err)
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("extras"), Key: aws.String("tagged")})
		require.NoError(t, err)
		out.Body.Close()
		require.Equal(t, int32(2), aws.ToInt32(out.TagCount))
		tags, err := c.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("extras"), Key: aws.String("tagged")})
		require.NoError(t, err)
		require.Equal(t, []types.Tag{{Key: aws.String("project"), Value: aws.String("cairn")}, {Key: aws.String("stage"), Value: aws.String("e2e test")}}, tags.TagSet)

		_, err = c.s3.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("extras"), Key: aws.String("tagged"),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}})
		require.NoError(t, err)
		tags, err = c.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("extras"), Key: aws.String("tagged")})
		require.NoError(t, err)
		require.Equal(t, []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}, tags.TagSet)
		_, err = c.s3.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("extras"), Key: aws.String("tagged")})
		require.NoError(t, err)
		tags, err = c.s3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("extras"), Key: aws.String("tagged")})
		require.NoError(t, err)
		require.Empty(t, tags.TagSet)

		eleven := make([]string, 11)
		for i := range eleven {
			eleven[i] = fmt.Sprintf("k%d=v", i)
		}
		for name, tagging := range map[string]string{
			"too many":       strings.Join(eleven, "&"),
			"key too long":   strings.Repeat("k", 129) + "=v",
			"value too long": "k=" + strings.Repeat("v", 257),
		} {
			_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("badtags"),
				Body: strings.NewReader("x"), Tagging: aws.String(tagging)})
			requireAPIError(t, err, "InvalidTag", http.StatusBadRequest)
			t.Log("refused:", name)
		}
		_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("extras"), Key: aws.String("badtags")})
		requireAPIError(t, err, "NotFound", http.StatusNotFound)
	})

	t.Run("stored headers", func(t *testing.T) {
		expires := time.Date(2032, 2, 3, 4, 5, 6, 0, time.UTC)
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("headers"), Body: strings.NewReader("h"),
			CacheControl: aws.String("public, max-age=3600"), ContentDisposition: aws.String(`attachment; filename="h.bin"`),
			ContentEncoding: aws.String("gzip"), ContentLanguage: aws.String("en-GB"), Expires: aws.Time(expires),
			WebsiteRedirectLocation: aws.String("https://example.com/elsewhere"), ContentType: aws.String("application/x-test"),
			Metadata: map[string]string{"colour": "blue"}})
		require.NoError(t, err)
		for _, head := range []bool{true, false} {
			var got struct {
				cc, cd, ce, cl, exp, redirect, ct string
				meta                              map[string]string
			}
			if head {
				h, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("extras"), Key: aws.String("headers")})
				require.NoError(t, err)
				got.cc, got.cd, got.ce, got.cl, got.exp, got.redirect, got.ct, got.meta = aws.ToString(h.CacheControl), aws.ToString(h.ContentDisposition),
					aws.ToString(h.ContentEncoding), aws.ToString(h.ContentLanguage), aws.ToString(h.ExpiresString), aws.ToString(h.WebsiteRedirectLocation), aws.ToString(h.ContentType), h.Metadata
			} else {
				g, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("extras"), Key: aws.String("headers")})
				require.NoError(t, err)
				g.Body.Close()
				got.cc, got.cd, got.ce, got.cl, got.exp, got.redirect, got.ct, got.meta = aws.ToString(g.CacheControl), aws.ToString(g.ContentDisposition),
					aws.ToString(g.ContentEncoding), aws.ToString(g.ContentLanguage), aws.ToString(g.ExpiresString), aws.ToString(g.WebsiteRedirectLocation), aws.ToString(g.ContentType), g.Metadata
			}
			require.Equal(t, "public, max-age=3600", got.cc)
			require.Equal(t, `attachment; filename="h.bin"`, got.cd)
			require.Equal(t, "gzip", got.ce)
			require.Equal(t, "en-GB", got.cl)
			require.Equal(t, expires.Format(http.TimeFormat), got.exp)
			require.Equal(t, "https://example.com/elsewhere", got.redirect)
			require.Equal(t, "application/x-test", got.ct)
			require.Equal(t, map[string]string{"colour": "blue"}, got.meta)
		}
	})

	t.Run("limits", func(t *testing.T) {
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("meta"), Body: strings.NewReader("x"),
			Metadata: map[string]string{"big": strings.Repeat("m", 2100)}})
		requireAPIError(t, err, "MetadataTooLarge", http.StatusBadRequest)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("meta"), Body: strings.NewReader("x"),
			Metadata: map[string]string{"ok": strings.Repeat("m", 2000)}})
		require.NoError(t, err)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
		requireAPIError(t, err, "KeyTooLongError", http.StatusBadRequest)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String(strings.Repeat("k", 1024)), Body: strings.NewReader("x")})
		require.NoError(t, err)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("class"), Body: strings.NewReader("x"),
			StorageClass: types.StorageClassDeepArchive})
		requireAPIError(t, err, "InvalidStorageClass", http.StatusBadRequest)

		// A PUT announcing more than 5 GiB is refused before its body is
		// sent: the gateway answers Expect: 100-continue with the error.
		status, text := c.rawPut(t, "/extras/huge", (5<<30)+1, http.Header{"Expect": {"100-continue"}}, false)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, text, "<Code>EntityTooLarge</Code>")
		status, text = c.rawPut(t, "/extras/nolength", -1, nil, false)
		require.Equal(t, http.StatusLengthRequired, status)
		require.Contains(t, text, "<Code>MissingContentLength</Code>")
		// With 100-continue honoured, a good PUT goes through.
		status, text = c.rawPut(t, "/extras/continue", 5, http.Header{"Expect": {"100-continue"}}, true)
		require.Equal(t, http.StatusOK, status, text)
	})

	t.Run("checksums", func(t *testing.T) {
		data := body(42, 3*stripe/2+5)
		for _, alg := range checksum.Algorithms() {
			key := "sum/" + string(alg)
			_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String(key),
				Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithm(alg)})
			require.NoError(t, err, alg)
			h, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("extras"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			require.NoError(t, err)
			require.Equal(t, sumOf(alg, data), headChecksum(h, alg), alg)
			require.Equal(t, types.ChecksumTypeFullObject, h.ChecksumType)
			h, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("extras"), Key: aws.String(key)})
			require.NoError(t, err)
			require.Empty(t, headChecksum(h, alg), "no checksum without checksum mode")

			// As a trailer of an aws-chunked body: right and wrong values.
			status, text := c.trailerPut(t, "/extras/trailer-"+string(alg), data, alg, sumOf(alg, data))
			require.Equal(t, http.StatusOK, status, text)
			status, text = c.trailerPut(t, "/extras/bad-trailer", data, alg, sumOf(alg, []byte("other")))
			require.Equal(t, http.StatusBadRequest, status)
			require.Contains(t, text, "<Code>BadDigest</Code>")
			// As a header with a wrong value.
			wrong := sumOf(alg, []byte("other"))
			in := &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("bad-header"), Body: bytes.NewReader(data)}
			setChecksum(in, alg, wrong)
			_, err = c.s3.PutObject(ctx, in)
			requireAPIError(t, err, "BadDigest", http.StatusBadRequest)
		}
		for _, key := range []string{"bad-trailer", "bad-header"} {
			_, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("extras"), Key: aws.String(key)})
			requireAPIError(t, err, "NotFound", http.StatusNotFound)
		}
	})

	t.Run("conditional reads and overrides", func(t *testing.T) {
		data := body(7, 1000)
		put, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("cond"), Body: bytes.NewReader(data)})
		require.NoError(t, err)
		etag := aws.ToString(put.ETag)
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		get := func(in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput, error) {
			in.Bucket, in.Key = aws.String("extras"), aws.String("cond")
			out, err := c.s3.GetObject(ctx, in)
			if err != nil {
				return nil, nil, err
			}
			defer out.Body.Close()
			b, err := io.ReadAll(out.Body)
			return b, out, err
		}
		_, _, err = get(&s3.GetObjectInput{IfMatch: aws.String(`"deadbeef"`)})
		requireAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
		_, _, err = get(&s3.GetObjectInput{IfNoneMatch: aws.String(etag)})
		requireAPIError(t, err, "NotModified", http.StatusNotModified)
		_, _, err = get(&s3.GetObjectInput{IfModifiedSince: aws.Time(future)})
		requireAPIError(t, err, "NotModified", http.StatusNotModified)
		_, _, err = get(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(past)})
		requireAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
		got, _, err := get(&s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(past)})
		require.NoError(t, err, "If-Match true wins over If-Unmodified-Since false")
		require.Equal(t, data, got)
		_, _, err = get(&s3.GetObjectInput{IfNoneMatch: aws.String(etag), IfModifiedSince: aws.Time(past)})
		requireAPIError(t, err, "NotModified", http.StatusNotModified)
		got, _, err = get(&s3.GetObjectInput{IfNoneMatch: aws.String(`"other"`), IfModifiedSince: aws.Time(future)})
		require.NoError(t, err, "If-None-Match true wins over If-Modified-Since false")
		require.Equal(t, data, got)

		_, out, err := get(&s3.GetObjectInput{ResponseContentType: aws.String("text/csv"), ResponseContentLanguage: aws.String("it"),
			ResponseCacheControl: aws.String("no-store"), ResponseContentDisposition: aws.String("inline; filename=c.csv"),
			ResponseContentEncoding: aws.String("identity"), ResponseExpires: aws.Time(time.Date(2033, 1, 2, 3, 4, 5, 0, time.UTC))})
		require.NoError(t, err)
		require.Equal(t, "text/csv", aws.ToString(out.ContentType))
		require.Equal(t, "it", aws.ToString(out.ContentLanguage))
		require.Equal(t, "no-store", aws.ToString(out.CacheControl))
		require.Equal(t, "inline; filename=c.csv", aws.ToString(out.ContentDisposition))
		require.Equal(t, "identity", aws.ToString(out.ContentEncoding))
		require.Equal(t, "Sun, 02 Jan 2033 03:04:05 GMT", aws.ToString(out.ExpiresString))

		// Range edge cases: beyond the end, suffix longer than the object,
		// ignored malformed and multi-range headers.
		_, _, err = get(&s3.GetObjectInput{Range: aws.String("bytes=1000-")})
		requireAPIError(t, err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
		got, out, err = get(&s3.GetObjectInput{Range: aws.String("bytes=-5000")})
		require.NoError(t, err)
		require.Equal(t, data, got)
		require.Equal(t, "bytes 0-999/1000", aws.ToString(out.ContentRange))
		for _, r := range []string{"bytes=5-2", "bytes=0-1,5-6", "items=0-1"} {
			got, out, err = get(&s3.GetObjectInput{Range: aws.String(r)})
			require.NoError(t, err, r)
			require.Equal(t, data, got, r)
			require.Empty(t, aws.ToString(out.ContentRange), r)
		}
	})

	t.Run("object lock", func(t *testing.T) {
		_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vault"), ObjectLockEnabledForBucket: aws.Bool(true)})
		require.NoError(t, err)
		_, err = c.s3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("extras")})
		requireAPIError(t, err, "ObjectLockConfigurationNotFoundError", http.StatusNotFound)
		_, err = c.s3.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("extras"),
			ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
		requireAPIError(t, err, "InvalidBucketState", http.StatusConflict)
		_, err = c.s3.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("vault"),
			ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{
				DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
		require.NoError(t, err)
		conf, err := c.s3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("vault")})
		require.NoError(t, err)
		require.Equal(t, int32(1), aws.ToInt32(conf.ObjectLockConfiguration.Rule.DefaultRetention.Days))

		// Default retention: GOVERNANCE for a day; bypass needed to delete.
		put, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), Body: strings.NewReader("v1")})
		require.NoError(t, err)
		v1 := aws.ToString(put.VersionId)
		require.NotEmpty(t, v1)
		ret, err := c.s3.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("vault"), Key: aws.String("doc"), VersionId: aws.String(v1)})
		require.NoError(t, err)
		require.Equal(t, types.ObjectLockRetentionModeGovernance, ret.Retention.Mode)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), aws.ToTime(ret.Retention.RetainUntilDate), 5*time.Minute)

		// An overwrite is a new version; the locked one stays.
		put2, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), Body: strings.NewReader("v2")})
		require.NoError(t, err)
		require.NotEqual(t, v1, aws.ToString(put2.VersionId))
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), VersionId: aws.String(v1)})
		requireAPIError(t, err, "AccessDenied", http.StatusForbidden)
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), VersionId: aws.String(v1)})
		require.NoError(t, err)
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		require.Equal(t, "v1", string(b))
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), VersionId: aws.String(v1), BypassGovernanceRetention: aws.Bool(true)})
		require.NoError(t, err)
		_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), VersionId: aws.String(v1)})
		requireAPIError(t, err, "NotFound", http.StatusNotFound)

		// COMPLIANCE with a legal hold, per object on PUT.
		until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
		put, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("audit"), Body: strings.NewReader("a"),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, // S3 wants a digest with lock parameters
			ObjectLockMode:    types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until), ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
		require.NoError(t, err)
		va := aws.ToString(put.VersionId)
		h, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vault"), Key: aws.String("audit")})
		require.NoError(t, err)
		require.Equal(t, types.ObjectLockModeCompliance, h.ObjectLockMode)
		require.True(t, until.Equal(aws.ToTime(h.ObjectLockRetainUntilDate)))
		require.Equal(t, types.ObjectLockLegalHoldStatusOn, h.ObjectLockLegalHoldStatus)
		_, err = c.s3.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("vault"), Key: aws.String("audit"),
			LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
		require.NoError(t, err)
		lh, err := c.s3.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("vault"), Key: aws.String("audit")})
		require.NoError(t, err)
		require.Equal(t, types.ObjectLockLegalHoldStatusOff, lh.LegalHold.Status)
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vault"), Key: aws.String("audit"), VersionId: aws.String(va), BypassGovernanceRetention: aws.Bool(true)})
		requireAPIError(t, err, "AccessDenied", http.StatusForbidden)
		_, err = c.s3.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("vault"), Key: aws.String("audit"), BypassGovernanceRetention: aws.Bool(true),
			Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until)}})
		requireAPIError(t, err, "AccessDenied", http.StatusForbidden)

		// A legal hold alone also blocks deletion, bypass or not.
		put, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("held"), Body: strings.NewReader("h"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
		require.NoError(t, err)
		vh := aws.ToString(put.VersionId)
		_, err = c.s3.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("vault"), Key: aws.String("held"),
			LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
		require.NoError(t, err)
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vault"), Key: aws.String("held"), VersionId: aws.String(vh), BypassGovernanceRetention: aws.Bool(true)})
		requireAPIError(t, err, "AccessDenied", http.StatusForbidden)

		// Lock headers are refused where they cannot apply.
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("nolock"), Body: strings.NewReader("x"),
			ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
		requireAPIError(t, err, "InvalidRequest", http.StatusBadRequest)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("past"), Body: strings.NewReader("x"),
			ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(-time.Hour))})
		requireAPIError(t, err, "InvalidArgument", http.StatusBadRequest)
		lockHdr := http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {until.Format(time.RFC3339)}}
		status, text := c.rawPut(t, "/vault/nodigest", 4, lockHdr, true)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, text, "<Code>InvalidRequest</Code>")
	})

	// Last: it kills a storage node.
	t.Run("reduced redundancy", func(t *testing.T) {
		data := body(5, 2*stripe+777)
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("extras"), Key: aws.String("rr"), Body: bytes.NewReader(data),
			StorageClass: types.StorageClassReducedRedundancy})
		require.NoError(t, err)
		h, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("extras"), Key: aws.String("rr")})
		require.NoError(t, err)
		require.Equal(t, types.StorageClassReducedRedundancy, h.StorageClass)
		list, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("extras"), Prefix: aws.String("rr")})
		require.NoError(t, err)
		require.Len(t, list.Contents, 1)
		require.Equal(t, types.ObjectStorageClassReducedRedundancy, list.Contents[0].StorageClass)
		v1, err := c.s3.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("extras"), Prefix: aws.String("rr")})
		require.NoError(t, err)
		require.Equal(t, types.ObjectStorageClassReducedRedundancy, v1.Contents[0].StorageClass)

		rec := c.metaObject(t, "extras", "rr")
		require.Equal(t, uint32(4), rec.GetProfile().GetDataShards())
		require.Equal(t, uint32(1), rec.GetProfile().GetParityShards())
		require.Len(t, rec.GetShards(), 5, "4+1 puts five shards")
		// STANDARD, beside it, larger than the inline limit.
		require.NoError(t, c.put(ctx, "extras", "std", body(6, stripe+1)))
		std := c.metaObject(t, "extras", "std")
		require.Len(t, std.GetShards(), 6, "STANDARD stays 4+2")

		// Losing the node of one shard leaves a readable object.
		victim := ""
		for _, p := range c.layout.Procs {
			if p.NodeID == rec.GetShards()[0].GetNodeId() {
				victim = p.Name
			}
		}
		require.NotEmpty(t, victim)
		require.NoError(t, c.procs.Kill(victim))
		got, err := c.get(ctx, "extras", "rr")
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "degraded read of a 4+1 object")
	})
}

// metaObject reads a version record straight from the meta group.
func (c *cluster) metaObject(t *testing.T, bucket, key string) *metapb.ObjectVersion {
	t.Helper()
	p, ok := c.layout.Proc(c.layout.Names("meta")[0])
	require.True(t, ok)
	conn, err := c.procs.Dialer().GRPC(p.GRPCAddr)
	require.NoError(t, err)
	defer conn.Close()
	resp, err := metapb.NewMetaClient(conn).GetObject(ctxT(t, 10*time.Second), &metapb.GetObjectRequest{Bucket: bucket, Key: key})
	require.NoError(t, err)
	require.Equal(t, metapb.ErrorCode_OK, resp.GetCode())
	return resp.GetVersion()
}

func sumOf(alg checksum.Algorithm, data []byte) string {
	h := alg.New()
	h.Write(data)
	return checksum.Encode(h.Sum(nil))
}

func headChecksum(h *s3.HeadObjectOutput, alg checksum.Algorithm) string {
	return map[checksum.Algorithm]string{
		checksum.CRC32: aws.ToString(h.ChecksumCRC32), checksum.CRC32C: aws.ToString(h.ChecksumCRC32C),
		checksum.CRC64NVME: aws.ToString(h.ChecksumCRC64NVME), checksum.SHA1: aws.ToString(h.ChecksumSHA1),
		checksum.SHA256: aws.ToString(h.ChecksumSHA256),
	}[alg]
}

func setChecksum(in *s3.PutObjectInput, alg checksum.Algorithm, v string) {
	switch alg {
	case checksum.CRC32:
		in.ChecksumCRC32 = aws.String(v)
	case checksum.CRC32C:
		in.ChecksumCRC32C = aws.String(v)
	case checksum.CRC64NVME:
		in.ChecksumCRC64NVME = aws.String(v)
	case checksum.SHA1:
		in.ChecksumSHA1 = aws.String(v)
	case checksum.SHA256:
		in.ChecksumSHA256 = aws.String(v)
	}
}

// signRaw signs req as an SDK would, for the given payload hash.
func signRaw(t *testing.T, req *http.Request, payload string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "s3", "us-east-1", time.Now()))
}

// rawPut writes a signed PUT by hand over TCP, so that Content-Length and
// Expect can be anything. length < 0 sends a chunked body of unknown
// length instead. With
// sendBody, the body ("hello" cut to length) follows once the server
// answers 100 Continue, or at once without Expect. It returns the final
// status and body.
func (c *cluster) rawPut(t *testing.T, path string, length int64, hdr http.Header, sendBody bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+c.layout.S3Addr()+path, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	signRaw(t, req, "UNSIGNED-PAYLOAD")
	conn, err := net.DialTimeout("tcp", c.layout.S3Addr(), 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\n", path, c.layout.S3Addr())
	if length >= 0 {
		fmt.Fprintf(&head, "Content-Length: %d\r\n", length)
	} else {
		head.WriteString("Transfer-Encoding: chunked\r\n")
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("Connection: close\r\n\r\n")
	_, err = conn.Write(head.Bytes())
	require.NoError(t, err)
	data := []byte("hello")[:max(0, min(length, 5))]
	if !sendBody {
		return readResponse(t, conn)
	}
	if hdr.Get("Expect") != "" {
		status, text := readResponse(t, conn)
		if status != http.StatusContinue {
			return status, text
		}
	}
	_, err = conn.Write(data)
	require.NoError(t, err)
	return readResponse(t, conn)
}

// readResponse reads one HTTP response head and, for a final status, its
// body.
func readResponse(t *testing.T, conn net.Conn) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	one := make([]byte, 1)
	for !bytes.HasSuffix(buf.Bytes(), []byte("\r\n\r\n")) {
		_, err := conn.Read(one)
		require.NoError(t, err, "response so far: %q", buf.String())
		buf.Write(one)
	}
	var status int
	_, err := fmt.Sscanf(buf.String(), "HTTP/1.1 %d", &status)
	require.NoError(t, err)
	if status == http.StatusContinue {
		return status, ""
	}
	length := -1
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &length)
		}
	}
	var bodyBytes []byte
	if length > 0 {
		bodyBytes = make([]byte, length)
		_, err = io.ReadFull(conn, bodyBytes)
		require.NoError(t, err)
	} else if length < 0 {
		bodyBytes, _ = io.ReadAll(conn)
	}
	return status, string(bodyBytes)
}

// trailerPut sends an unsigned aws-chunked PUT with a trailing checksum,
// as SDKs do over TLS.
func (c *cluster) trailerPut(t *testing.T, path string, data []byte, alg checksum.Algorithm, value string) (int, string) {
	t.Helper()
	var b bytes.Buffer
	const chunk = 64 << 10
	for off := 0; off < len(data); off += chunk {
		part := data[off:min(off+chunk, len(data))]
		fmt.Fprintf(&b, "%x\r\n", len(part))
		b.Write(part)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "0\r\n%s:%s\r\n\r\n", alg.HeaderName(), value)
	req, err := http.NewRequest(http.MethodPut, "http://"+c.layout.S3Addr()+path, bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)))
	req.Header.Set("X-Amz-Trailer", alg.HeaderName())
	req.Header.Set("X-Amz-Sdk-Checksum-Algorithm", string(alg))
	signRaw(t, req, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(text)
}
