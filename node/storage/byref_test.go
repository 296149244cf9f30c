package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// framePool is the test server's gRPC buffer pool: it counts the buffers
// out, received frames among them, so a test sees every reference the
// handler took to them given back. Like the pool a cluster's servers use
// (a shardcodec.Pool) it does not clear what it hands out; it fills it
// with junk instead, so a test would see any byte gRPC did not fill.
type framePool struct {
	inner mem.BufferPool
	out   atomic.Int64
}

func newFramePool() *framePool { return &framePool{inner: &shardcodec.Pool{}} }

func (p *framePool) Get(n int) *[]byte {
	p.out.Add(1)
	b := p.inner.Get(n)
	junk := (*b)[:cap(*b)]
	for i := range junk {
		junk[i] = 0xa5
	}
	return b
}

func (p *framePool) Put(b *[]byte) { p.out.Add(-1); p.inner.Put(b) }

// requireAllBack waits until every buffer gRPC took from p is back: the
// handler frees its last references as it returns, which may be just
// after the client has its answer.
func (p *framePool) requireAllBack(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool { return p.out.Load() == 0 }, 10*time.Second, time.Millisecond,
		"%d received buffers still referenced", p.out.Load())
}

// startFrameServer is startServer whose gRPC server counts its buffers in
// the returned pool.
func startFrameServer(tb testing.TB, cfg Config) (*env, *framePool) {
	pool := newFramePool()
	return startServerWith(tb, cfg, []grpc.ServerOption{experimental.BufferPool(pool)}, nil), pool
}

// writePaths are a drive's ways of writing a shard's bytes (drive.create).
var writePaths = []struct {
	name   string
	direct bool
	block  uint32
}{
	{"direct", true, 1 << 20},
	{"a write per block", false, 1 << 20},
	{"buffered small blocks", false, 64 << 10},
	{"tiny blocks", false, 4 << 10},
}

// TestWriteByRef writes shards as a gateway does (shard codec, data
// received by reference) on every write path, in messages of every shape
// the handler meets: they read back whole, and every received frame goes
// back to gRPC.
func TestWriteByRef(t *testing.T) {
	for _, wp := range writePaths {
		t.Run(wp.name, func(t *testing.T) {
			e, pool := startFrameServer(t, Config{Drives: []string{t.TempDir()}, NoDirectIO: !wp.direct})
			drive := e.srv.DriveIDs()[0]
			if wp.direct && !e.srv.drives[drive].direct {
				t.Skip("no direct I/O on this filesystem")
			}
			bs := int(wp.block)
			for i, tc := range []struct {
				name        string
				size, chunk int
			}{
				{"a block a message", 3 * bs, bs},
				{"short last block", 2*bs + 1000, bs},
				{"blocks in pieces", 2 * bs, bs/4 + 3},
				{"many blocks a message", 4*bs + 17, 3 * bs},
				{"one small message", 100, 100},
			} {
				t.Run(tc.name, func(t *testing.T) {
					data := randBytes(uint64(i), tc.size)
					r := ref(drive, fmt.Sprintf("byref.%d", i))
					resp, err := writeShardCodec(t.Context(), e.client, r, wp.block, data, tc.chunk)
					require.NoError(t, err)
					require.EqualValues(t, tc.size, resp.GetSize())
					st, err := e.client.StatShard(t.Context(), &storagepb.StatShardRequest{Ref: r})
					require.NoError(t, err)
					require.Equal(t, st.GetDigest(), resp.GetDigest())
					got, err := readShard(t.Context(), e.client, r, 0, 0)
					require.NoError(t, err)
					require.True(t, string(data) == string(got), "%s: data differs")
					pool.requireAllBack(t)
				})
			}
			require.Empty(t, tmpEntries(t, e.drives[0]))
		})
	}
}

