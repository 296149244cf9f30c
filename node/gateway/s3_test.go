package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

func crc32Base64(data []byte) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE(data))
	return base64.StdEncoding.EncodeToString(b[:])
}

func TestBuckets(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	out, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")})
	require.NoError(t, err)
	require.Equal(t, "/photos", aws.ToString(out.Location))

	_, err = e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")})
	require.NoError(t, err, "us-east-1 answers 200 to a repeated create of one's own bucket")

	e.meta.addBucket("theirs", "someone-else")
	_, err = e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("theirs")})
	requireS3Error(t, err, "BucketAlreadyExists", http.StatusConflict)

	_, err = e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	requireS3Error(t, err, "InvalidBucketName", http.StatusBadRequest)

	head, err := e.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")})
	require.NoError(t, err)
	require.Equal(t, testRegion, aws.ToString(head.BucketRegion))

	_, err = e.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
	requireS3Error(t, err, "NotFound", http.StatusNotFound)

	loc, err := e.client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("photos")})
	require.NoError(t, err)
	require.Equal(t, types.BucketLocationConstraint(""), loc.LocationConstraint)
	_, err = e.client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("missing")})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)

	before := time.Now().Add(-time.Second)
	list, err := e.client.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	require.Equal(t, identity.RootCanonicalID(testAccessKey), aws.ToString(list.Owner.ID))
	require.Equal(t, "root", aws.ToString(list.Owner.DisplayName))
	var names []string
	for _, b := range list.Buckets {
		names = append(names, aws.ToString(b.Name))
		if aws.ToString(b.Name) == "photos" {
			require.WithinDuration(t, before, aws.ToTime(b.CreationDate), time.Minute)
		}
	}
	require.Equal(t, []string{"photos"}, names, "only the caller's buckets are listed")

	e.put("photos", "cat.jpg", []byte("meow"))
	_, err = e.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	requireS3Error(t, err, "BucketNotEmpty", http.StatusConflict)

	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("cat.jpg")})
	require.NoError(t, err)
	_, err = e.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	require.NoError(t, err)
	_, err = e.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)
}

func TestCreateBucketLocationConstraint(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.Region = "eu-west-1" }})
	ctx := context.Background()
	client := e.newClient(testAccessKey, testSecretKey, "eu-west-1")

	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("euro"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
	})
	require.NoError(t, err)
	loc, err := client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("euro")})
	require.NoError(t, err)
	require.Equal(t, types.BucketLocationConstraintEuWest1, loc.LocationConstraint)
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("euro"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1},
	})
	requireS3Error(t, err, "BucketAlreadyOwnedByYou", http.StatusConflict)

	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("elsewhere"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintApSouth1},
	})
	requireS3Error(t, err, "IllegalLocationConstraintException", http.StatusBadRequest)
}

