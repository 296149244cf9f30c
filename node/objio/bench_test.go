package objio_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/objio"
)

const benchSize = 64 << 20

// BenchmarkPut measures a 4+2 PUT over loopback into servers that keep
// only sizes, so the numbers are the pipeline's, not the fake's memory.
func BenchmarkPut(b *testing.B) { benchPut(b, benchSize) }

// BenchmarkPut1MiB measures many 1 MiB PUTs one after another, where a
// PUT's fixed costs (its stripe buffers among them) weigh most.
func BenchmarkPut1MiB(b *testing.B) { benchPut(b, 1<<20) }

func benchPut(b *testing.B, size int64) {
	s, c := newStore(b, 6)
	for _, srv := range c.Servers {
		srv.SetDiscard(true)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, err := s.WriteBody(context.Background(), newGenReader(size), objio.WriteOptions{Profile: large, Size: size})
		require.NoError(b, err)
	}
}

// BenchmarkGet measures a full 4+2 GET over loopback.
func BenchmarkGet(b *testing.B) {
	s, _ := newStore(b, 6)
	body, err := s.WriteBody(context.Background(), newGenReader(benchSize), objio.WriteOptions{Profile: large, Size: benchSize})
	require.NoError(b, err)
	v := version(body)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, s.ReadBody(context.Background(), v, 0, benchSize, io.Discard))
	}
}

// BenchmarkGetDegraded measures a GET with one data shard's node down.
func BenchmarkGetDegraded(b *testing.B) {
	s, c := newStore(b, 6)
	body, err := s.WriteBody(context.Background(), bytes.NewReader(payload(1, benchSize)), objio.WriteOptions{Profile: large, Size: benchSize})
	require.NoError(b, err)
	c.Server(body.Shards[0].NodeId).Stop()
	v := version(body)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, s.ReadBody(context.Background(), v, 0, benchSize, io.Discard))
	}
}

// BenchmarkGetSmall measures GETs of 1 MiB objects under 4+2 with 1 MiB
// blocks: one 256 KiB block per shard, so per-request costs dominate.
func BenchmarkGetSmall(b *testing.B) {
	const size = 1 << 20
	s, _ := newStore(b, 6)
	body, err := s.WriteBody(context.Background(), newGenReader(size), objio.WriteOptions{Profile: large, Size: size})
	require.NoError(b, err)
	v := version(body)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, s.ReadBody(context.Background(), v, 0, size, io.Discard))
	}
}
