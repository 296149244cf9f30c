package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
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

// Flow-control windows and transport buffers as a cluster's storage
// servers and gateways size them for shard traffic: with gRPC's defaults
// a shard write waits on window updates more than it works.
var (
	shardServerOpts = []grpc.ServerOption{
		grpc.MaxRecvMsgSize(16 << 20),
		grpc.InitialWindowSize(8 << 20),
		grpc.InitialConnWindowSize(32 << 20),
		grpc.ReadBufferSize(512 << 10),
		grpc.WriteBufferSize(1 << 20),
	}
	shardDialOpts = []grpc.DialOption{
		grpc.WithInitialWindowSize(2 << 20),
		grpc.WithInitialConnWindowSize(8 << 20),
		grpc.WithReadBufferSize(512 << 10),
		grpc.WithWriteBufferSize(1 << 20),
	}
)

// BenchmarkWriteShardCodec measures a durable shard write over loopback
// gRPC as a gateway sends it (shard codec, a block a message), on each of
// the drive's write paths: direct I/O, one buffered write per block
// (blocks from 256 KiB), and small blocks gathered by a buffered writer.
// cpu-ns/op is the process's CPU per shard, client included; user-ns/op
// its user part, where copies show apart from the kernel's write and
// fsync work.
func BenchmarkWriteShardCodec(b *testing.B) {
	for _, tc := range []struct {
		size, block int
		direct      bool
	}{{16 << 20, 1 << 20, true}, {16 << 20, 1 << 20, false}, {1 << 20, 64 << 10, false}} {
		b.Run(fmt.Sprintf("size=%d/block=%d/direct=%t", tc.size, tc.block, tc.direct), func(b *testing.B) {
			e := startServerWith(b, Config{Drives: []string{b.TempDir()}, NoDirectIO: !tc.direct}, shardServerOpts, shardDialOpts)
			data := randBytes(1, tc.size)
			drive := e.srv.DriveIDs()[0]
			if tc.direct && !e.srv.drives[drive].direct {
				b.Skip("no direct I/O on this filesystem")
			}
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			i := 0
			user0, sys0 := cpuTimes(b)
			for b.Loop() {
				_, err := writeShardCodec(b.Context(), e.client, ref(drive, fmt.Sprintf("bench.%d", i)), uint32(tc.block), data, tc.block)
				require.NoError(b, err)
				i++
			}
			user, sys := cpuTimes(b)
			b.ReportMetric(float64(user-user0+sys-sys0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(user-user0)/float64(b.N), "user-ns/op")
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
				recv := make([]byte, 0, maxReadChunk)
				for b.Loop() {
					n, err := drainShard(b.Context(), e.client, byRef, r, recv)
					require.NoError(b, err)
					require.Equal(b, tc.size, n)
				}
			})
		}
	}
}

// drainShard reads a whole shard and counts its bytes, receiving into recv
// with the shard codec, so that a benchmark measures the server and the
// transport rather than the test's client.
func drainShard(ctx context.Context, c storagepb.StorageClient, byRef bool, r *storagepb.ShardRef, recv []byte) (int, error) {
	var opts []grpc.CallOption
	if byRef {
		opts = append(opts, grpc.CallContentSubtype(shardcodec.Name))
	}
	stream, err := c.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: r}, opts...)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		var data []byte
		if byRef {
			msg := shardcodec.ReadInto{Data: recv[:0]}
			err = stream.RecvMsg(&msg)
			data = msg.Data
		} else {
			var msg *storagepb.ReadShardResponse
			msg, err = stream.Recv()
			data = msg.GetData()
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(data)
	}
}
