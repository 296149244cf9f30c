package objio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
)

func TestRoundTrip(t *testing.T) {
	ss := small.StripeSize()
	s, c := newStore(t, 6)
	tests := []struct {
		name string
		p    erasure.Profile
		size int64
	}{
		{"empty", small, 0},
		{"one byte", small, 1},
		{"stripe-1", small, ss - 1},
		{"stripe", small, ss},
		{"stripe+1", small, ss + 1},
		{"stripes and tail", small, 5*ss + 1234},
		{"tail shorter than K", small, 2*ss + 3},
		{"2+1", erasure.Profile{K: 2, M: 1, BlockSize: 4096}, 3*8192 + 77},
		{"no parity", erasure.Profile{K: 3, M: 0, BlockSize: 4096}, 2*3*4096 + 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := payload(uint64(tc.size), int(tc.size))
			b := put(t, s, tc.p, data)
			require.False(t, b.UnderSpread)
			require.Equal(t, tc.p, b.Profile)
			nodes := map[string]bool{}
			for i, sh := range b.Shards {
				nodes[sh.NodeId] = true
				got, ok := c.Server(sh.NodeId).Data(sh.DriveId, objio.ShardID(b.DataID, i))
				require.True(t, ok, "shard %d missing", i)
				require.EqualValues(t, tc.p.ShardSize(tc.size), len(got))
			}
			require.Len(t, nodes, tc.p.K+tc.p.M, "shards on distinct nodes")
			requireSame(t, data, readRange(t, s, b, 0, tc.size))
		})
	}
}

func TestRanges(t *testing.T) {
	p := small
	ss, bs := p.StripeSize(), int64(p.BlockSize)
	size := 4*ss + 1000
	s, _ := newStore(t, 6)
	data := payload(7, int(size))
	b := put(t, s, p, data)

	ranges := [][2]int64{
		{0, 0}, {0, 1}, {size - 1, 1}, {0, size}, {size, 0},
		{bs - 1, 2}, {bs, bs}, {ss - 1, 2}, {ss, ss}, {ss - 10, ss + 20},
		{ss + 5, 3*ss - 10}, {3 * ss, size - 3*ss}, {4 * ss, 1000}, {4*ss + 999, 1},
		{1, size - 2}, {2*ss + bs*3 + 17, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 30 {
		off := rng.Int64N(size)
		ranges = append(ranges, [2]int64{off, rng.Int64N(size - off + 1)})
	}
	for _, r := range ranges {
		got := readRange(t, s, b, r[0], r[1])
		requireSame(t, data[r[0]:r[0]+r[1]], got, "range %d+%d", r[0], r[1])
	}

	bad := [][2]int64{{-1, 1}, {0, size + 1}, {size, 1}, {5, -1}}
	for _, r := range bad {
		err := s.ReadBody(context.Background(), version(b), r[0], r[1], io.Discard)
		require.ErrorIs(t, err, objio.ErrInvalidArgument, "range %d+%d", r[0], r[1])
	}
}

func TestLargeRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("moves ~20 MiB")
	}
	s, _ := newStore(t, 6)
	size := 5*large.StripeSize() + 333_333
	data := payload(3, int(size))
	b := put(t, s, large, data)
	requireSame(t, data, readRange(t, s, b, 0, size))
	for _, r := range [][2]int64{{large.StripeSize() - 1, 2}, {1 << 20, 7 << 20}, {size - 400_000, 400_000}} {
		requireSame(t, data[r[0]:r[0]+r[1]], readRange(t, s, b, r[0], r[1]), "range %v", r)
	}
}

func TestSizeHintIsOnlyAHint(t *testing.T) {
	s, _ := newStore(t, 6)
	data := payload(9, int(3*small.StripeSize()+5))
	for _, hint := range []int64{-1, 0, 10, int64(len(data)) - 1, int64(len(data)) + 100} {
		b, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: hint})
		require.NoError(t, err)
		require.EqualValues(t, len(data), b.Size, "hint %d", hint)
		requireSame(t, data, readRange(t, s, b, 0, b.Size), "hint %d", hint)
	}
}

// shardHolder finds the server and shard ID of shard i.
func shardHolder(c *objiotest.Cluster, b *objio.Body, i int) (*objiotest.Server, string, string) {
	sh := b.Shards[i]
	return c.Server(sh.NodeId), sh.DriveId, objio.ShardID(b.DataID, i)
}

