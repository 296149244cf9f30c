package meta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestMultipartReadsAndExpiry(t *testing.T) {
	clock := newFakeClock()
	c := newTestCluster(t, 3, 3, func(_ int, cfg *Config) { cfg.Now = clock.Now })
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	propose := func(cmd *metapb.Command) *metapb.CommandResult {
		t.Helper()
		resp, err := c.followers()[0].client.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
		require.NoError(t, err)
		return resp.GetResult()
	}
	require.Equal(t, metapb.ErrorCode_OK, propose(createBucketCmd("up")).GetCode())
	day := int64(24 * time.Hour)
	now := clock.Now().UnixNano()
	for _, u := range []struct {
		key, id   string
		initiated int64
	}{{"tmp/old", "u1", now - 5*day}, {"tmp/new", "u2", now}, {"keep/old", "u3", now - 5*day}} {
		res := propose(&metapb.Command{Op: &metapb.Command_CreateMultipartUpload{CreateMultipartUpload: &metapb.CreateMultipartUpload{
			Upload: &metapb.MultipartUpload{Bucket: "up", Key: u.key, UploadId: u.id, InitiatedUnixNano: u.initiated},
		}}})
		require.Equal(t, metapb.ErrorCode_OK, res.GetCode())
	}

	// Reads are served (and forwarded) by every node.
	for _, tn := range c.nodes {
		r, err := tn.client.GetMultipartUpload(ctx, &metapb.GetMultipartUploadRequest{Bucket: "up", Key: "tmp/old", UploadId: "u1"})
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_OK, r.GetCode())
		require.Equal(t, "u1", r.GetUpload().GetUploadId())
		r, err = tn.client.GetMultipartUpload(ctx, &metapb.GetMultipartUploadRequest{Bucket: "up", Key: "tmp/old", UploadId: "nope"})
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_NO_SUCH_UPLOAD, r.GetCode())
		l, err := tn.client.ListMultipartUploads(ctx, &metapb.ListMultipartUploadsRequest{Bucket: "up"})
		require.NoError(t, err)
		require.Len(t, l.GetUploads(), 3)
		l, err = tn.client.ListMultipartUploads(ctx, &metapb.ListMultipartUploadsRequest{Bucket: "nope"})
		require.NoError(t, err)
		require.Equal(t, metapb.ErrorCode_NO_SUCH_BUCKET, l.GetCode())
	}

	// Without a rule nothing expires.
	n, err := leader.node.expireUploads(ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	require.Equal(t, metapb.ErrorCode_OK, propose(&metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: "up", LifecycleRules: []*metapb.LifecycleRule{{Id: "r", Enabled: true, Prefix: "tmp/", AbortIncompleteMultipartDays: 2}}},
		Fields: []string{"lifecycle"},
	}}}).GetCode())
	n, err = leader.node.expireUploads(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	l, err := leader.client.ListMultipartUploads(ctx, &metapb.ListMultipartUploadsRequest{Bucket: "up"})
	require.NoError(t, err)
	var left []string
	for _, u := range l.GetUploads() {
		left = append(left, u.GetUploadId())
	}
	require.ElementsMatch(t, []string{"u2", "u3"}, left)

	clock.Advance(3 * 24 * time.Hour)
	n, err = leader.node.expireUploads(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the newer upload expires once old enough")
}