// TestPutGetObject runs the SDK's default PUT over TLS (aws-chunked with a
// CRC32 trailer) and over plain HTTP (signed payload, checksum header).
func TestPutGetObject(t *testing.T) {
	for _, tls := range []bool{true, false} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			e := newEnv(t, envOptions{tls: tls})
			ctx := context.Background()
			e.createBucket("docs")
			body := bytes.Repeat([]byte("cairn-object-body "), 20000)
			sum := md5.Sum(body)
			wantETag := fmt.Sprintf(`"%x"`, sum)

			out, err := e.client.PutObject(ctx, &s3.PutObjectInput{
				Bucket:             aws.String("docs"),
				Key:                aws.String("dir/report.txt"),
				Body:               bytes.NewReader(body),
				ContentType:        aws.String("text/plain"),
				CacheControl:       aws.String("max-age=60"),
				ContentDisposition: aws.String(`attachment; filename="r.txt"`),
				ContentLanguage:    aws.String("en"),
				ContentEncoding:    aws.String("identity"),
				Metadata:           map[string]string{"Owner-Team": "storage", "x": "y"},
			})
			require.NoError(t, err)
			require.Equal(t, wantETag, aws.ToString(out.ETag))
			require.Equal(t, crc32Base64(body), aws.ToString(out.ChecksumCRC32))

			v := e.meta.object("docs", "dir/report.txt")
			require.NotNil(t, v)
			require.Equal(t, "null", v.GetVersionId())
			require.Equal(t, "STANDARD", v.GetStorageClass())
			require.Equal(t, identity.RootCanonicalID(testAccessKey), v.GetOwner())
			require.Equal(t, int64(len(body)), v.GetSize())
			require.Equal(t, map[string]string{"CRC32": crc32Base64(body)}, v.GetChecksums())
			require.Equal(t, map[string]string{"owner-team": "storage", "x": "y"}, v.GetUserMetadata())
			require.Equal(t, "identity", v.GetHeaders()["Content-Encoding"], "aws-chunked must not be stored")
			require.Equal(t, uint32(testProfile.K), v.GetProfile().GetDataShards())
			require.Len(t, v.GetShards(), testProfile.K+testProfile.M)

			data, got := e.get("docs", "dir/report.txt", func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
			require.Equal(t, body, data)
			require.Equal(t, wantETag, aws.ToString(got.ETag))
			require.Equal(t, "text/plain", aws.ToString(got.ContentType))
			require.Equal(t, "max-age=60", aws.ToString(got.CacheControl))
			require.Equal(t, `attachment; filename="r.txt"`, aws.ToString(got.ContentDisposition))
			require.Equal(t, "en", aws.ToString(got.ContentLanguage))
			require.Equal(t, "identity", aws.ToString(got.ContentEncoding))
			require.Equal(t, int64(len(body)), aws.ToInt64(got.ContentLength))
			require.Equal(t, map[string]string{"owner-team": "storage", "x": "y"}, got.Metadata)
			require.Equal(t, "bytes", aws.ToString(got.AcceptRanges))
			require.Equal(t, crc32Base64(body), aws.ToString(got.ChecksumCRC32))
			require.Empty(t, got.StorageClass, "STANDARD is not announced")
			require.Nil(t, got.VersionId)
			require.WithinDuration(t, time.Now(), aws.ToTime(got.LastModified), time.Minute)

			head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("docs"), Key: aws.String("dir/report.txt")})
			require.NoError(t, err)
			require.Equal(t, wantETag, aws.ToString(head.ETag))
			require.Equal(t, int64(len(body)), aws.ToInt64(head.ContentLength))
			require.Equal(t, "storage", head.Metadata["owner-team"])

			_, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("docs"), Key: aws.String("absent")})
			requireS3Error(t, err, "NotFound", http.StatusNotFound)
			_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("docs"), Key: aws.String("absent")})
			requireS3Error(t, err, "NoSuchKey", http.StatusNotFound)
		})
	}
}

func TestPutObjectDefaultsAndKeys(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	e.createBucket("keys")
	keys := []string{"a/", "a//b", "/lead", "ключ/文件 名.txt", "sp ace+plus%25", strings.Repeat("k", maxKeyLen)}
	for _, k := range keys {
		e.put("keys", k, []byte("v:"+k))
	}
	for _, k := range keys {
		data, _ := e.get("keys", k)
		require.Equal(t, "v:"+k, string(data), "key %q", k)
	}
	var listed []string
	p := s3.NewListObjectsV2Paginator(e.client, &s3.ListObjectsV2Input{Bucket: aws.String("keys")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, o := range page.Contents {
			listed = append(listed, aws.ToString(o.Key))
		}
	}
	want := append([]string(nil), keys...)
	sort.Strings(want)
	require.Equal(t, want, listed)

	e.put("keys", "empty", nil)
	data, out := e.get("keys", "empty")
	require.Empty(t, data)
	require.Equal(t, int64(0), aws.ToInt64(out.ContentLength))
}

func TestPutObjectRejections(t *testing.T) {
	e := newEnv(t, envOptions{tls: true, config: func(c *Config) { c.MaxPutSize = 1 << 20 }})
	ctx := context.Background()
	e.createBucket("bkt")
	body := []byte("hello, digest")
	good := md5.Sum(body)
	bad := md5.Sum([]byte("something else"))

	cases := []struct {
		name   string
		in     *s3.PutObjectInput
		code   string
		status int
	}{
		{"wrong Content-MD5", &s3.PutObjectInput{ContentMD5: aws.String(base64.StdEncoding.EncodeToString(bad[:]))}, "BadDigest", 400},
		{"malformed Content-MD5", &s3.PutObjectInput{ContentMD5: aws.String("not-base64!")}, "InvalidDigest", 400},
		{"short Content-MD5", &s3.PutObjectInput{ContentMD5: aws.String(base64.StdEncoding.EncodeToString(good[:8]))}, "InvalidDigest", 400},
		{"wrong CRC32 header", &s3.PutObjectInput{ChecksumCRC32: aws.String(crc32Base64([]byte("other")))}, "BadDigest", 400},
		{"key too long", &s3.PutObjectInput{Key: aws.String(strings.Repeat("k", maxKeyLen+1))}, "KeyTooLongError", 400},
		{"metadata too large", &s3.PutObjectInput{Metadata: map[string]string{"big": strings.Repeat("m", 2100)}}, "MetadataTooLarge", 400},
		{"no such bucket", &s3.PutObjectInput{Bucket: aws.String("nope")}, "NoSuchBucket", 404},
		{"entity too large", &s3.PutObjectInput{Body: bytes.NewReader(make([]byte, 1<<20+1))}, "EntityTooLarge", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Bucket == nil {
				in.Bucket = aws.String("bkt")
			}
			if in.Key == nil {
				in.Key = aws.String("obj")
			}
			if in.Body == nil {
				in.Body = bytes.NewReader(body)
			}
			_, err := e.client.PutObject(ctx, in)
			requireS3Error(t, err, tc.code, tc.status)
			require.Nil(t, e.meta.object("bkt", "obj"), "nothing may be committed")
			require.Zero(t, e.bodies.live(), "no shards may stay behind")
		})
	}
	// The checks before the body need no store work at all.
	require.Equal(t, 2, e.bodies.writeCount(), "only the digest mismatches stream the body")

	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("obj"), Body: bytes.NewReader(body),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(good[:])),
	})
	require.NoError(t, err)
}

