package objio_test

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
)

// failures records OnReadFailure calls.
type failures struct {
	mu   sync.Mutex
	errs map[int]error
}

func (f *failures) hook(_ *metapb.ObjectVersion, shard int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = map[int]error{}
	}
	f.errs[shard] = err
}

func (f *failures) get() map[int]error {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]error{}
	for k, v := range f.errs {
		out[k] = v
	}
	return out
}

// freezeShards freezes reads of the given shards of b on the nodes holding
// them (two may share a node if the PUT moved one) and returns the server
// of the first.
func freezeShards(c *objiotest.Cluster, b *objio.Body, idx ...int) *objiotest.Server {
	ids := map[string]map[string]bool{}
	for _, i := range idx {
		n := b.Shards[i].GetNodeId()
		if ids[n] == nil {
			ids[n] = map[string]bool{}
		}
		ids[n][objio.ShardID(b.DataID, i)] = true
	}
	for n, set := range ids {
		c.Server(n).FreezeReads(func(s string) bool { return set[s] })
	}
	return c.Server(b.Shards[idx[0]].GetNodeId())
}

// TestHedgedReadAroundFrozenShard: a data shard whose drive stops answering
// (no error, no bytes) must not set the latency of the GET: a parity read is
// started beside it, the object comes back whole, the frozen read is
// cancelled, and the shard is not reported as failed (it was only slow).
func TestHedgedReadAroundFrozenShard(t *testing.T) {
	var f failures
	s, c := newStore(t, 6, func(cfg *objio.Config) {
		cfg.OnReadFailure = f.hook
		cfg.HedgeFloor = time.Millisecond
		cfg.StallTimeout = time.Hour // only hedging may get around the frozen shard
	})
	data := payload(1, 3*small.K*small.BlockSize+123)
	b := put(t, s, small, data)
	srv := freezeShards(c, b, 1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var buf bytes.Buffer
	require.NoError(t, s.ReadBody(ctx, version(b), 0, int64(len(data)), &buf))
	requireSame(t, data, buf.Bytes())
	require.GreaterOrEqual(t, s.Hedges(), uint64(1), "a parity read was hedged")
	require.Empty(t, f.get(), "slowness is not a failure")
	require.Eventually(t, func() bool { return srv.ReadsCancelled() >= 1 }, 10*time.Second, time.Millisecond,
		"the frozen read was cancelled")
	parityReads := 0
	for i := small.K; i < small.K+small.M; i++ {
		parityReads += c.Server(b.Shards[i].GetNodeId()).ReadCalls(objio.ShardID(b.DataID, i))
	}
	require.Positive(t, parityReads, "served via parity")
}

// TestStalledShardWithoutHedging: with hedging off, the watchdog cuts the
// frozen stream; that is a real failure (reported), and the read goes on
// from parity.
func TestStalledShardWithoutHedging(t *testing.T) {
	var f failures
	s, c := newStore(t, 6, func(cfg *objio.Config) {
		cfg.OnReadFailure = f.hook
		cfg.HedgeFloor = -1
		cfg.HedgeCap = time.Second
		cfg.StallTimeout = time.Second
	})
	data := payload(2, 2*small.K*small.BlockSize)
	b := put(t, s, small, data)
	freezeShards(c, b, 2)

	requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
	require.Zero(t, s.Hedges())
	errs := f.get()
	require.Contains(t, errs, 2)
	require.Equal(t, codes.Unavailable, status.Code(errs[2]), "a stall reads as unreachable: %v", errs[2])
}

// TestTooManyFrozenShards: more than M shards that never answer make the
// read fail with ErrDataUnavailable within the stall bound, not hang.
func TestTooManyFrozenShards(t *testing.T) {
	s, c := newStore(t, 6, func(cfg *objio.Config) {
		cfg.HedgeFloor = time.Millisecond
		cfg.StallTimeout = 200 * time.Millisecond
	})
	data := payload(3, small.K*small.BlockSize)
	b := put(t, s, small, data)
	freezeShards(c, b, 0, 1, 2)
	var buf bytes.Buffer
	err := s.ReadBody(context.Background(), version(b), 0, int64(len(data)), &buf)
	require.ErrorIs(t, err, objio.ErrDataUnavailable)
	require.Zero(t, buf.Len())
}

// TestPutAroundFrozenNode: a storage node that stops reading its streams
// is cut by the watchdog; a body of one stripe moves that shard to another
// node and succeeds, and the node is suspected.
func TestPutAroundFrozenNode(t *testing.T) {
	s, c := newStore(t, 8, func(cfg *objio.Config) {
		// Long enough for healthy nodes under the race detector.
		cfg.StallTimeout = time.Second
		cfg.CommitTimeout = time.Second
	})
	frozen := c.Servers[0]
	frozen.FreezeWritesAfter(0)
	// Placement picks 6 of the 8 nodes by the body's random data ID, so a
	// PUT skips the frozen node one time in four: PUT until one has met
	// it (and so suspected it), at least four times.
	for seed := uint64(0); seed < 4 || (seed < 40 && !slices.Contains(c.Maps.Suspected(), frozen.ID)); seed++ {
		data := payload(10+seed, small.K*small.BlockSize/2)
		b := put(t, s, small, data)
		for _, sp := range b.Shards {
			require.NotEqual(t, string(frozen.ID), sp.GetNodeId())
		}
		requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
	}
	require.Contains(t, c.Maps.Suspected(), frozen.ID)
}

// TestPutFrozenPastFirstStripe: a node that freezes after the first stripe
// is cut by the watchdog; its shard's stream is dropped, the others go on,
// and once they are durable the shard is rebuilt on another node: the PUT
// succeeds and the node is suspected.
func TestPutFrozenPastFirstStripe(t *testing.T) {
	s, c := newStore(t, 6, func(cfg *objio.Config) {
		// Long enough for healthy sends under the race detector.
		cfg.StallTimeout = time.Second
		cfg.CommitTimeout = time.Second
	})
	frozen := c.Servers[0]
	frozen.FreezeWritesAfter(int64(small.BlockSize))
	data := payload(20, 8*small.K*small.BlockSize)
	b := put(t, s, small, data)
	requireRebuiltOffNode(t, c, b, frozen)
	requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
	require.Contains(t, c.Maps.Suspected(), frozen.ID)
}

// requireRebuiltOffNode checks that no shard of b is on srv, that every
// shard is on its node with the digest the record holds, and that
// exactly K+M shards exist.
func requireRebuiltOffNode(t *testing.T, c *objiotest.Cluster, b *objio.Body, srv *objiotest.Server) {
	t.Helper()
	for i, sp := range b.Shards {
		require.NotEqual(t, string(srv.ID), sp.GetNodeId(), "shard %d", i)
		got, ok := c.Server(sp.GetNodeId()).Digest(sp.GetDriveId(), objio.ShardID(b.DataID, i))
		require.True(t, ok, "shard %d is on %s", i, sp.GetNodeId())
		require.Equal(t, b.ShardDigests[i], got, "shard %d digest", i)
	}
	require.Equal(t, b.Profile.K+b.Profile.M, c.ShardCount(), "the lost shard left nothing behind")
}

// TestPutFullDrive: a drive that answers ResourceExhausted (ENOSPC) while
// the first stripe is still held (here, a body of one stripe) is replaced
// and suspected; past the first stripe the PUT
// fails cleanly with ErrShardWrite, and the drive is suspected, so the next
// PUT avoids it.
func TestPutFullDrive(t *testing.T) {
	t.Run("first stripe", func(t *testing.T) {
		s, c := newStore(t, 8)
		full := c.Servers[0]
		full.FillAfter(0)
		for seed := range uint64(4) {
			// One stripe: storage reports ENOSPC asynchronously, so the
			// error may surface only at the commit, while the stripe is
			// still held for a resend.
			data := payload(30+seed, small.K*small.BlockSize)
			b := put(t, s, small, data)
			for _, sp := range b.Shards {
				require.NotEqual(t, string(full.ID), sp.GetNodeId())
			}
			requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
		}
		require.Contains(t, c.Maps.SuspectedDrives(), objiotest.DriveID(full.ID))
		require.NotContains(t, c.Maps.Suspected(), full.ID, "a full drive is not a dead node")
	})
	t.Run("past first stripe", func(t *testing.T) {
		s, c := newStore(t, 6)
		full := c.Servers[0]
		full.FillAfter(int64(small.BlockSize))
		data := payload(40, 4*small.K*small.BlockSize+77)
		b := put(t, s, small, data)
		requireRebuiltOffNode(t, c, b, full)
		requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
		require.Equal(t, []placement.DriveID{objiotest.DriveID(full.ID)}, c.Maps.SuspectedDrives())
		require.NotContains(t, c.Maps.Suspected(), full.ID, "a full drive is not a dead node")
	})
	t.Run("more lost than M-1", func(t *testing.T) {
		// 4+2 on six nodes: every node holds a shard; a second lost shard
		// would leave only K durable ones to rebuild from.
		s, c := newStore(t, 6)
		c.Servers[0].FillAfter(int64(small.BlockSize))
		c.Servers[1].FillAfter(int64(small.BlockSize))
		data := payload(41, 4*small.K*small.BlockSize)
		_, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: int64(len(data))})
		require.ErrorIs(t, err, objio.ErrShardWrite)
		require.Zero(t, c.ShardCount())
		require.Subset(t, []placement.DriveID{objiotest.DriveID(c.Servers[0].ID), objiotest.DriveID(c.Servers[1].ID)},
			c.Maps.SuspectedDrives())
		require.NotEmpty(t, c.Maps.SuspectedDrives())
	})
	t.Run("rebuild fails", func(t *testing.T) {
		s, c := newStore(t, 6, func(cfg *objio.Config) {
			cfg.HedgeFloor = -1
			cfg.StallTimeout = time.Second
			cfg.CommitTimeout = time.Second
		})
		c.Servers[0].FillAfter(int64(small.BlockSize))
		// No shard can be read back: the rebuild cannot get K of them.
		for _, srv := range c.Servers {
			srv.FreezeReads(func(string) bool { return true })
		}
		data := payload(42, 4*small.K*small.BlockSize)
		_, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: int64(len(data))})
		require.ErrorIs(t, err, objio.ErrShardWrite)
		require.ErrorIs(t, err, objio.ErrDataUnavailable)
		require.Zero(t, c.ShardCount())
	})
}
