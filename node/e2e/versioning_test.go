package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// TestVersioningAndConditionalWrites runs versioning, version listing,
// conditional writes, concurrent writers and multi-object delete against
// one cluster.
func TestVersioningAndConditionalWrites(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 10*time.Minute)

	t.Run("versioning flow", func(t *testing.T) { versioningFlow(t, ctx, c) })
	t.Run("suspended bucket and the null version", func(t *testing.T) { suspendedFlow(t, ctx, c) })
	t.Run("bad versioning configurations", func(t *testing.T) { badVersioningConfigs(t, ctx, c) })
	t.Run("list versions with markers and pages", func(t *testing.T) { listVersionsPaged(t, ctx, c) })
	t.Run("if-none-match race", func(t *testing.T) { ifNoneMatchRace(t, ctx, c) })
	t.Run("if-match", func(t *testing.T) { ifMatch(t, ctx, c) })
	t.Run("last writer wins", func(t *testing.T) { lastWriterWins(t, ctx, c, false) })
	t.Run("concurrent versioned writes all stored", func(t *testing.T) { lastWriterWins(t, ctx, c, true) })
	t.Run("delete objects", func(t *testing.T) { deleteObjects(t, ctx, c) })
	t.Run("list objects v1 markers", func(t *testing.T) { listObjectsV1Markers(t, ctx, c) })
}

func (c *cluster) enableVersioning(ctx context.Context, bucket string, status types.BucketVersioningStatus) {
	c.t.Helper()
	_, err := c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: status},
	})
	require.NoError(c.t, err)
}

func (c *cluster) putVersion(ctx context.Context, bucket, key string, data []byte) (*s3.PutObjectOutput, error) {
	return c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
}

func (c *cluster) getVersion(ctx context.Context, bucket, key, versionID string) ([]byte, *s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := c.s3.GetObject(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(out.Body)
	return buf.Bytes(), out, err
}

// errHeader returns a response header of a failed call.
func errHeader(t *testing.T, err error, name string) string {
	t.Helper()
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "no HTTP response in %v", err)
	return re.Response.Header.Get(name)
}

func etagOf(data []byte) string { return fmt.Sprintf("%q", fmt.Sprintf("%x", md5.Sum(data))) }

