package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// TestPerfPathBucketCache: once the gateway's bucket watch is up (over the
// cluster's mutual TLS, opened on whichever meta node the gateway asks),
// PUTs read no bucket from the meta group; a bucket change made through
// the gateway is in force for the very next request.
func TestPerfPathBucketCache(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 90*time.Second)
	c.mustCreateBucket(ctx, "cached")
	getBuckets := func() float64 {
		return c.scrape(ctx, "gateway").value("cairn_grpc_client_calls_total", `method="/cairn.meta.v1.Meta/GetBucket"`)
	}
	// The watch comes up in the background: poll until a PUT goes by
	// without a bucket read.
	for i := 0; ; i++ {
		before := getBuckets()
		require.NoError(t, c.put(ctx, "cached", "warm", body(uint64(i), 100)))
		if getBuckets() == before {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("every PUT still reads its bucket from the meta group after %d tries", i+1)
		case <-time.After(100 * time.Millisecond):
		}
	}
	before := getBuckets()
	for i := range 5 {
		require.NoError(t, c.put(ctx, "cached", "k", body(uint64(i), 1000)))
	}
	require.Equal(t, before, getBuckets(), "PUTs read their bucket from the meta group")

	// Read-your-writes for a bucket change: versioning enabled, then two
	// PUTs at once get version IDs (a stale cache would send them as
	// unversioned and the commit would refuse them).
	c.enableVersioning(ctx, "cached", types.BucketVersioningStatusEnabled)
	var ids []string
	for i := range 2 {
		out, err := c.putVersion(ctx, "cached", "v", body(uint64(10+i), 1000))
		require.NoError(t, err)
		require.NotEmpty(t, aws.ToString(out.VersionId))
		require.NotEqual(t, "null", aws.ToString(out.VersionId))
		ids = append(ids, aws.ToString(out.VersionId))
	}
	require.NotEqual(t, ids[0], ids[1])
	vs, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("cached"), Prefix: aws.String("v")})
	require.NoError(t, err)
	require.Len(t, vs.Versions, 2)

	// A deleted bucket is gone for the next request too.
	c.mustCreateBucket(ctx, "gone")
	_, err = c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("gone")})
	require.NoError(t, err)
	_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("gone")})
	require.NoError(t, err)
	_, err = c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("gone")})
	require.Error(t, err)
	require.Error(t, c.put(ctx, "gone", "after", body(99, 10)), "PUT into a deleted bucket")
}
