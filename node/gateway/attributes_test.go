package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/proto/metapb"
)

func TestParseAttributesQuery(t *testing.T) {
	cases := []struct {
		name  string
		h     http.Header
		code  string
		attrs int
		max   int
	}{
		{"one", http.Header{"X-Amz-Object-Attributes": {"ETag"}}, "", 1, 1000},
		{"list", http.Header{"X-Amz-Object-Attributes": {"ETag, ObjectSize,StorageClass"}}, "", 3, 1000},
		{"repeated header", http.Header{"X-Amz-Object-Attributes": {"ETag", "Checksum", "ObjectParts"}}, "", 3, 1000},
		{"missing", http.Header{}, "InvalidRequest", 0, 0},
		{"empty", http.Header{"X-Amz-Object-Attributes": {" , "}}, "InvalidRequest", 0, 0},
		{"unknown", http.Header{"X-Amz-Object-Attributes": {"ETag,Owner"}}, "InvalidArgument", 0, 0},
		{"wrong case", http.Header{"X-Amz-Object-Attributes": {"etag"}}, "InvalidArgument", 0, 0},
		{"max parts", http.Header{"X-Amz-Object-Attributes": {"ObjectParts"}, "X-Amz-Max-Parts": {"2"}}, "", 1, 2},
		{"max parts capped", http.Header{"X-Amz-Object-Attributes": {"ObjectParts"}, "X-Amz-Max-Parts": {"5000"}}, "", 1, 1000},
		{"bad max parts", http.Header{"X-Amz-Object-Attributes": {"ObjectParts"}, "X-Amz-Max-Parts": {"x"}}, "InvalidArgument", 0, 0},
		{"bad marker", http.Header{"X-Amz-Object-Attributes": {"ObjectParts"}, "X-Amz-Part-Number-Marker": {"-1"}}, "InvalidArgument", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := parseAttributesQuery(tc.h)
			if tc.code != "" {
				require.Equal(t, tc.code, s3err.FromError(err).Code)
				return
			}
			require.NoError(t, err)
			require.Len(t, q.attrs, tc.attrs)
			require.Equal(t, tc.max, q.maxParts)
		})
	}
}

func TestObjectAttributesParts(t *testing.T) {
	v := &metapb.ObjectVersion{Etag: `"abc-3"`, Size: 30, ChecksumType: "COMPOSITE", Checksums: map[string]string{"CRC32": "AAAA-3"}}
	for n := uint32(1); n <= 3; n++ {
		v.Parts = append(v.Parts, &metapb.PartInfo{Number: n, Size: 10, Checksums: map[string]string{"CRC32": "p"}})
	}
	all := map[string]bool{attrETag: true, attrChecksum: true, attrObjectParts: true, attrStorageClass: true, attrObjectSize: true}
	out := objectAttributes(v, attributesQuery{attrs: all, maxParts: 2})
	require.Equal(t, "abc-3", out.ETag, "ETag without quotes, as AWS")
	require.Equal(t, "STANDARD", out.StorageClass)
	require.Equal(t, int64(30), *out.ObjectSize)
	require.Equal(t, "AAAA-3", out.Checksum.ChecksumCRC32)
	require.Equal(t, "COMPOSITE", out.Checksum.ChecksumType)
	require.Equal(t, 3, out.ObjectParts.TotalPartsCount)
	require.True(t, out.ObjectParts.IsTruncated)
	require.Equal(t, 2, out.ObjectParts.NextPartNumberMarker)
	require.Len(t, out.ObjectParts.Parts, 2)

	next := objectAttributes(v, attributesQuery{attrs: map[string]bool{attrObjectParts: true}, maxParts: 2, partMarker: 2})
	require.False(t, next.ObjectParts.IsTruncated)
	require.Equal(t, 3, next.ObjectParts.Parts[0].PartNumber)
	require.Equal(t, int64(10), next.ObjectParts.Parts[0].Size)
	require.Empty(t, next.ETag, "only what was asked for")
	require.Nil(t, next.ObjectSize)

	single := objectAttributes(&metapb.ObjectVersion{Etag: `"e"`}, attributesQuery{attrs: all, maxParts: 1000})
	require.Nil(t, single.ObjectParts, "a single-part object has no parts")
	require.Nil(t, single.Checksum)
}