func versioningFlow(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "ver-flow"
	c.mustCreateBucket(ctx, bucket)
	got, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Empty(t, got.Status, "a new bucket was never versioned")

	// Unversioned: no version ID.
	out, err := c.putVersion(ctx, bucket, "plain", []byte("p"))
	require.NoError(t, err)
	require.Nil(t, out.VersionId)

	c.enableVersioning(ctx, bucket, types.BucketVersioningStatusEnabled)
	got, err = c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Equal(t, types.BucketVersioningStatusEnabled, got.Status)

	bodies := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	var ids []string
	for _, b := range bodies {
		out, err := c.putVersion(ctx, bucket, "k", b)
		require.NoError(t, err)
		require.NotEmpty(t, aws.ToString(out.VersionId))
		require.NotContains(t, ids, aws.ToString(out.VersionId))
		ids = append(ids, aws.ToString(out.VersionId))
	}
	for i, id := range ids {
		data, out, err := c.getVersion(ctx, bucket, "k", id)
		require.NoError(t, err)
		require.Equal(t, bodies[i], data)
		require.Equal(t, id, aws.ToString(out.VersionId))
		head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), VersionId: aws.String(id)})
		require.NoError(t, err)
		require.Equal(t, etagOf(bodies[i]), aws.ToString(head.ETag))
	}
	data, out2, err := c.getVersion(ctx, bucket, "k", "")
	require.NoError(t, err)
	require.Equal(t, bodies[2], data)
	require.Equal(t, ids[2], aws.ToString(out2.VersionId))

	_, _, err = c.getVersion(ctx, bucket, "k", "not-a-version")
	requireAPIError(t, err, "InvalidArgument", http.StatusBadRequest)
	_, _, err = c.getVersion(ctx, bucket, "k", strings.Repeat("0", 32))
	requireAPIError(t, err, "NoSuchVersion", http.StatusNotFound)

	// A plain DELETE adds a marker.
	del, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	require.NoError(t, err)
	require.True(t, aws.ToBool(del.DeleteMarker))
	marker := aws.ToString(del.VersionId)
	require.NotEmpty(t, marker)
	require.NotContains(t, ids, marker)

	_, _, err = c.getVersion(ctx, bucket, "k", "")
	requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
	require.Equal(t, "true", errHeader(t, err, "x-amz-delete-marker"))
	require.Equal(t, marker, errHeader(t, err, "x-amz-version-id"))
	_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
	require.Equal(t, "true", errHeader(t, err, "x-amz-delete-marker"))

	_, _, err = c.getVersion(ctx, bucket, "k", marker)
	requireAPIError(t, err, "MethodNotAllowed", http.StatusMethodNotAllowed)
	require.Equal(t, "true", errHeader(t, err, "x-amz-delete-marker"))
	require.Equal(t, marker, errHeader(t, err, "x-amz-version-id"))
	// Older versions stay readable under the marker.
	data, _, err = c.getVersion(ctx, bucket, "k", ids[0])
	require.NoError(t, err)
	require.Equal(t, bodies[0], data)
	lo, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("k")})
	require.NoError(t, err)
	require.Empty(t, lo.Contents, "a marked key is not listed")

	// Deleting the marker by ID brings the newest version back.
	del, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), VersionId: aws.String(marker)})
	require.NoError(t, err)
	require.True(t, aws.ToBool(del.DeleteMarker))
	require.Equal(t, marker, aws.ToString(del.VersionId))
	data, _, err = c.getVersion(ctx, bucket, "k", "")
	require.NoError(t, err)
	require.Equal(t, bodies[2], data)

	// Deleting the current version by ID removes it for good.
	del, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), VersionId: aws.String(ids[2])})
	require.NoError(t, err)
	require.False(t, aws.ToBool(del.DeleteMarker))
	require.Equal(t, ids[2], aws.ToString(del.VersionId))
	_, _, err = c.getVersion(ctx, bucket, "k", ids[2])
	requireAPIError(t, err, "NoSuchVersion", http.StatusNotFound)
	data, _, err = c.getVersion(ctx, bucket, "k", "")
	require.NoError(t, err)
	require.Equal(t, bodies[1], data)

	_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), VersionId: aws.String("bad")})
	requireAPIError(t, err, "InvalidArgument", http.StatusBadRequest)

	// The object written before versioning is the null version.
	data, out2, err = c.getVersion(ctx, bucket, "plain", "null")
	require.NoError(t, err)
	require.Equal(t, []byte("p"), data)
	require.Equal(t, "null", aws.ToString(out2.VersionId))
}

func suspendedFlow(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "ver-suspended"
	c.mustCreateBucket(ctx, bucket)
	c.enableVersioning(ctx, bucket, types.BucketVersioningStatusEnabled)
	v1, err := c.putVersion(ctx, bucket, "k", []byte("v1"))
	require.NoError(t, err)

	c.enableVersioning(ctx, bucket, types.BucketVersioningStatusSuspended)
	got, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Equal(t, types.BucketVersioningStatusSuspended, got.Status)

	for _, b := range []string{"null-a", "null-b"} {
		out, err := c.putVersion(ctx, bucket, "k", []byte(b))
		require.NoError(t, err)
		require.Equal(t, "null", aws.ToString(out.VersionId))
	}
	data, _, err := c.getVersion(ctx, bucket, "k", "null")
	require.NoError(t, err)
	require.Equal(t, "null-b", string(data), "a suspended bucket keeps one null version")

	lv, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Len(t, lv.Versions, 2)
	require.Equal(t, "null", aws.ToString(lv.Versions[0].VersionId))
	require.True(t, aws.ToBool(lv.Versions[0].IsLatest))
	require.Equal(t, aws.ToString(v1.VersionId), aws.ToString(lv.Versions[1].VersionId))

	// A DELETE now writes a null marker that replaces the null version.
	del, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	require.NoError(t, err)
	require.True(t, aws.ToBool(del.DeleteMarker))
	require.Equal(t, "null", aws.ToString(del.VersionId))
	lv, err = c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Len(t, lv.DeleteMarkers, 1)
	require.Equal(t, "null", aws.ToString(lv.DeleteMarkers[0].VersionId))
	require.Len(t, lv.Versions, 1)
	data, _, err = c.getVersion(ctx, bucket, "k", aws.ToString(v1.VersionId))
	require.NoError(t, err)
	require.Equal(t, "v1", string(data))
}

