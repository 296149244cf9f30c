package gateway

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// requireDigests checks that a body's record keeps, for every shard, the
// digest its (fake) storage node computed from the bytes it received.
func requireDigests(t *testing.T, cl *objiotest.Cluster, dataID string, shards []*metapb.ShardPlacement, digests [][]byte) {
	t.Helper()
	require.NotEmpty(t, shards)
	require.Len(t, digests, len(shards), "one digest per shard")
	for i, sp := range shards {
		got, ok := cl.Server(sp.GetNodeId()).Digest(sp.GetDriveId(), objio.ShardID(dataID, i))
		require.True(t, ok, "shard %d", i)
		require.Equal(t, got, digests[i], "shard %d", i)
	}
}

// TestRecordsKeepShardDigests: PutObject, CopyObject, UploadPart and
// UploadPartCopy record the shard digests of the bodies they store, and a
// GET reads around a shard whose file is not the recorded one.
func TestRecordsKeepShardDigests(t *testing.T) {
	cl := objiotest.NewCluster(t, 6)
	pool := objio.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	var failed []int
	store, err := objio.New(objio.Config{Maps: cl.Maps, Dialer: pool, OnReadFailure: func(_ *metapb.ObjectVersion, shard int, _ error) {
		failed = append(failed, shard)
	}})
	require.NoError(t, err)
	meta := metatest.New(t)
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = NewMetaClient(meta)
		c.Bodies = store
		c.MinPartSize = testMinPart
	}})
	ctx := context.Background()
	e.createBucket("digests")
	record := func(key string) *metapb.ObjectVersion {
		t.Helper()
		resp, err := meta.GetObject(ctx, &metapb.GetObjectRequest{Bucket: "digests", Key: key})
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, resp.GetCode())
		return resp.GetVersion()
	}

	body := randBytes(1, 3*int(testProfile.StripeSize())+100)
	e.put("digests", "obj", body)
	v := record("obj")
	requireDigests(t, cl, v.GetDataId(), v.GetShards(), v.GetShardDigests())

	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("digests"), Key: aws.String("copy"), CopySource: aws.String("digests/obj")})
	require.NoError(t, err)
	c := record("copy")
	require.NotEqual(t, v.GetDataId(), c.GetDataId())
	requireDigests(t, cl, c.GetDataId(), c.GetShards(), c.GetShardDigests())

	part := randBytes(2, testMinPart+10)
	up, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("digests"), Key: aws.String("mp")})
	require.NoError(t, err)
	p1, err := e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("digests"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(part)})
	require.NoError(t, err)
	p2, err := e.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("digests"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), CopySource: aws.String("digests/obj")})
	require.NoError(t, err)
	_, err = e.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("digests"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag},
		}}})
	require.NoError(t, err)
	mp := record("mp")
	require.Len(t, mp.GetParts(), 2)
	for _, p := range mp.GetParts() {
		requireDigests(t, cl, p.GetDataId(), p.GetShards(), p.GetShardDigests())
	}

	// A shard file that is not the recorded one (another shard's copied
	// over it): the GET reads around it and reports it.
	sp := v.GetShards()[1]
	require.True(t, cl.Server(sp.GetNodeId()).Misplace(sp.GetDriveId(), objio.ShardID(v.GetDataId(), 1)))
	got, _ := e.get("digests", "obj")
	require.True(t, bytes.Equal(body, got))
	require.Contains(t, failed, 1)
	sp = mp.GetParts()[1].GetShards()[0]
	require.True(t, cl.Server(sp.GetNodeId()).Misplace(sp.GetDriveId(), objio.ShardID(mp.GetParts()[1].GetDataId(), 0)))
	got, _ = e.get("digests", "mp")
	require.True(t, bytes.Equal(append(append([]byte{}, part...), body...), got))
	require.Contains(t, failed, 0)
}
