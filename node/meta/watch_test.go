package meta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestWatchBuckets: the watch opens with a reset on the leader and,
// relayed, on a follower; a bucket change reaches both streams as an event
// naming its index; an object commit does not; and the streams end when
// the leader stops, so that a client falls back to linearizable reads.
func TestWatchBuckets(t *testing.T) {
	c := newTestCluster(t, 3, 3, nil)
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	_, err := leader.client.Propose(ctx, &metapb.ProposeRequest{Command: createBucketCmd("b")})
	require.NoError(t, err)

	streams := map[string]*testNode{"leader": leader, "follower": c.followers()[0]}
	type stream = interface {
		Recv() (*metapb.BucketsEvent, error)
	}
	open := map[string]stream{}
	var changed uint64
	for name, tn := range streams {
		st, err := tn.client.WatchBuckets(ctx, &metapb.WatchBucketsRequest{})
		require.NoError(t, err)
		ev, err := st.Recv()
		require.NoError(t, err, name)
		require.True(t, ev.GetReset_(), name)
		require.NotZero(t, ev.GetChangedIndex(), name)
		require.Equal(t, uint32(DefaultWatchProgress.Milliseconds()), ev.GetProgressIntervalMs())
		changed = ev.GetChangedIndex()
		open[name] = st
	}

	// An object commit: progress events may come, none with a new index.
	res, err := leader.client.Propose(ctx, &metapb.ProposeRequest{Command: &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{
		Version: &metapb.ObjectVersion{Bucket: "b", Key: "k", DataId: "d", Profile: &metapb.ErasureProfile{DataShards: 1, ParityShards: 1, BlockSize: 4096},
			Shards: []*metapb.ShardPlacement{{NodeId: "n1", DriveId: "d1"}, {NodeId: "n2", DriveId: "d1"}}}}}}})
	require.NoError(t, err)
	require.Equal(t, metapb.ErrorCode_OK, res.GetResult().GetCode(), res.GetResult().GetMessage())
	idx, _ := leader.node.fsm.BucketChanges()
	require.Equal(t, changed, idx, "an object commit counted as a bucket change")
	_, err = leader.client.Propose(ctx, &metapb.ProposeRequest{Command: createBucketCmd("c")})
	require.NoError(t, err)
	for name, st := range open {
		for {
			ev, err := st.Recv()
			require.NoError(t, err, name)
			require.False(t, ev.GetReset_())
			if ev.GetChangedIndex() != changed {
				require.Greater(t, ev.GetChangedIndex(), changed, name)
				require.GreaterOrEqual(t, ev.GetIndex(), ev.GetChangedIndex(), name)
				break
			}
		}
	}

	c.stop(leader)
	for name, st := range open {
		for {
			_, err := st.Recv()
			if err != nil {
				require.NotEqual(t, codes.OK, status.Code(err), name)
				break
			}
		}
	}
}