func badVersioningConfigs(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "ver-bad"
	c.mustCreateBucket(ctx, bucket)
	_, err := c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus("Sometimes")},
	})
	requireAPIError(t, err, "MalformedXML", http.StatusBadRequest)
	_, err = c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{},
	})
	requireAPIError(t, err, "IllegalVersioningConfigurationException", http.StatusBadRequest)
	_, err = c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String("ver-missing"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	requireAPIError(t, err, "NoSuchBucket", http.StatusNotFound)
	_, err = c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("ver-missing")})
	requireAPIError(t, err, "NoSuchBucket", http.StatusNotFound)
	got, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Empty(t, got.Status, "refused configurations change nothing")
}

// versionRow names one entry of a version listing for comparisons.
func versionRow(key, id string, latest, marker bool) string {
	s := key + "@" + id
	if marker {
		s += " marker"
	}
	if latest {
		s += " latest"
	}
	return s
}

func listVersionsPaged(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "ver-list"
	c.mustCreateBucket(ctx, bucket)
	c.enableVersioning(ctx, bucket, types.BucketVersioningStatusEnabled)
	// want is the listing, key order then newest first.
	var want []string
	add := func(key string, n int, marker bool) {
		var rows []string
		for i := range n {
			out, err := c.putVersion(ctx, bucket, key, fmt.Appendf(nil, "%s-%d", key, i))
			require.NoError(t, err)
			rows = append(rows, versionRow(key, aws.ToString(out.VersionId), false, false))
		}
		if marker {
			del, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			require.NoError(t, err)
			rows = append(rows, versionRow(key, aws.ToString(del.VersionId), false, true))
		}
		slices.Reverse(rows)
		rows[0] += " latest"
		want = append(want, rows...)
	}
	add("a", 3, false)
	add("b/1", 2, true)
	add("b/2", 1, false)
	add("c", 2, true)
	add("d", 1, false)

	for _, pageSize := range []int32{1, 2, 3, 1000} {
		var got []string
		in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(pageSize)}
		for page := 0; ; page++ {
			require.Less(t, page, 50)
			out, err := c.s3.ListObjectVersions(ctx, in)
			require.NoError(t, err)
			require.LessOrEqual(t, len(out.Versions)+len(out.DeleteMarkers), int(pageSize))
			got = append(got, mergeVersionPage(out)...)
			for _, v := range out.Versions {
				require.NotEmpty(t, aws.ToString(v.Owner.ID), "versions name their owner")
				require.NotEmpty(t, aws.ToString(v.ETag))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			require.NotEmpty(t, aws.ToString(out.NextKeyMarker))
			in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
		}
		require.Equal(t, want, got, "page size %d", pageSize)
	}

	// A delimiter rolls b/ up; a key marker skips every version of its key.
	out, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
		Bucket: aws.String(bucket), Delimiter: aws.String("/"), KeyMarker: aws.String("a"),
	})
	require.NoError(t, err)
	require.Len(t, out.CommonPrefixes, 1)
	require.Equal(t, "b/", aws.ToString(out.CommonPrefixes[0].Prefix))
	var keys []string
	for _, row := range mergeVersionPage(out) {
		keys = append(keys, strings.SplitN(row, "@", 2)[0])
	}
	require.Equal(t, []string{"c", "c", "c", "d"}, keys)

	// A version marker without a key marker, and one that is no version ID
	// at all. (A well-formed ID of a version that does not exist, or no
	// longer does, is a position: the listing continues from it.)
	_, err = c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), VersionIdMarker: aws.String("null")})
	requireAPIError(t, err, "InvalidArgument", http.StatusBadRequest)
	_, err = c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), KeyMarker: aws.String("a"), VersionIdMarker: aws.String("not-a-version-id")})
	requireAPIError(t, err, "InvalidArgument", http.StatusBadRequest)
	_, err = c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), KeyMarker: aws.String("a"), VersionIdMarker: aws.String(strings.Repeat("0", 32))})
	require.NoError(t, err, "a well-formed version ID that names no version is a position")
}

