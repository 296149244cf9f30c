package objio_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/proto/metapb"
)

var (
	small = erasure.Profile{K: 4, M: 2, BlockSize: 4096}
	large = erasure.Profile{K: 4, M: 2, BlockSize: 1 << 20}
)

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newStore starts a cluster of n fake storage nodes and a Store over it.
func newStore(tb testing.TB, n int, mod ...func(*objio.Config)) (*objio.Store, *objiotest.Cluster) {
	tb.Helper()
	return newStoreOn(tb, objiotest.NewCluster(tb, n), mod...)
}

func newStoreOn(tb testing.TB, c *objiotest.Cluster, mod ...func(*objio.Config)) (*objio.Store, *objiotest.Cluster) {
	tb.Helper()
	pool := objio.NewPool(nil)
	tb.Cleanup(func() { _ = pool.Close() })
	cfg := objio.Config{Maps: c.Maps, Dialer: pool, Logger: testLogger(tb)}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := objio.New(cfg)
	require.NoError(tb, err)
	return s, c
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func version(b *objio.Body) *metapb.ObjectVersion {
	return &metapb.ObjectVersion{
		Bucket: "b", Key: "k", DataId: b.DataID, Size: b.Size,
		Profile: objio.ProfileToProto(b.Profile), Shards: b.Shards, ShardDigests: b.ShardDigests,
	}
}

func put(t *testing.T, s *objio.Store, p erasure.Profile, data []byte) *objio.Body {
	t.Helper()
	b, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: p, Size: int64(len(data))})
	require.NoError(t, err)
	sum := md5.Sum(data)
	require.Equal(t, sum[:], b.MD5)
	require.EqualValues(t, len(data), b.Size)
	require.Len(t, b.Shards, p.K+p.M)
	return b
}

func readRange(t *testing.T, s *objio.Store, b *objio.Body, off, length int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, s.ReadBody(context.Background(), version(b), off, length, &buf))
	return buf.Bytes()
}

// requireSame compares without dumping megabytes on failure.
func requireSame(t *testing.T, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, len(want), len(got), msgAndArgs...)
	if !bytes.Equal(want, got) {
		i := 0
		for i < len(want) && want[i] == got[i] {
			i++
		}
		require.Failf(t, "bytes differ", "first difference at %d; %v", i, msgAndArgs)
	}
}

// failingReader yields n bytes of data and then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// genReader produces size pseudo-random bytes without holding them: it
// cycles through a pattern whose length is prime, so no two stripes match.
type genReader struct {
	left    int64
	pattern []byte
	pos     int
}

func newGenReader(size int64) *genReader {
	return &genReader{left: size, pattern: payload(42, 1<<20+7)}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	n := 0
	for n < len(p) {
		c := copy(p[n:], g.pattern[g.pos:])
		n += c
		g.pos = (g.pos + c) % len(g.pattern)
	}
	g.left -= int64(n)
	return n, nil
}