func TestGetObjectAttributes(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("attrs")
	b := aws.String("attrs")
	put, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("hello"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, StorageClass: types.StorageClassReducedRedundancy})
	require.NoError(t, err)

	out, err := e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("k"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectSize, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectParts}})
	require.NoError(t, err)
	require.Equal(t, strings.Trim(aws.ToString(put.ETag), `"`), aws.ToString(out.ETag))
	require.Equal(t, int64(5), aws.ToInt64(out.ObjectSize))
	require.Equal(t, types.StorageClassReducedRedundancy, out.StorageClass)
	require.Equal(t, aws.ToString(put.ChecksumCRC32), aws.ToString(out.Checksum.ChecksumCRC32))
	require.Nil(t, out.ObjectParts)
	require.NotNil(t, out.LastModified)

	_, err = e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("missing"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag}})
	requireS3Error(t, err, "NoSuchKey", http.StatusNotFound)

	resp, body := e.do(e.signedRequest(http.MethodGet, "/attrs/k?attributes", nil, 0, http.Header{"X-Amz-Object-Attributes": {"Bogus"}}))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InvalidArgument</Code>")
}

func TestGetObjectAttributesSSECAndVersions(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("attrv")
	b := aws.String("attrv")
	_, err := e.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	require.NoError(t, err)
	etag := []types.ObjectAttributes{types.ObjectAttributesEtag}

	ckAlg, ckKey, ckMD5 := customerKeyInput(sse.NewDataKey())
	first, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("secret"),
		SSECustomerAlgorithm: ckAlg, SSECustomerKey: ckKey, SSECustomerKeyMD5: ckMD5})
	require.NoError(t, err)
	_, err = e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("k"), ObjectAttributes: etag})
	requireS3Error(t, err, "InvalidRequest", http.StatusBadRequest)
	_, otherKey, otherMD5 := customerKeyInput(sse.NewDataKey())
	_, err = e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("k"), ObjectAttributes: etag,
		SSECustomerAlgorithm: ckAlg, SSECustomerKey: otherKey, SSECustomerKeyMD5: otherMD5})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	out, err := e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("k"), ObjectAttributes: etag,
		SSECustomerAlgorithm: ckAlg, SSECustomerKey: ckKey, SSECustomerKeyMD5: ckMD5})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(first.VersionId), aws.ToString(out.VersionId))

	second := e.put("attrv", "k", []byte("plain"))
	out, err = e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("k"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
	require.NoError(t, err)
	require.Equal(t, aws.ToString(second.VersionId), aws.ToString(out.VersionId))
	require.Equal(t, int64(5), aws.ToInt64(out.ObjectSize))
	out, err = e.client.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("k"), VersionId: first.VersionId, ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize},
		SSECustomerAlgorithm: ckAlg, SSECustomerKey: ckKey, SSECustomerKeyMD5: ckMD5})
	require.NoError(t, err)
	require.Equal(t, int64(6), aws.ToInt64(out.ObjectSize), "versionId selects the version")

	del, err := e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("k")})
	require.NoError(t, err)
	resp, _ := e.do(e.signedRequest(http.MethodGet, "/attrv/k?attributes", nil, 0, http.Header{"X-Amz-Object-Attributes": {"ETag"}}))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "true", resp.Header.Get("x-amz-delete-marker"))
	resp, _ = e.do(e.signedRequest(http.MethodGet, "/attrv/k?attributes&versionId="+aws.ToString(del.VersionId), nil, 0, http.Header{"X-Amz-Object-Attributes": {"ETag"}}))
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, "true", resp.Header.Get("x-amz-delete-marker"))
	require.NotEmpty(t, resp.Header.Get("Last-Modified"))
}
