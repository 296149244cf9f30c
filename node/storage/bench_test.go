package storage

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkWriteShard measures a full durable shard write over loopback
// gRPC: stream, frame, fsync, rename, fsync dir.
func BenchmarkWriteShard(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			e := startServer(b, Config{Drives: []string{b.TempDir()}})
			data := randBytes(1, size)
			drive := e.srv.DriveIDs()[0]
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_, err := writeShard(b.Context(), e.client, ref(drive, fmt.Sprintf("bench.%d", i)), 1<<20, data, 1<<20)
				require.NoError(b, err)
				i++
			}
		})
	}
}

// BenchmarkReadShard measures reading a whole shard over loopback gRPC:
// open, verify every block, stream, as a client with the shard codec
// (shardcodec=true) and without. 256 KiB in 1 MiB blocks is a shard of a
// 1 MiB object under 4+2 with 1 MiB blocks.
func BenchmarkReadShard(b *testing.B) {
	for _, tc := range []struct{ size, block int }{{256 << 10, 1 << 20}, {4 << 20, 1 << 20}, {1 << 20, 64 << 10}} {
		for _, byRef := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/block=%d/shardcodec=%v", tc.size, tc.block, byRef), func(b *testing.B) {
				e := startServer(b, Config{Drives: []string{b.TempDir()}})
				data := randBytes(1, tc.size)
				drive := e.srv.DriveIDs()[0]
				r := ref(drive, "bench.0")
				_, err := writeShard(b.Context(), e.client, r, uint32(tc.block), data, tc.block)
				require.NoError(b, err)
				b.SetBytes(int64(tc.size))
				b.ReportAllocs()
				for b.Loop() {
					got, err := readShardVia(b.Context(), e.client, byRef, r, 0, 0)
					require.NoError(b, err)
					require.Len(b, got, tc.size)
				}
			})
		}
	}
}
