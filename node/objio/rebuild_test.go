package objio_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// combinations returns every subset of {0..n-1} with 1..max elements.
func combinations(n, max int) [][]int {
	var out [][]int
	for mask := 1; mask < 1<<n; mask++ {
		var set []int
		for i := range n {
			if mask&(1<<i) != 0 {
				set = append(set, i)
			}
		}
		if len(set) <= max {
			out = append(out, set)
		}
	}
	return out
}

// spareNodes returns the nodes of c holding no shard of b.
func spareNodes(c *objiotest.Cluster, b *objio.Body) []*metapb.ShardPlacement {
	used := map[string]bool{}
	for _, sh := range b.Shards {
		used[sh.NodeId] = true
	}
	var out []*metapb.ShardPlacement
	for _, s := range c.Servers {
		if !used[string(s.ID)] {
			out = append(out, &metapb.ShardPlacement{NodeId: string(s.ID), DriveId: string(objiotest.DriveID(s.ID))})
		}
	}
	return out
}

// TestRebuildEveryLoss loses every combination of up to M shards of
// bodies of several sizes and checks that the rebuilt shards are
// byte-identical to the lost ones and that the body reads back from the
// new placement.
func TestRebuildEveryLoss(t *testing.T) {
	profiles := []erasure.Profile{{K: 4, M: 2, BlockSize: 4096}, {K: 2, M: 1, BlockSize: 4096}}
	for _, p := range profiles {
		for _, size := range []int{1, 4096*p.K - 3, 3*4096*p.K + 1000} {
			t.Run(fmt.Sprintf("%s/%d", p, size), func(t *testing.T) {
				s, c := newStore(t, p.K+p.M+p.M)
				data := payload(uint64(size), size)
				for _, lost := range combinations(p.K+p.M, p.M) {
					b := put(t, s, p, data)
					spare := spareNodes(c, b)
					require.GreaterOrEqual(t, len(spare), len(lost))
					want := map[int][]byte{}
					targets := map[int]*metapb.ShardPlacement{}
					for j, i := range lost {
						sh := b.Shards[i]
						srv := c.Server(sh.NodeId)
						d, ok := srv.Data(sh.DriveId, objio.ShardID(b.DataID, i))
						require.True(t, ok)
						want[i] = d
						require.True(t, srv.Remove(sh.DriveId, objio.ShardID(b.DataID, i)))
						targets[i] = spare[j]
					}
					got, err := s.RebuildShards(context.Background(), version(b), targets, objio.RebuildOptions{})
					require.NoError(t, err, "lost %v", lost)
					require.Len(t, got, len(lost))
					for j, r := range got {
						require.Equal(t, lost[j], r.Index)
						require.Equal(t, targets[r.Index], r.Target)
						d, ok := c.Server(r.Target.NodeId).Data(r.Target.DriveId, objio.ShardID(b.DataID, r.Index))
						require.True(t, ok, "rebuilt shard %d is on its target", r.Index)
						requireSame(t, want[r.Index], d, "shard %d after losing %v", r.Index, lost)
						require.EqualValues(t, len(d), r.Size)
						b.Shards[r.Index] = r.Target
					}
					// Only the rebuilt shards are read now: lose every
					// other one the profile allows and read back.
					dropped := 0
					for i := range b.Shards {
						if targets[i] == nil && dropped < p.M {
							sh := b.Shards[i]
							c.Server(sh.NodeId).Remove(sh.DriveId, objio.ShardID(b.DataID, i))
							dropped++
						}
					}
					if len(lost) == p.M {
						requireSame(t, data, readRange(t, s, b, 0, int64(size)), "read after losing %v", lost)
					}
				}
			})
		}
	}
}

// TestRebuildInPlace rewrites a corrupt shard on its own drive: the file
// is replaced with the right bytes.
func TestRebuildInPlace(t *testing.T) {
	p := erasure.Profile{K: 4, M: 2, BlockSize: 4096}
	s, c := newStore(t, 6)
	data := payload(7, 5*4096*4+17)
	b := put(t, s, p, data)
	sh := b.Shards[5]
	srv := c.Server(sh.NodeId)
	want, _ := srv.Data(sh.DriveId, objio.ShardID(b.DataID, 5))
	require.True(t, srv.Corrupt(sh.DriveId, objio.ShardID(b.DataID, 5), 4096))
	got, err := s.RebuildShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{5: sh}, objio.RebuildOptions{Avoid: []int{5}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	d, ok := srv.Data(sh.DriveId, objio.ShardID(b.DataID, 5))
	require.True(t, ok)
	requireSame(t, want, d)
	// The fake clears corruption only by a new write: the shard reads
	// clean now, with every data shard gone but one.
	for i := range 1 {
		c.Server(b.Shards[i].NodeId).Remove(b.Shards[i].DriveId, objio.ShardID(b.DataID, i))
	}
	requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
}

// TestRebuildTooFew fails when more than M shards are gone and leaves no
// rebuilt shard behind.
func TestRebuildTooFew(t *testing.T) {
	p := erasure.Profile{K: 2, M: 1, BlockSize: 4096}
	s, c := newStore(t, 5)
	b := put(t, s, p, payload(3, 20000))
	for i := range 2 {
		c.Server(b.Shards[i].NodeId).Remove(b.Shards[i].DriveId, objio.ShardID(b.DataID, i))
	}
	spare := spareNodes(c, b)
	before := c.ShardCount()
	_, err := s.RebuildShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{0: spare[0]}, objio.RebuildOptions{})
	require.ErrorIs(t, err, objio.ErrDataUnavailable)
	require.Equal(t, before, c.ShardCount(), "no rebuilt shard stays")
}

// TestRebuildThrottle checks the throttle sees every stripe's bytes and
// that its error stops the rebuild.
func TestRebuildThrottle(t *testing.T) {
	p := erasure.Profile{K: 2, M: 1, BlockSize: 4096}
	s, c := newStore(t, 4)
	size := 3*2*4096 + 100
	b := put(t, s, p, payload(5, size))
	spare := spareNodes(c, b)
	var total int
	_, err := s.RebuildShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{2: spare[0]}, objio.RebuildOptions{
		Throttle: func(_ context.Context, n int) error { total += n; return nil },
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, total, size)
	stop := fmt.Errorf("stop")
	before := c.ShardCount()
	_, err = s.RebuildShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{1: spare[0]}, objio.RebuildOptions{
		Throttle: func(context.Context, int) error { return stop },
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, before, c.ShardCount())
}