// mergeVersionPage puts the versions and markers of one page back into
// listing order: the SDK parses them into two lists.
func mergeVersionPage(out *s3.ListObjectVersionsOutput) []string {
	type row struct {
		key   string
		mtime time.Time
		name  string
		idx   int
	}
	var rows []row
	for _, v := range out.Versions {
		rows = append(rows, row{aws.ToString(v.Key), aws.ToTime(v.LastModified), versionRow(aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false), 0})
	}
	for _, m := range out.DeleteMarkers {
		rows = append(rows, row{aws.ToString(m.Key), aws.ToTime(m.LastModified), versionRow(aws.ToString(m.Key), aws.ToString(m.VersionId), aws.ToBool(m.IsLatest), true), 0})
	}
	// Version IDs are time-ordered, so newest first is descending ID.
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.key != b.key {
			return strings.Compare(a.key, b.key)
		}
		return strings.Compare(b.name, a.name)
	})
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.name
	}
	return names
}

func ifNoneMatchRace(t *testing.T, ctx context.Context, c *cluster) {
	for _, versioned := range []bool{false, true} {
		bucket := fmt.Sprintf("inm-race-%t", versioned)
		c.mustCreateBucket(ctx, bucket)
		if versioned {
			c.enableVersioning(ctx, bucket, types.BucketVersioningStatusEnabled)
		}
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = c.s3.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String("lock"), IfNoneMatch: aws.String("*"),
					Body: bytes.NewReader(fmt.Appendf(nil, "owner-%d", i)),
				})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "two writers won: %d and %d", winner, i)
				winner = i
				continue
			}
			requireAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
		}
		require.NotEqual(t, -1, winner, "nobody won")
		data, err := c.get(ctx, bucket, "lock")
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("owner-%d", winner), string(data))
		lv, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
		require.NoError(t, err)
		require.Len(t, lv.Versions, 1, "losers leave no version")

		// Once the key is deleted, If-None-Match succeeds again.
		_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("lock")})
		require.NoError(t, err)
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("lock"), IfNoneMatch: aws.String("*"), Body: strings.NewReader("again"),
		})
		require.NoError(t, err)
	}
}

func ifMatch(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "if-match"
	c.mustCreateBucket(ctx, bucket)
	first, err := c.putVersion(ctx, bucket, "k", []byte("first"))
	require.NoError(t, err)
	put := func(key, etag, data string) error {
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: aws.String(etag), Body: strings.NewReader(data),
		})
		return err
	}
	require.NoError(t, put("k", aws.ToString(first.ETag), "second"))
	// The ETag is now the second body's: the first one is stale.
	requireAPIError(t, put("k", aws.ToString(first.ETag), "third"), "PreconditionFailed", http.StatusPreconditionFailed)
	data, err := c.get(ctx, bucket, "k")
	require.NoError(t, err)
	require.Equal(t, "second", string(data))
	requireAPIError(t, put("missing", aws.ToString(first.ETag), "x"), "NoSuchKey", http.StatusNotFound)
	_, err = c.get(ctx, bucket, "missing")
	requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)

	// Conditional DELETE.
	_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), IfMatch: aws.String(etagOf([]byte("nope")))})
	requireAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
	_, err = c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), IfMatch: aws.String(etagOf([]byte("second")))})
	require.NoError(t, err)
	_, err = c.get(ctx, bucket, "k")
	requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
}

