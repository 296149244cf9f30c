package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// TestS3aBucketConfigAndRetries drives the bucket configuration
// sub-resources, object attributes and the retry-safety fixes through a
// real cluster, where every new record field travels through Raft.
func TestS3aBucketConfigAndRetries(t *testing.T) {
	if s3TLS() {
		t.Skip("plain-HTTP preflights")
	}
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "s3a")
	b := aws.String("s3a")

	t.Run("cors", func(t *testing.T) {
		_, err := c.s3.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT"}, AllowedHeaders: []string{"content-type"},
		}}}})
		require.NoError(t, err)
		preflight := func(origin string) int {
			req, err := http.NewRequestWithContext(ctx, http.MethodOptions, "http://"+c.layout.S3Addr()+"/s3a/upload", nil)
			require.NoError(t, err)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				require.Equal(t, origin, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			return resp.StatusCode
		}
		require.Equal(t, http.StatusOK, preflight("https://app.example.com"))
		require.Equal(t, http.StatusForbidden, preflight("https://other.example.com"))
	})

	t.Run("tagging and public access block", func(t *testing.T) {
		_, err := c.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("s3a")}}}})
		require.NoError(t, err)
		tags, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
		require.NoError(t, err)
		require.Len(t, tags.TagSet, 1)

		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("public"), Body: strings.NewReader("p"), ACL: types.ObjectCannedACLPublicRead})
		require.NoError(t, err)
		code, _ := c.anonymousGet(ctx, "/s3a/public")
		require.Equal(t, http.StatusOK, code)
		_, err = c.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			IgnorePublicAcls: aws.Bool(true), BlockPublicAcls: aws.Bool(true)}})
		require.NoError(t, err)
		code, _ = c.anonymousGet(ctx, "/s3a/public")
		require.Equal(t, http.StatusForbidden, code)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("public2"), Body: strings.NewReader("p"), ACL: types.ObjectCannedACLPublicRead})
		requireCode(t, err, "AccessDenied")
		_, err = c.s3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
		require.NoError(t, err)
	})

	t.Run("repeated complete and attributes", func(t *testing.T) {
		parts := [][]byte{body(1, 5<<20), body(2, 100)}
		id, done := c.uploadParts(ctx, t, "s3a", "mp", parts)
		first, err := c.complete(ctx, "s3a", "mp", id, done)
		require.NoError(t, err)
		again, err := c.complete(ctx, "s3a", "mp", id, done)
		require.NoError(t, err, "a retried Complete succeeds")
		require.Equal(t, aws.ToString(first.ETag), aws.ToString(again.ETag))

		attrs, err := c.s3.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("mp"), MaxParts: aws.Int32(1),
			ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesObjectParts, types.ObjectAttributesObjectSize}})
		require.NoError(t, err)
		require.Equal(t, strings.Trim(aws.ToString(first.ETag), `"`), aws.ToString(attrs.ETag))
		require.Equal(t, int64(5<<20+100), aws.ToInt64(attrs.ObjectSize))
		require.Equal(t, int32(2), aws.ToInt32(attrs.ObjectParts.TotalPartsCount))
		require.True(t, aws.ToBool(attrs.ObjectParts.IsTruncated))
		require.Len(t, attrs.ObjectParts.Parts, 1)
		require.Equal(t, int64(5<<20), aws.ToInt64(attrs.ObjectParts.Parts[0].Size))
	})

	t.Run("version marker deleted between pages", func(t *testing.T) {
		c.mustCreateBucket(ctx, "s3a-versions")
		vb := aws.String("s3a-versions")
		_, err := c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: vb, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		require.NoError(t, err)
		for i := range 4 {
			_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: vb, Key: aws.String("k"), Body: strings.NewReader(strings.Repeat("v", i+1))})
			require.NoError(t, err)
		}
		// A list-then-delete loop: each page's versions are deleted before
		// the next page is asked for with the previous page's markers.
		deleted := 0
		var keyMarker, vidMarker *string
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			page, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: vb, MaxKeys: aws.Int32(1), KeyMarker: keyMarker, VersionIdMarker: vidMarker})
			require.NoError(t, err)
			for _, v := range page.Versions {
				_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: vb, Key: v.Key, VersionId: v.VersionId})
				require.NoError(t, err)
				deleted++
			}
			if !aws.ToBool(page.IsTruncated) {
				break
			}
			keyMarker, vidMarker = page.NextKeyMarker, page.NextVersionIdMarker
		}
		require.Equal(t, 4, deleted)
		_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: vb})
		require.NoError(t, err, "every version was deleted")
	})
}