func TestDegradedRead(t *testing.T) {
	p := small
	ss, bs := p.StripeSize(), int64(p.BlockSize)
	size := 6*ss + 999
	data := payload(11, int(size))

	stop := func(idx ...int) func(*testing.T, *objiotest.Cluster, *objio.Body) {
		return func(t *testing.T, c *objiotest.Cluster, b *objio.Body) {
			for _, i := range idx {
				srv, _, _ := shardHolder(c, b, i)
				srv.Stop()
			}
		}
	}
	corrupt := func(i int, off int64) func(*testing.T, *objiotest.Cluster, *objio.Body) {
		return func(t *testing.T, c *objiotest.Cluster, b *objio.Body) {
			srv, drive, id := shardHolder(c, b, i)
			require.True(t, srv.Corrupt(drive, id, off))
		}
	}
	remove := func(i int) func(*testing.T, *objiotest.Cluster, *objio.Body) {
		return func(t *testing.T, c *objiotest.Cluster, b *objio.Body) {
			srv, drive, id := shardHolder(c, b, i)
			require.True(t, srv.Remove(drive, id))
		}
	}
	misplace := func(i int) func(*testing.T, *objiotest.Cluster, *objio.Body) {
		return func(t *testing.T, c *objiotest.Cluster, b *objio.Body) {
			srv, drive, id := shardHolder(c, b, i)
			require.True(t, srv.Misplace(drive, id))
		}
	}
	type damage = func(*testing.T, *objiotest.Cluster, *objio.Body)
	tests := []struct {
		name    string
		damage  []damage
		failed  int // shards reported to OnReadFailure on the full read
		wantErr error
	}{
		{"one data node stopped", []damage{stop(0)}, 1, nil},
		{"two data nodes stopped", []damage{stop(1, 3)}, 2, nil},
		{"parity node stopped", []damage{stop(4)}, 0, nil},
		{"data shard missing", []damage{remove(2)}, 1, nil},
		{"data shard with another digest", []damage{misplace(1)}, 1, nil},
		{"three shards with other digests", []damage{misplace(0), misplace(2), misplace(5)}, 3, objio.ErrDataUnavailable},
		{"data shard corrupt in stripe 0", []damage{corrupt(0, 10)}, 1, nil},
		{"data shard corrupt mid-body", []damage{corrupt(1, 3*bs+5)}, 1, nil},
		{"two shards corrupt in different stripes", []damage{corrupt(0, 2*bs), corrupt(3, 5*bs+1)}, 2, nil},
		{"data corrupt and its parity down", []damage{corrupt(2, bs), stop(4)}, 2, nil},
		{"three nodes stopped", []damage{stop(0, 1, 2)}, 3, objio.ErrDataUnavailable},
		{"three shards corrupt", []damage{corrupt(0, 0), corrupt(1, bs), corrupt(2, 2*bs)}, 3, objio.ErrDataUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu       sync.Mutex
				reported []int
			)
			s, c := newStore(t, 6, func(cfg *objio.Config) {
				cfg.OnReadFailure = func(_ *metapb.ObjectVersion, shard int, _ error) {
					mu.Lock()
					defer mu.Unlock()
					reported = append(reported, shard)
				}
				// Parity is read only where a shard failed: a hedged read
				// of a stopped parity node would be a report too.
				cfg.HedgeFloor = -1
			})
			b := put(t, s, p, data)
			for _, d := range tc.damage {
				d(t, c, b)
			}
			var buf bytes.Buffer
			err := s.ReadBody(context.Background(), version(b), 0, size, &buf)
			mu.Lock()
			require.Len(t, reported, tc.failed, "reported %v", reported)
			mu.Unlock()
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				// Whatever was written before the failure is a correct prefix.
				require.True(t, bytes.HasPrefix(data, buf.Bytes()))
				return
			}
			require.NoError(t, err)
			requireSame(t, data, buf.Bytes())
			for _, r := range [][2]int64{{ss - 3, 7}, {3*ss + 1, 2*ss + 50}, {size - 5, 5}} {
				requireSame(t, data[r[0]:r[0]+r[1]], readRange(t, s, b, r[0], r[1]), "range %v", r)
			}
		})
	}
}

func TestDeadNodeAtPut(t *testing.T) {
	tests := []struct {
		name        string
		nodes       int
		dead        []int
		underSpread bool
	}{
		{"6 nodes, one dead: a node takes two shards", 6, []int{2}, true},
		{"8 nodes, two dead: spare nodes take over", 8, []int{0, 5}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newStore(t, tc.nodes)
			dead := map[string]bool{}
			for _, i := range tc.dead {
				c.Servers[i].Stop()
				dead[string(c.Servers[i].ID)] = true
			}
			data := payload(5, int(3*small.StripeSize()+10))
			b := put(t, s, small, data)
			require.Equal(t, tc.underSpread, b.UnderSpread)
			perNode := map[string]int{}
			for _, sh := range b.Shards {
				require.False(t, dead[sh.NodeId], "shard on dead node %s", sh.NodeId)
				perNode[sh.NodeId]++
				require.LessOrEqual(t, perNode[sh.NodeId], small.M)
			}
			for _, n := range c.Maps.Suspected() {
				require.True(t, dead[string(n)], "suspected live node %s", n)
			}
			if tc.nodes == len(b.Shards) {
				// Every node is in the placement, so the dead ones were
				// tried and suspected. With spare nodes the random data ID
				// may place the body around the dead ones altogether.
				require.NotEmpty(t, c.Maps.Suspected())
			}
			requireSame(t, data, readRange(t, s, b, 0, b.Size))
		})
	}
}