func TestPutObjectCommitFailureDeletesBody(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	e.meta.failNextPut(&s3err.MetaError{Code: metapb.ErrorCode_NO_SUCH_BUCKET})
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("data"),
	})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)
	require.Zero(t, e.bodies.live())
	require.Nil(t, e.meta.object("bkt", "k"))
}

func TestAuthErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")

	_, err := e.newClient(testAccessKey, "wrong-secret", "").ListBuckets(ctx, &s3.ListBucketsInput{})
	requireS3Error(t, err, "SignatureDoesNotMatch", http.StatusForbidden)

	_, err = e.newClient("AKIAUNKNOWN", testSecretKey, "").ListBuckets(ctx, &s3.ListBucketsInput{})
	requireS3Error(t, err, "InvalidAccessKeyId", http.StatusForbidden)

	_, err = e.newClient(testAccessKey, "wrong-secret", "").PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("data"),
	})
	requireS3Error(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	require.Zero(t, e.bodies.writeCount())

	resp, body := e.do(must(http.NewRequest(http.MethodGet, e.srv.URL+"/bkt/k", nil)))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, string(body), "<Code>AccessDenied</Code>")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestUnknownBucket(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	_, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nope"), Key: aws.String("k")})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)
	_, err = e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nope")})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)
	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("nope"), Key: aws.String("k")})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)
}

func TestDeleteObject(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	e.put("bkt", "k", []byte("x"))
	for range 2 { // absent the second time: still 204
		_, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
		require.NoError(t, err)
		require.Nil(t, e.meta.object("bkt", "k"))
	}
}

func TestGetObjectRange(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	body := []byte("0123456789")
	e.put("bkt", "digits", body)

	cases := []struct {
		rng          string
		want         string
		contentRange string // "" means 200 with the whole body
	}{
		{"bytes=0-4", "01234", "bytes 0-4/10"},
		{"bytes=7-", "789", "bytes 7-9/10"},
		{"bytes=-3", "789", "bytes 7-9/10"},
		{"bytes=-30", "0123456789", "bytes 0-9/10"},
		{"bytes=8-100", "89", "bytes 8-9/10"},
		{"bytes=5-5", "5", "bytes 5-5/10"},
		{"bytes=0-1,4-5", "0123456789", ""},
		{"bytes=5-2", "0123456789", ""},
		{"items=0-1", "0123456789", ""},
	}
	for _, tc := range cases {
		t.Run(tc.rng, func(t *testing.T) {
			data, out := e.get("bkt", "digits", func(in *s3.GetObjectInput) { in.Range = aws.String(tc.rng) })
			require.Equal(t, tc.want, string(data))
			require.Equal(t, tc.contentRange, aws.ToString(out.ContentRange))
			require.Equal(t, int64(len(tc.want)), aws.ToInt64(out.ContentLength))
		})
	}
	for _, rng := range []string{"bytes=10-", "bytes=10-20", "bytes=-0"} {
		t.Run(rng, func(t *testing.T) {
			_, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String("digits"), Range: aws.String(rng),
			})
			requireS3Error(t, err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
			var re *awshttp.ResponseError
			require.ErrorAs(t, err, &re)
			require.Equal(t, "bytes */10", re.Response.Header.Get("Content-Range"))
		})
	}
}