// lastWriterWins races 32 PUTs of distinct bodies to one key. Unversioned,
// GET must return one whole body, the one listing reports; versioned, all
// 32 must be stored and the latest must be what GET returns.
func lastWriterWins(t *testing.T, ctx context.Context, c *cluster, versioned bool) {
	bucket := fmt.Sprintf("lww-%t", versioned)
	c.mustCreateBucket(ctx, bucket)
	if versioned {
		c.enableVersioning(ctx, bucket, types.BucketVersioningStatusEnabled)
	}
	const n = 32
	bodies := make([][]byte, n)
	etags := map[string]int{}
	for i := range bodies {
		// Sizes differ so that a mix of two bodies could not pass as one.
		bodies[i] = body(uint64(1000+i), 100_000+i*1013)
		etags[etagOf(bodies[i])] = i
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = c.putVersion(ctx, bucket, "hot", bodies[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "put %d", i)
	}

	data, out, err := c.getVersion(ctx, bucket, "hot", "")
	require.NoError(t, err)
	winner, ok := etags[aws.ToString(out.ETag)]
	require.True(t, ok, "GET's ETag is one of the bodies")
	require.True(t, bytes.Equal(bodies[winner], data), "GET returns body %d whole", winner)

	lo, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Len(t, lo.Contents, 1)
	require.Equal(t, aws.ToString(out.ETag), aws.ToString(lo.Contents[0].ETag), "listing agrees with GET")
	require.Equal(t, int64(len(data)), aws.ToInt64(lo.Contents[0].Size))

	lv, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.Empty(t, lv.DeleteMarkers)
	if !versioned {
		require.Len(t, lv.Versions, 1, "an unversioned key keeps one version")
		require.Equal(t, aws.ToString(out.ETag), aws.ToString(lv.Versions[0].ETag))
		return
	}
	require.Len(t, lv.Versions, n, "every concurrent PUT is a version")
	seen := map[int]bool{}
	for _, v := range lv.Versions {
		i, ok := etags[aws.ToString(v.ETag)]
		require.True(t, ok)
		seen[i] = true
		if aws.ToBool(v.IsLatest) {
			require.Equal(t, winner, i, "the latest version is what GET returns")
			require.Equal(t, aws.ToString(out.VersionId), aws.ToString(v.VersionId))
		}
		got, _, err := c.getVersion(ctx, bucket, "hot", aws.ToString(v.VersionId))
		require.NoError(t, err)
		require.True(t, bytes.Equal(bodies[i], got), "version %s holds body %d", aws.ToString(v.VersionId), i)
	}
	require.Len(t, seen, n)
	require.True(t, aws.ToBool(lv.Versions[0].IsLatest))
}

func deleteObjects(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "multi-delete"
	c.mustCreateBucket(ctx, bucket)
	for i := range 5 {
		require.NoError(t, c.put(ctx, bucket, fmt.Sprintf("k%d", i), []byte("x")))
	}
	ids := func(keys ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range keys {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}
	out, err := c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{
		Objects: append(ids("k0", "k1", "absent"), types.ObjectIdentifier{Key: aws.String(strings.Repeat("x", 1025))}),
	}})
	require.NoError(t, err)
	var deleted []string
	for _, d := range out.Deleted {
		deleted = append(deleted, aws.ToString(d.Key))
		require.False(t, aws.ToBool(d.DeleteMarker))
	}
	require.ElementsMatch(t, []string{"k0", "k1", "absent"}, deleted, "deleting a missing key succeeds")
	require.Len(t, out.Errors, 1)
	require.Equal(t, "KeyTooLongError", aws.ToString(out.Errors[0].Code))

	out, err = c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{
		Objects: ids("k2", "k3"), Quiet: aws.Bool(true),
	}})
	require.NoError(t, err)
	require.Empty(t, out.Deleted, "quiet mode reports only errors")
	require.Empty(t, out.Errors)
	objs, _ := listAll(t, ctx, c.s3, bucket, "", "", 1000)
	require.Equal(t, []string{"k4"}, objs)

	// Conditional entries: a wrong ETag fails that entry only.
	out, err = c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("k4"), ETag: aws.String(etagOf([]byte("y")))}},
	}})
	require.NoError(t, err)
	require.Len(t, out.Errors, 1)
	require.Equal(t, "PreconditionFailed", aws.ToString(out.Errors[0].Code))

	var tooMany []types.ObjectIdentifier
	for i := range 1001 {
		tooMany = append(tooMany, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("m%d", i))})
	}
	_, err = c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: tooMany}})
	requireAPIError(t, err, "MalformedXML", http.StatusBadRequest)
	_, err = c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("multi-missing"), Delete: &types.Delete{Objects: ids("a")}})
	requireAPIError(t, err, "NoSuchBucket", http.StatusNotFound)

	// Versioned: plain entries add markers, entries with an ID remove that
	// version, markers included.
	const vb = "multi-delete-ver"
	c.mustCreateBucket(ctx, vb)
	c.enableVersioning(ctx, vb, types.BucketVersioningStatusEnabled)
	v1, err := c.putVersion(ctx, vb, "a", []byte("a1"))
	require.NoError(t, err)
	_, err = c.putVersion(ctx, vb, "b", []byte("b1"))
	require.NoError(t, err)
	out, err = c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(vb), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a"), VersionId: v1.VersionId}, {Key: aws.String("b")}},
	}})
	require.NoError(t, err)
	require.Empty(t, out.Errors)
	require.Len(t, out.Deleted, 2)
	byKey := map[string]types.DeletedObject{}
	for _, d := range out.Deleted {
		byKey[aws.ToString(d.Key)] = d
	}
	require.Equal(t, aws.ToString(v1.VersionId), aws.ToString(byKey["a"].VersionId))
	require.False(t, aws.ToBool(byKey["a"].DeleteMarker))
	require.True(t, aws.ToBool(byKey["b"].DeleteMarker))
	markerID := aws.ToString(byKey["b"].DeleteMarkerVersionId)
	require.NotEmpty(t, markerID)

	out, err = c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(vb), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("b"), VersionId: aws.String(markerID)}},
	}})
	require.NoError(t, err)
	require.Len(t, out.Deleted, 1)
	require.True(t, aws.ToBool(out.Deleted[0].DeleteMarker))
	require.Equal(t, markerID, aws.ToString(out.Deleted[0].DeleteMarkerVersionId))
	data, err := c.get(ctx, vb, "b")
	require.NoError(t, err)
	require.Equal(t, "b1", string(data), "removing the marker uncovers the version")
	_, err = c.get(ctx, vb, "a")
	requireAPIError(t, err, "NoSuchKey", http.StatusNotFound)
}

