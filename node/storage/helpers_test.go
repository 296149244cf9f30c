package storage

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// testLogger sends logs to t.Log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

type env struct {
	srv    *Server
	client storagepb.StorageClient
	drives []string
}

// startServer runs a Server behind a real gRPC server on loopback; cleanup
// stops everything and joins every goroutine before the test ends.
// testCluster is the cluster ID of test servers.
const testCluster = "test-cluster"

func startServer(tb testing.TB, cfg Config) *env {
	tb.Helper()
	return startServerWith(tb, cfg, nil, nil)
}

// startServerWith is startServer with more options for the gRPC server and
// the client's connection.
func startServerWith(tb testing.TB, cfg Config, sopts []grpc.ServerOption, copts []grpc.DialOption) *env {
	tb.Helper()
	if cfg.NodeID == "" {
		cfg.NodeID = "node-1"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:1"
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = testCluster
		cfg.FormatDrives = true
	}
	if len(cfg.Drives) == 0 {
		cfg.Drives = []string{tb.TempDir(), tb.TempDir()}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	srv, err := New(cfg)
	require.NoError(tb, err)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	g := grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, sopts...)...)
	srv.Register(g)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()

	conn, err := grpc.NewClient(lis.Addr().String(), append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, copts...)...)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		require.NoError(tb, conn.Close())
		g.Stop()
		require.NoError(tb, <-served)
		require.NoError(tb, srv.Close())
	})
	return &env{srv: srv, client: storagepb.NewStorageClient(conn), drives: cfg.Drives}
}

func ref(driveID, shardID string) *storagepb.ShardRef {
	return &storagepb.ShardRef{DriveId: driveID, ShardId: shardID}
}

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// writeShard streams data in chunks of chunk bytes and commits.
func writeShard(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef, blockSize uint32, data []byte, chunk int) (*storagepb.WriteShardResponse, error) {
	stream, err := c.WriteShard(ctx)
	if err != nil {
		return nil, err
	}
	first := true
	rest := data
	for {
		k := min(chunk, len(rest))
		msg := &storagepb.WriteShardRequest{Data: rest[:k], DataCrc32C: crc(rest[:k])}
		rest = rest[k:]
		if first {
			msg.Ref, msg.BlockSize = r, blockSize
			first = false
		}
		if len(rest) == 0 {
			msg.Commit, msg.TotalSize = true, uint64(len(data))
		}
		if err := stream.Send(msg); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(rest) == 0 {
			break
		}
	}
	return stream.CloseAndRecv()
}

// writeShardCodec is writeShard as a gateway sends: with the shard codec,
// each message's data by reference.
func writeShardCodec(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef, blockSize uint32, data []byte, chunk int) (*storagepb.WriteShardResponse, error) {
	stream, err := c.WriteShard(ctx, grpc.CallContentSubtype(shardcodec.Name))
	if err != nil {
		return nil, err
	}
	rest := data
	for first := true; ; first = false {
		k := min(chunk, len(rest))
		msg := &shardcodec.WriteChunk{Data: mem.SliceBuffer(rest[:k]), DataCRC32C: crc(rest[:k])}
		rest = rest[k:]
		if first {
			msg.Ref, msg.BlockSize = r, blockSize
		}
		if len(rest) == 0 {
			msg.Commit, msg.TotalSize = true, uint64(len(data))
		}
		if err := stream.SendMsg(msg); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(rest) == 0 {
			break
		}
	}
	resp := new(storagepb.WriteShardResponse)
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	if err := stream.RecvMsg(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// readShard returns what the server sent before it ended the stream, and
// how the stream ended, as a client without the shard codec reads it.
func readShard(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef, off, n uint64) ([]byte, error) {
	return readShardVia(ctx, c, false, r, off, n)
}

// readShardVia is readShard, with the shard codec when byRef (the server
// then sends by reference, and each message is received into a buffer of
// the client's).
func readShardVia(ctx context.Context, c storagepb.StorageClient, byRef bool, r *storagepb.ShardRef, off, n uint64) ([]byte, error) {
	var opts []grpc.CallOption
	if byRef {
		opts = append(opts, grpc.CallContentSubtype(shardcodec.Name))
	}
	stream, err := c.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: r, Offset: off, Length: n}, opts...)
	if err != nil {
		return nil, err
	}
	var out, recv []byte
	for {
		var data []byte
		if byRef {
			// One receive buffer, grown by the codec as needed.
			msg := shardcodec.ReadInto{Data: recv[:0]}
			err = stream.RecvMsg(&msg)
			data, recv = msg.Data, msg.Data
		} else {
			var msg *storagepb.ReadShardResponse
			msg, err = stream.Recv()
			data = msg.GetData()
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(data) > maxReadChunk {
			return out, errors.New("message larger than the read chunk limit")
		}
		out = append(out, data...)
	}
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func requireCode(tb testing.TB, err error, want codes.Code) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, want.String(), status.Code(err).String(), "error: %v", err)
}

// tmpEntries lists a drive's temp directory.
func tmpEntries(tb testing.TB, root string) []string {
	tb.Helper()
	ents, err := os.ReadDir(filepath.Join(root, tmpDir))
	require.NoError(tb, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// shardFiles lists every shard file on a drive.
func shardFiles(tb testing.TB, root string) []string {
	tb.Helper()
	var names []string
	err := filepath.WalkDir(filepath.Join(root, shardsDir), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, filepath.Base(p))
		}
		return nil
	})
	require.NoError(tb, err)
	return names
}