func TestInsufficientDrives(t *testing.T) {
	s, c := newStore(t, 2)
	_, err := s.WriteBody(context.Background(), bytes.NewReader([]byte("x")), objio.WriteOptions{Profile: small, Size: 1})
	require.ErrorIs(t, err, objio.ErrInsufficientDrives)
	require.ErrorIs(t, err, placement.ErrInsufficient)
	require.Zero(t, c.ShardCount())
}

func TestPutFailuresLeaveNothing(t *testing.T) {
	ss := small.StripeSize()
	errBoom := errors.New("client went away")
	tests := []struct {
		name    string
		setup   func(*objiotest.Cluster)
		body    func(cancel context.CancelFunc) io.Reader
		wantErr error
	}{
		{
			name:    "server fails mid-body",
			setup:   func(c *objiotest.Cluster) { c.Servers[3].FailWritesAfter(3 * int64(small.BlockSize)) },
			body:    func(context.CancelFunc) io.Reader { return bytes.NewReader(payload(1, int(10*ss))) },
			wantErr: objio.ErrShardWrite,
		},
		{
			name: "reader error mid-body",
			body: func(context.CancelFunc) io.Reader {
				return &failingReader{r: bytes.NewReader(payload(2, int(4*ss+100))), err: errBoom}
			},
			wantErr: errBoom,
		},
		{
			name: "reader error at once",
			body: func(context.CancelFunc) io.Reader {
				return &failingReader{r: bytes.NewReader(nil), err: errBoom}
			},
			wantErr: errBoom,
		},
		{
			name: "context cancelled mid-body",
			body: func(cancel context.CancelFunc) io.Reader {
				return io.MultiReader(bytes.NewReader(payload(3, int(3*ss))), cancelReader(cancel), bytes.NewReader(payload(4, int(3*ss))))
			},
			wantErr: context.Canceled,
		},
		{
			name: "context cancelled at the end",
			body: func(cancel context.CancelFunc) io.Reader {
				return io.MultiReader(bytes.NewReader(payload(3, int(2*ss))), cancelReader(cancel))
			},
			wantErr: context.Canceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newStore(t, 6)
			if tc.setup != nil {
				tc.setup(c)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b, err := s.WriteBody(ctx, tc.body(cancel), objio.WriteOptions{Profile: small, Size: -1})
			require.ErrorIs(t, err, tc.wantErr)
			require.Nil(t, b)
			require.Zero(t, c.ShardCount(), "shards left behind")
		})
	}
}

// cancelReader cancels when first read, then reports EOF.
type cancelReader context.CancelFunc

func (c cancelReader) Read([]byte) (int, error) {
	c()
	return 0, io.EOF
}

func TestReadCancelled(t *testing.T) {
	s, _ := newStore(t, 6)
	b := put(t, s, small, payload(8, 100_000))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.ReadBody(ctx, version(b), 0, b.Size, io.Discard)
	require.ErrorIs(t, err, context.Canceled)
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestReadWriterError(t *testing.T) {
	s, _ := newStore(t, 6)
	b := put(t, s, small, payload(8, 100_000))
	errW := errors.New("client hung up")
	require.ErrorIs(t, s.ReadBody(context.Background(), version(b), 0, b.Size, failWriter{errW}), errW)
}

func TestDeleteBody(t *testing.T) {
	s, c := newStore(t, 6)
	b1 := put(t, s, small, payload(1, 50_000))
	b2 := put(t, s, small, payload(2, 50_000))
	require.Equal(t, 12, c.ShardCount())
	require.NoError(t, s.DeleteBody(context.Background(), b1.DataID, b1.Shards))
	require.Equal(t, 6, c.ShardCount())
	require.NoError(t, s.DeleteBody(context.Background(), b1.DataID, b1.Shards), "deleting again is fine")

	srv, _, _ := shardHolder(c, b2, 0)
	srv.Stop()
	require.Error(t, s.DeleteBody(context.Background(), b2.DataID, b2.Shards))
	require.Equal(t, 1, c.ShardCount(), "every reachable shard was deleted")
}

func TestDataIDsAreUniqueAndOrdered(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Unix(1_700_000_000, 0)
	)
	s, _ := newStore(t, 6, func(cfg *objio.Config) {
		cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Nanosecond); return now }
	})
	var prev string
	for range 20 {
		b := put(t, s, small, []byte("x"))
		require.Len(t, b.DataID, 32)
		require.Greater(t, b.DataID, prev)
		prev = b.DataID
	}
}