func TestGetObjectConditional(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	etag := aws.ToString(e.put("bkt", "k", []byte("x")).ETag)

	_, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfMatch: aws.String(`"0000"`)})
	requireS3Error(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
	data, _ := e.get("bkt", "k", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) })
	require.Equal(t, "x", string(data))

	req := e.signedRequest(http.MethodGet, "/bkt/k", nil, 0, http.Header{"If-None-Match": {etag}})
	resp, body := e.do(req)
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, etag, resp.Header.Get("ETag"))
}

func TestGetObjectReadFailure(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	e.put("bkt", "k", bytes.Repeat([]byte("z"), 256<<10))

	t.Run("before the first byte", func(t *testing.T) {
		e.bodies.failReadsAfter(0)
		_, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}, noRetry)
		requireS3Error(t, err, "ServiceUnavailable", http.StatusServiceUnavailable)
	})
	t.Run("mid-body aborts the connection", func(t *testing.T) {
		e.bodies.failReadsAfter(128 << 10)
		resp, err := e.srv.Client().Do(e.signedRequest(http.MethodGet, "/bkt/k", nil, 0, nil))
		require.NoError(t, err, "the headers went out with the first bytes")
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		data, err := readAllErr(resp)
		require.Error(t, err, "a truncated body must not look complete")
		require.Less(t, len(data), 256<<10)
	})
}

func readAllErr(resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(resp.Body)
	return buf.Bytes(), err
}

func TestListObjectsV2(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	var all []string
	for i := range 23 {
		k := fmt.Sprintf("flat/%02d", i)
		all = append(all, k)
		e.put("bkt", k, []byte{byte(i)})
	}
	for _, k := range []string{"tree/a/1", "tree/a/2", "tree/b", "tree/c/x/y", "z y+z"} {
		e.put("bkt", k, []byte("x"))
	}

	t.Run("paginator", func(t *testing.T) {
		var got []string
		pages := 0
		p := s3.NewListObjectsV2Paginator(e.client, &s3.ListObjectsV2Input{
			Bucket: aws.String("bkt"), Prefix: aws.String("flat/"), MaxKeys: aws.Int32(5),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			require.NoError(t, err)
			pages++
			require.Equal(t, int32(len(page.Contents)), aws.ToInt32(page.KeyCount))
			for _, o := range page.Contents {
				got = append(got, aws.ToString(o.Key))
				require.Nil(t, o.Owner, "owner only with fetch-owner")
				require.Equal(t, types.ObjectStorageClassStandard, o.StorageClass)
			}
		}
		require.Equal(t, all, got)
		require.Equal(t, 5, pages)
	})
	t.Run("delimiter", func(t *testing.T) {
		out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String("bkt"), Prefix: aws.String("tree/"), Delimiter: aws.String("/"), FetchOwner: aws.Bool(true),
		})
		require.NoError(t, err)
		require.Len(t, out.Contents, 1)
		require.Equal(t, "tree/b", aws.ToString(out.Contents[0].Key))
		require.Equal(t, identity.RootCanonicalID(testAccessKey), aws.ToString(out.Contents[0].Owner.ID))
		require.Equal(t, int64(1), aws.ToInt64(out.Contents[0].Size))
		var cps []string
		for _, cp := range out.CommonPrefixes {
			cps = append(cps, aws.ToString(cp.Prefix))
		}
		require.Equal(t, []string{"tree/a/", "tree/c/"}, cps)
		require.Equal(t, int32(3), aws.ToInt32(out.KeyCount))
		require.False(t, aws.ToBool(out.IsTruncated))
	})
	t.Run("start-after", func(t *testing.T) {
		out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String("bkt"), Prefix: aws.String("flat/"), StartAfter: aws.String("flat/20"),
		})
		require.NoError(t, err)
		require.Len(t, out.Contents, 2)
		require.Equal(t, "flat/21", aws.ToString(out.Contents[0].Key))
		require.Equal(t, "flat/20", aws.ToString(out.StartAfter))
	})
	t.Run("encoding-type url", func(t *testing.T) {
		out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String("bkt"), Prefix: aws.String("z "), EncodingType: types.EncodingTypeUrl,
		})
		require.NoError(t, err)
		require.Len(t, out.Contents, 1)
		require.Equal(t, "z+y%2Bz", aws.ToString(out.Contents[0].Key))
		require.Equal(t, "z+", aws.ToString(out.Prefix))
	})
	t.Run("max-keys clamped", func(t *testing.T) {
		out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(5000)})
		require.NoError(t, err)
		require.Equal(t, int32(maxListKeys), aws.ToInt32(out.MaxKeys))
		require.Len(t, out.Contents, 28)
	})
	t.Run("max-keys zero", func(t *testing.T) {
		out, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(0)})
		require.NoError(t, err)
		require.Empty(t, out.Contents)
		require.False(t, aws.ToBool(out.IsTruncated))
	})
	for name, in := range map[string]*s3.ListObjectsV2Input{
		"negative max-keys": {MaxKeys: aws.Int32(-1)},
		"bad token":         {ContinuationToken: aws.String("%%%not-base64")},
		"bad encoding-type": {EncodingType: "base64"},
	} {
		t.Run(name, func(t *testing.T) {
			in.Bucket = aws.String("bkt")
			_, err := e.client.ListObjectsV2(ctx, in)
			requireS3Error(t, err, "InvalidArgument", http.StatusBadRequest)
		})
	}
}

