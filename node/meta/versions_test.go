package meta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestListObjectVersionsOnEveryNode lists versions through the leader and
// through followers (forwarded), right after the writes: the read is
// linearizable, and the FSM's refusals arrive as response codes.
func TestListObjectVersionsOnEveryNode(t *testing.T) {
	c := newTestCluster(t, 3, 3, nil)
	c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	propose := func(cmd *metapb.Command) {
		t.Helper()
		resp, err := c.nodes[0].client.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, resp.GetResult().GetCode(), resp.GetResult().GetMessage())
	}
	bucket := createBucketCmd("b")
	bucket.GetCreateBucket().Bucket.Versioning = metapb.VersioningState_VERSIONING_ENABLED
	propose(bucket)
	for _, id := range []string{"v1", "v2"} {
		propose(&metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: &metapb.ObjectVersion{
			Bucket: "b", Key: "k", VersionId: id, DataId: "d" + id,
		}}}})
	}
	propose(&metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{
		Bucket: "b", Key: "k", MarkerVersionId: "m1",
	}}})

	for _, tn := range c.nodes {
		t.Run(tn.cfg.NodeID, func(t *testing.T) {
			resp, err := tn.client.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "b"})
			require.NoError(t, err)
			require.Equal(t, metapb.ErrorCode_OK, resp.GetCode())
			var ids []string
			for _, v := range resp.GetVersions() {
				ids = append(ids, v.GetVersionId())
			}
			require.Equal(t, []string{"m1", "v2", "v1"}, ids)
			require.True(t, resp.GetVersions()[0].GetDeleteMarker())
			require.True(t, resp.GetVersions()[0].GetIsLatest())

			resp, err = tn.client.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "nope"})
			require.NoError(t, err)
			require.Equal(t, metapb.ErrorCode_NO_SUCH_BUCKET, resp.GetCode())

			resp, err = tn.client.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{Bucket: "b", KeyMarker: "k", VersionIdMarker: "nope"})
			require.NoError(t, err)
			require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, resp.GetCode())
		})
	}
}