// TestWriteByRefFailures checks that a write received by reference fails
// as before (nothing published, the same codes), and gives every received
// frame back to gRPC whichever way it ends. Each failing write sends
// nothing after the message that fails it: frames the handler never
// received stay in the stream's receive buffer, which gRPC leaves to the
// garbage collector rather than its pool.
func TestWriteByRefFailures(t *testing.T) {
	const bs = 1 << 20
	block := randBytes(3, bs)
	good := func(b []byte) *shardcodec.WriteChunk {
		return &shardcodec.WriteChunk{Data: mem.SliceBuffer(b), DataCRC32C: crc(b)}
	}
	bad := func(b []byte) *shardcodec.WriteChunk {
		return &shardcodec.WriteChunk{Data: mem.SliceBuffer(b), DataCRC32C: crc(b) ^ 1}
	}
	first := func(c *shardcodec.WriteChunk, id string) *shardcodec.WriteChunk {
		c.Ref, c.BlockSize = ref("", id), bs
		return c
	}
	for _, wp := range writePaths[:2] {
		t.Run(wp.name, func(t *testing.T) {
			ffs := faultfs.New(vfs.Default)
			pool := newFramePool()
			e := startServerWith(t, Config{Drives: []string{t.TempDir()}, FS: ffs, NoDirectIO: !wp.direct},
				[]grpc.ServerOption{experimental.BufferPool(pool)}, nil)
			drive := e.srv.DriveIDs()[0]
			for _, tc := range []struct {
				name   string
				msgs   []*shardcodec.WriteChunk
				cancel bool // the client gives up once the server wrote msgs
				want   codes.Code
			}{
				{"bad crc first", []*shardcodec.WriteChunk{first(bad(block), "f1")}, false, codes.DataLoss},
				{"bad crc later", []*shardcodec.WriteChunk{first(good(block), "f2"), good(block), bad(block)}, false, codes.DataLoss},
				{"bad crc in a piece", []*shardcodec.WriteChunk{first(good(block[:1000]), "f3"), {Data: mem.SliceBuffer(block[1000:]), DataCRC32C: crc(block[:1000])}}, false, codes.DataLoss},
				{"no commit", []*shardcodec.WriteChunk{first(good(block), "f4"), good(block)}, false, codes.InvalidArgument},
				{"wrong total", []*shardcodec.WriteChunk{first(good(block), "f5"), {Data: mem.SliceBuffer(block), DataCRC32C: crc(block), Commit: true, TotalSize: 1}}, false, codes.InvalidArgument},
				{"cancelled", []*shardcodec.WriteChunk{first(good(block), "f6")}, true, codes.Canceled},
			} {
				t.Run(tc.name, func(t *testing.T) {
					for _, m := range tc.msgs {
						if m.Ref != nil {
							m.Ref.DriveId = drive
						}
					}
					writes := ffs.Calls(faultfs.OpWrite)
					ctx, cancel := context.WithCancel(t.Context())
					stream, err := e.client.WriteShard(ctx, grpc.CallContentSubtype(shardcodec.Name))
					require.NoError(t, err)
					for _, m := range tc.msgs {
						// A send may fail once the server has answered; the
						// answer comes from the receive.
						if stream.SendMsg(m) != nil {
							break
						}
					}
					if tc.cancel {
						// The server has written the block (the header and
						// it, or the full staging buffer) and waits for more.
						require.Eventually(t, func() bool {
							return ffs.Calls(faultfs.OpWrite) > writes+1 || wp.direct && ffs.Calls(faultfs.OpWrite) > writes
						}, 10*time.Second, time.Millisecond)
						cancel()
					} else {
						require.NoError(t, stream.CloseSend())
					}
					err = stream.RecvMsg(new(storagepb.WriteShardResponse))
					requireCode(t, err, tc.want)
					cancel()
					pool.requireAllBack(t)
				})
			}
			require.Eventually(t, func() bool { return len(tmpEntries(t, e.drives[0])) == 0 }, 10*time.Second, time.Millisecond)
			require.Empty(t, shardFiles(t, e.drives[0]))
		})
	}
}

// TestWriteByRefWriteCalls checks that data received in 16 KiB frames
// reaches the file in as few writes as a block received whole did: a
// block a write (and its checksum) where blocks go straight to the file,
// a buffer's worth a write where small blocks are buffered.
func TestWriteByRefWriteCalls(t *testing.T) {
	for _, tc := range []struct {
		name      string
		block     uint32
		size      int
		maxWrites int
	}{
		// Four blocks and their checksums, header and trailer.
		{"a write per block", 1 << 20, 4 << 20, 4*2 + 2},
		// 1 MiB of data and 16 checksums through a 256 KiB buffer.
		{"buffered small blocks", 64 << 10, 1 << 20, 5 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := faultfs.New(vfs.Default)
			e := startServer(t, Config{Drives: []string{t.TempDir()}, FS: ffs, NoDirectIO: true})
			drive := e.srv.DriveIDs()[0]
			before := ffs.Calls(faultfs.OpWrite)
			data := randBytes(1, tc.size)
			_, err := writeShardCodec(t.Context(), e.client, ref(drive, "w"), tc.block, data, int(tc.block))
			require.NoError(t, err)
			require.LessOrEqual(t, ffs.Calls(faultfs.OpWrite)-before, tc.maxWrites)
		})
	}
}
