package objio_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// TestCopyShards copies shards of bodies of several sizes to spare nodes:
// the copies are byte-identical, carry the recorded digests, and the body
// reads back from them; a source that cannot be read fails the copy and
// leaves no new shard behind.
func TestCopyShards(t *testing.T) {
	p := erasure.Profile{K: 4, M: 2, BlockSize: 4096}
	for _, size := range []int{1, 4096*p.K - 3, 3*4096*p.K + 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s, c := newStore(t, 9)
			data := payload(uint64(size), size)
			b := put(t, s, p, data)
			spare := spareNodes(c, b)
			targets := map[int]*metapb.ShardPlacement{0: spare[0], 5: spare[1]}
			var read int
			got, err := s.CopyShards(context.Background(), version(b), targets, objio.RebuildOptions{
				Throttle: func(_ context.Context, n int) error { read += n; return nil },
			})
			require.NoError(t, err)
			require.Len(t, got, 2)
			for _, r := range got {
				src := b.Shards[r.Index]
				want, ok := c.Server(src.NodeId).Data(src.DriveId, objio.ShardID(b.DataID, r.Index))
				require.True(t, ok)
				d, ok := c.Server(r.Target.NodeId).Data(r.Target.DriveId, objio.ShardID(b.DataID, r.Index))
				require.True(t, ok, "copy of shard %d is on its target", r.Index)
				requireSame(t, want, d)
				require.NotEmpty(t, b.ShardDigests[r.Index])
				require.Equal(t, b.ShardDigests[r.Index], r.Digest)
				require.EqualValues(t, len(d), r.Size)
			}
			require.EqualValues(t, 2*got[0].Size, read, "the throttle sees every block read, once")
			// Read from the copies: drop the old shards and M-2 others.
			for _, r := range got {
				src := b.Shards[r.Index]
				c.Server(src.NodeId).Remove(src.DriveId, objio.ShardID(b.DataID, r.Index))
				b.Shards[r.Index] = r.Target
			}
			c.Server(b.Shards[1].NodeId).Remove(b.Shards[1].DriveId, objio.ShardID(b.DataID, 1))
			c.Server(b.Shards[2].NodeId).Remove(b.Shards[2].DriveId, objio.ShardID(b.DataID, 2))
			requireSame(t, data, readRange(t, s, b, 0, int64(size)))

			// A source gone: the copy fails and leaves nothing.
			before := c.ShardCount()
			_, err = s.CopyShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{1: spare[2]}, objio.RebuildOptions{})
			require.Error(t, err)
			require.Equal(t, before, c.ShardCount(), "no copied shard stays")
		})
	}
}
