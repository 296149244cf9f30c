package objio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// framePool owns every byte a GET receives: frameDialer moves each piece
// of a received ReadShardResponse into a reference-counted buffer of this
// pool, so a buffer comes back only when the reader has freed every
// reference it took to it, and held says what the reader keeps.
type framePool struct {
	mu   sync.Mutex
	live map[*byte]int // buffer → its length, while out
	peak int           // most bytes out at once
}

func (p *framePool) Get(n int) *[]byte {
	// Above gRPC's pooling threshold, so that NewBuffer counts references.
	b := make([]byte, n, max(n, 4<<10))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live == nil {
		p.live = map[*byte]int{}
	}
	p.live[unsafe.SliceData(b)] = n
	p.peak = max(p.peak, p.bytesLocked())
	return &b
}

func (p *framePool) Put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, unsafe.SliceData(*b))
}

func (p *framePool) bytesLocked() int {
	n := 0
	for _, l := range p.live {
		n += l
	}
	return n
}

// held returns how many buffers are out.
func (p *framePool) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// owns reports whether b lies inside one buffer that is out.
func (p *framePool) owns(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	for start, n := range p.live {
		s := uintptr(unsafe.Pointer(start))
		if at >= s && at+uintptr(len(b)) <= s+uintptr(n) {
			return true
		}
	}
	return false
}

// frameDialer hands out storage clients whose ReadShard streams deliver
// their data in frames of pool.
type frameDialer struct {
	objio.Dialer
	pool *framePool
}

func (d frameDialer) Storage(addr string) (storagepb.StorageClient, error) {
	c, err := d.Dialer.Storage(addr)
	return frameClient{c, d.pool}, err
}

type frameClient struct {
	storagepb.StorageClient
	pool *framePool
}