// listObjectsV1Markers pages ListObjects (v1) by hand the way AWS
// documents it: NextMarker with a delimiter, else the last key.
func listObjectsV1Markers(t *testing.T, ctx context.Context, c *cluster) {
	const bucket = "list-v1"
	c.mustCreateBucket(ctx, bucket)
	keys := []string{"a", "b/1", "b/2", "c", "d/1", "e"}
	for _, k := range keys {
		require.NoError(t, c.put(ctx, bucket, k, []byte("x")))
	}
	for _, delim := range []string{"", "/"} {
		var got []string
		marker := ""
		for page := 0; ; page++ {
			require.Less(t, page, 20)
			in := &s3.ListObjectsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(2)}
			if delim != "" {
				in.Delimiter = aws.String(delim)
			}
			if marker != "" {
				in.Marker = aws.String(marker)
			}
			out, err := c.s3.ListObjects(ctx, in)
			require.NoError(t, err)
			require.Equal(t, marker, aws.ToString(out.Marker))
			var entries []string
			for _, o := range out.Contents {
				entries = append(entries, aws.ToString(o.Key))
			}
			for _, p := range out.CommonPrefixes {
				entries = append(entries, aws.ToString(p.Prefix))
			}
			slices.Sort(entries)
			got = append(got, entries...)
			if !aws.ToBool(out.IsTruncated) {
				require.Empty(t, aws.ToString(out.NextMarker))
				break
			}
			if delim == "" {
				require.Empty(t, aws.ToString(out.NextMarker), "AWS sends NextMarker only with a delimiter")
				marker = entries[len(entries)-1]
			} else {
				require.Equal(t, entries[len(entries)-1], aws.ToString(out.NextMarker))
				marker = aws.ToString(out.NextMarker)
			}
		}
		want := keys
		if delim != "" {
			want = []string{"a", "b/", "c", "d/", "e"}
		}
		require.Equal(t, want, got, "delimiter %q", delim)
	}
}