func TestListObjectsV1(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	for _, k := range []string{"a", "b/1", "b/2", "c", "d/1"} {
		e.put("bkt", k, []byte("x"))
	}
	out, err := e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(2)})
	require.NoError(t, err)
	require.True(t, aws.ToBool(out.IsTruncated))
	require.Nil(t, out.NextMarker, "NextMarker only with a delimiter")
	require.Equal(t, identity.RootCanonicalID(testAccessKey), aws.ToString(out.Contents[0].Owner.ID))
	require.Equal(t, "b/1", aws.ToString(out.Contents[1].Key))

	out, err = e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Marker: aws.String("b/1")})
	require.NoError(t, err)
	require.Len(t, out.Contents, 3)
	require.Equal(t, "b/2", aws.ToString(out.Contents[0].Key))

	out, err = e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	require.NoError(t, err)
	require.True(t, aws.ToBool(out.IsTruncated))
	require.Equal(t, "b/", aws.ToString(out.NextMarker))
	out, err = e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), Marker: out.NextMarker})
	require.NoError(t, err)
	require.Len(t, out.Contents, 1)
	require.Equal(t, "c", aws.ToString(out.Contents[0].Key))
	require.Len(t, out.CommonPrefixes, 1)
	require.Equal(t, "d/", aws.ToString(out.CommonPrefixes[0].Prefix))
}

func TestVirtualHostAddressing(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("vhost")
	port := e.srv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":"):]
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String("http://s3.test" + port),
		Region:       testRegion,
		Credentials:  e.client.Options().Credentials,
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: dialTo(e.srv.Listener.Addr().String())}},

		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
	ctx := context.Background()
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k"), Body: strings.NewReader("virtual")})
	require.NoError(t, err)
	data, _ := e.get("vhost", "dir/k")
	require.Equal(t, "virtual", string(data))

	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	require.NoError(t, err)
	require.Len(t, out.Contents, 1)
	_, err = client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("vhost")})
	require.NoError(t, err)
}

func TestNotImplemented(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	e.put("bkt", "k", []byte("x"))
	calls := map[string]func() error{
		"PutBucketWebsite": func() error {
			_, err := e.client.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: aws.String("bkt"),
				WebsiteConfiguration: &types.WebsiteConfiguration{IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}}})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			requireS3Error(t, call(), "NotImplemented", http.StatusNotImplemented)
		})
	}
	require.NotNil(t, e.meta.object("bkt", "k"), "no unsupported call may have side effects")
}

func TestResponseHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	ids := map[string]bool{}
	for _, path := range []string{"/", "/bkt", "/bkt/absent"} {
		resp, _ := e.do(e.signedRequest(http.MethodGet, path, nil, 0, nil))
		id := resp.Header.Get("x-amz-request-id")
		require.Len(t, id, 16)
		require.False(t, ids[id], "request IDs are unique")
		ids[id] = true
		require.NotEmpty(t, resp.Header.Get("x-amz-id-2"))
		require.Equal(t, "Cairn", resp.Header.Get("Server"))
	}
	resp, body := e.do(e.signedRequest(http.MethodGet, "/bkt/absent", nil, 0, nil))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
	require.Contains(t, string(body), "<RequestId>"+resp.Header.Get("x-amz-request-id")+"</RequestId>")
	require.Contains(t, string(body), "<Resource>/bkt/absent</Resource>")
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	e.bodies.failWrites(errors.New("open /secret/path/shard: permission denied"))
	resp, body := e.do(e.signedRequest(http.MethodPut, "/bkt/k", strings.NewReader("data"), 4, nil))
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InternalError</Code>")
	require.NotContains(t, string(body), "/secret/path")
}