func (c frameClient) ReadShard(ctx context.Context, in *storagepb.ReadShardRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[storagepb.ReadShardResponse], error) {
	s, err := c.StorageClient.ReadShard(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	return frameStream{s, c.pool}, nil
}

type frameStream struct {
	grpc.ServerStreamingClient[storagepb.ReadShardResponse]
	pool *framePool
}

func (s frameStream) RecvMsg(m any) error {
	err := s.ServerStreamingClient.RecvMsg(m)
	refs, ok := m.(*shardcodec.ReadRefs)
	if err != nil || !ok {
		return err
	}
	for i, b := range refs.Data {
		buf := s.pool.Get(b.Len())
		copy(*buf, b.ReadOnlyData())
		b.Free()
		refs.Data[i] = mem.NewBuffer(buf, s.pool)
	}
	return nil
}

// newFrameStore is newStore over six nodes whose shard reads receive into
// the returned pool.
func newFrameStore(t *testing.T, mod ...func(*objio.Config)) (*objio.Store, *objiotest.Cluster, *framePool) {
	t.Helper()
	return newFrameStoreN(t, 6, mod...)
}

func newFrameStoreN(t *testing.T, n int, mod ...func(*objio.Config)) (*objio.Store, *objiotest.Cluster, *framePool) {
	t.Helper()
	pool := &framePool{}
	mod = append(mod, func(cfg *objio.Config) { cfg.Dialer = frameDialer{cfg.Dialer, pool} })
	s, c := newStore(t, n, mod...)
	return s, c, pool
}

// mid has blocks of several gRPC frames each, so that a block is always
// in pieces, and small enough for many stripes.
var mid = erasure.Profile{K: 4, M: 2, BlockSize: 64 << 10}

// TestGetByReference reads objects whose sizes fall on and around block
// and stripe boundaries, whole and in ranges, with the storage node's
// messages a block each or cut anywhere: every byte comes back, and every
// frame the read kept is let go by the time ReadBody returns.
func TestGetByReference(t *testing.T) {
	bs, ss := int64(mid.BlockSize), mid.StripeSize()
	s, c, pool := newFrameStore(t)
	for _, pack := range []int{0, 100_003, 5000} {
		for _, srv := range c.Servers {
			srv.PackReads(pack)
		}
		for _, size := range []int64{1, bs - 1, bs, bs + 1, ss - 1, ss, ss + 1, 3*ss + 2*bs + 777} {
			data := payload(uint64(size), int(size))
			b := put(t, s, mid, data)
			ranges := [][2]int64{{0, size}, {size - 1, 1}, {0, min(size, bs+1)}, {size / 3, size / 2}}
			if size > ss {
				ranges = append(ranges, [2]int64{ss - 1, 2}, [2]int64{bs + 5, ss})
			}
			for _, r := range ranges {
				if r[1] = min(r[1], size-r[0]); r[1] == 0 {
					continue
				}
				requireSame(t, data[r[0]:r[0]+r[1]], readRange(t, s, b, r[0], r[1]), "pack %d size %d range %v", pack, size, r)
				require.Zero(t, pool.held(), "pack %d size %d range %v: frames kept after the read", pack, size, r)
			}
		}
	}
}

// framesWriter checks that every write comes straight from a received
// frame, not from a copy of it.
type framesWriter struct {
	bytes.Buffer
	pool   *framePool
	copied int
}

func (w *framesWriter) Write(p []byte) (int, error) {
	if !w.pool.owns(p) {
		w.copied += len(p)
	}
	return w.Buffer.Write(p)
}

// TestGetWritesFromFrames: when every data shard delivers, the body is
// written from the frames it arrived in; a stripe reconstructed from
// parity is written from contiguous copies, and is still right.
func TestGetWritesFromFrames(t *testing.T) {
	s, c, pool := newFrameStore(t, func(cfg *objio.Config) { cfg.HedgeFloor = -1 })
	size := 5*mid.StripeSize() + 12345
	data := payload(21, int(size))
	b := put(t, s, mid, data)

	w := &framesWriter{pool: pool}
	require.NoError(t, s.ReadBody(context.Background(), version(b), 0, size, w))
	requireSame(t, data, w.Bytes())
	require.Zero(t, w.copied, "bytes written from a copy")
	require.Zero(t, pool.held())

	srv, _, _ := shardHolder(c, b, 1)
	srv.Stop()
	w = &framesWriter{pool: pool}
	require.NoError(t, s.ReadBody(context.Background(), version(b), 0, size, w))
	requireSame(t, data, w.Bytes())
	require.NotZero(t, w.copied, "a reconstructed stripe is written from copies")
	require.Zero(t, pool.held())
}

// TestGetByReferenceFreesOnEveryPath ends reads in every way a GET ends
// and checks that each lets go of every frame it kept: the reader
// goroutines' queued and half-received blocks as well as the stripe in
// the collector's hands.
func TestGetByReferenceFreesOnEveryPath(t *testing.T) {
	bs := int64(mid.BlockSize)
	size := 6*mid.StripeSize() + 999
	data := payload(5, int(size))
	errGone := errors.New("client went away")
	for _, tc := range []struct {
		name string
		// damage runs after the PUT; it may return a writer for the body.
		damage  func(t *testing.T, c *objiotest.Cluster, b *objio.Body, cancel context.CancelFunc) io.Writer
		wantErr error
	}{
		{"whole", nil, nil},
		{"data node down", func(t *testing.T, c *objiotest.Cluster, b *objio.Body, _ context.CancelFunc) io.Writer {
			srv, _, _ := shardHolder(c, b, 0)
			srv.Stop()
			return nil
		}, nil},
		// The storage node finds the block's checksum wrong and fails the
		// read there, after sending the blocks before it: those are in
		// flight by reference when the shard fails.
		{"data block corrupt mid-shard", func(t *testing.T, c *objiotest.Cluster, b *objio.Body, _ context.CancelFunc) io.Writer {
			srv, drive, id := shardHolder(c, b, 2)
			require.True(t, srv.Corrupt(drive, id, 4*bs+7))
			return nil
		}, nil},
		{"parity block corrupt too", func(t *testing.T, c *objiotest.Cluster, b *objio.Body, _ context.CancelFunc) io.Writer {
			srv, drive, id := shardHolder(c, b, 2)
			require.True(t, srv.Corrupt(drive, id, 2*bs))
			srv, drive, id = shardHolder(c, b, 4)
			require.True(t, srv.Corrupt(drive, id, 4*bs))
			return nil
		}, nil},
		{"data shard frozen: hedged", func(t *testing.T, c *objiotest.Cluster, b *objio.Body, _ context.CancelFunc) io.Writer {
			freezeShards(c, b, 3)
			return nil
		}, nil},
		{"too many shards lost", func(t *testing.T, c *objiotest.Cluster, b *objio.Body, _ context.CancelFunc) io.Writer {
			for i, off := range []int64{3 * bs, 3 * bs, 4 * bs} {
				srv, drive, id := shardHolder(c, b, i)
				require.True(t, srv.Corrupt(drive, id, off))
			}
			return nil
		}, objio.ErrDataUnavailable},
		{"client gone mid-body", func(*testing.T, *objiotest.Cluster, *objio.Body, context.CancelFunc) io.Writer {
			return &cutWriter{left: 2*mid.StripeSize() + 100, err: errGone}
		}, errGone},
		{"client gone in a reconstructed stripe", func(t *testing.T, c *objiotest.Cluster, b *objio.Body, _ context.CancelFunc) io.Writer {
			srv, _, _ := shardHolder(c, b, 1)
			srv.Stop()
			return &cutWriter{left: mid.StripeSize() + 3*bs, err: errGone}
		}, errGone},
		{"request cancelled mid-body", func(_ *testing.T, _ *objiotest.Cluster, _ *objio.Body, cancel context.CancelFunc) io.Writer {
			return &cutWriter{left: mid.StripeSize() + 1, cancel: cancel}
		}, context.Canceled},
	} {
		// Messages a block each, and messages across blocks, which leave
		// a reader holding the next block's first pieces.
		for _, pack := range []int{0, 100_003} {
			t.Run(fmt.Sprintf("%s/pack %d", tc.name, pack), func(t *testing.T) {
				s, c, pool := newFrameStore(t, func(cfg *objio.Config) { cfg.HedgeFloor = 0 })
				b := put(t, s, mid, data)
				for _, srv := range c.Servers {
					srv.PackReads(pack)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var buf bytes.Buffer
				var w io.Writer = &buf
				if tc.damage != nil {
					if dw := tc.damage(t, c, b, cancel); dw != nil {
						w = dw
					}
				}
				err := s.ReadBody(ctx, version(b), 0, size, w)
				require.Zero(t, pool.held(), "frames kept after the read")
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
					return
				}
				require.NoError(t, err)
				requireSame(t, data, buf.Bytes())
			})
		}
	}
}

// cutWriter takes left bytes, then fails with err, or cancels the read
// and takes the rest.
type cutWriter struct {
	left   int64
	err    error
	cancel context.CancelFunc
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.left {
		w.left -= int64(len(p))
		return len(p), nil
	}
	if w.cancel != nil {
		w.cancel()
		return len(p), nil
	}
	return 0, w.err
}

// TestGetByReferenceMemoryBound: references replace block buffers, they do
// not add to them. However far the readers run ahead of the writer, each
// holds at most StripesInFlight+1 blocks and the rest of one message.
func TestGetByReferenceMemoryBound(t *testing.T) {
	const depth = 2
	s, c, pool := newFrameStore(t, func(cfg *objio.Config) {
		cfg.StripesInFlight = depth
		cfg.HedgeFloor = -1
	})
	size := 12 * mid.StripeSize()
	b := put(t, s, mid, payload(9, int(size)))
	for _, pack := range []int{0, 100_003} {
		for _, srv := range c.Servers {
			srv.PackReads(pack)
		}
		pool.mu.Lock()
		pool.peak = 0
		pool.mu.Unlock()
		require.NoError(t, s.ReadBody(context.Background(), version(b), 0, size, io.Discard))
		// A message that runs past a block leaves up to its size of the
		// next block(s) received but not yet a block.
		bound := mid.K * ((depth+1)*mid.BlockSize + pack)
		pool.mu.Lock()
		peak := pool.peak
		pool.mu.Unlock()
		t.Logf("pack %d: peak %d bytes, bound %d", pack, peak, bound)
		require.LessOrEqual(t, peak, bound, "pack %d", pack)
		require.Zero(t, pool.held())
	}
}

// TestRepairReadsFreeFrames: copies and rebuilds read shards through the
// same readers as a GET, and let go of every frame too, whether they
// succeed or fail.
func TestRepairReadsFreeFrames(t *testing.T) {
	s, c, pool := newFrameStoreN(t, 9)
	size := 4*mid.StripeSize() + 4321
	for _, pack := range []int{0, 100_003} {
		for _, srv := range c.Servers {
			srv.PackReads(pack)
		}
		b := put(t, s, mid, payload(uint64(pack), int(size)))
		spare := spareNodes(c, b)

		_, err := s.CopyShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{0: spare[0], 5: spare[1]}, objio.RebuildOptions{})
		require.NoError(t, err)
		require.Zero(t, pool.held(), "pack %d: copy", pack)

		_, err = s.RebuildShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{1: spare[2]}, objio.RebuildOptions{Avoid: []int{1}})
		require.NoError(t, err)
		require.Zero(t, pool.held(), "pack %d: rebuild", pack)

		// Sources that fail partway: blocks are in flight when they do.
		for i, off := range []int64{2 * int64(mid.BlockSize), 3 * int64(mid.BlockSize), 3 * int64(mid.BlockSize)} {
			srv, drive, id := shardHolder(c, b, i+2)
			require.True(t, srv.Corrupt(drive, id, off))
		}
		_, err = s.CopyShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{2: spare[0]}, objio.RebuildOptions{})
		require.Error(t, err)
		require.Zero(t, pool.held(), "pack %d: failed copy", pack)
		_, err = s.RebuildShards(context.Background(), version(b), map[int]*metapb.ShardPlacement{1: spare[2]}, objio.RebuildOptions{Avoid: []int{1}})
		require.ErrorIs(t, err, objio.ErrDataUnavailable)
		require.Zero(t, pool.held(), "pack %d: failed rebuild", pack)
	}
}