func TestConfigValidate(t *testing.T) {
	maps := objiotest.NewMaps()
	pool := objio.NewPool(nil)
	defer pool.Close()
	tests := []struct {
		name string
		cfg  objio.Config
		ok   bool
	}{
		{"defaults", objio.Config{Maps: maps, Dialer: pool}, true},
		{"no maps", objio.Config{Dialer: pool}, false},
		{"no dialer", objio.Config{Maps: maps}, false},
		{"negative stripes", objio.Config{Maps: maps, Dialer: pool, StripesInFlight: -1}, false},
		{"negative timeout", objio.Config{Maps: maps, Dialer: pool, CleanupTimeout: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := objio.New(tc.cfg)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, objio.ErrInvalidConfig)
		})
	}
}

func TestInvalidProfile(t *testing.T) {
	s, _ := newStore(t, 6)
	_, err := s.WriteBody(context.Background(), bytes.NewReader(nil), objio.WriteOptions{Profile: erasure.Profile{K: 0, M: 1, BlockSize: 64}})
	require.ErrorIs(t, err, objio.ErrInvalidArgument)
	require.ErrorIs(t, err, erasure.ErrInvalidProfile)
}

func TestPoolClosed(t *testing.T) {
	pool := objio.NewPool(nil)
	_, err := pool.Storage("127.0.0.1:1")
	require.NoError(t, err)
	require.NoError(t, pool.Close())
	_, err = pool.Storage("127.0.0.1:1")
	require.ErrorIs(t, err, objio.ErrPoolClosed)
}

// TestPutMemoryBound streams a body far larger than the bound and checks
// that the heap never grows with it.
func TestPutMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	const (
		size  = 256 << 20
		bound = 64 << 20
	)
	// The fake servers share this process's heap, so what they buffer and
	// the garbage they make of every received byte would be measured too.
	// Small receive windows bound what a real server's kernel and gRPC
	// would buffer on its own host, and a low GC target keeps HeapInuse
	// close to live memory.
	c := objiotest.NewCluster(t, 6, grpc.InitialWindowSize(1<<20), grpc.InitialConnWindowSize(1<<20))
	s, _ := newStoreOn(t, c)
	for _, srv := range c.Servers {
		srv.SetDiscard(true)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	done := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() {
		var (
			ms  runtime.MemStats
			max uint64
		)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max {
				max = ms.HeapInuse
			}
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	b, err := s.WriteBody(context.Background(), newGenReader(size), objio.WriteOptions{Profile: large, Size: -1})
	close(done)
	p := <-peak
	require.NoError(t, err)
	require.EqualValues(t, size, b.Size)
	t.Logf("heap in use: base %d MiB, peak %d MiB", base.HeapInuse>>20, p>>20)
	require.Less(t, p-min(p, base.HeapInuse), uint64(bound))
}

// A node that takes a shard's data and then fails its commit (Unavailable)
// costs a PUT nothing: a small body is still whole in memory, so the shard
// is resent to a replacement drive; a larger body has already left memory,
// so the shard is rebuilt there from the others once they are durable.
func TestCommitFailureOfASmallBody(t *testing.T) {
	tests := []struct {
		name string
		size int64
	}{
		{"empty", 0},
		{"one stripe", small.StripeSize()},
		{"more than a stripe", small.StripeSize() + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newStore(t, 8)
			bad := c.Servers[3]
			bad.FailCommits(true)
			data := payload(9, int(tc.size))
			// Placement depends on the random data ID: write until a
			// shard was sent to the failing node.
			var (
				b   *objio.Body
				err error
			)
			for range 50 {
				before := bad.WriteCalls()
				b, err = s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: tc.size})
				if bad.WriteCalls() > before {
					break
				}
				require.NoError(t, err)
			}
			require.NotZero(t, bad.WriteCalls(), "no shard was ever placed on the failing node")
			require.NoError(t, err)
			for _, sh := range b.Shards {
				require.NotEqual(t, string(bad.ID), sh.NodeId, "a shard stayed on the failing node")
			}
			requireSame(t, data, readRange(t, s, b, 0, b.Size))
		})
	}
}
