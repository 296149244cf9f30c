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
