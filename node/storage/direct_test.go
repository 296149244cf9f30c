package storage

import (
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
)

// TestDirectShardFile: a shard written with direct I/O is the same file,
// byte for byte, as one written through the page cache, on both temp file
// paths and for every block size.
func TestDirectShardFile(t *testing.T) {
	for _, p := range tempPaths {
		d, err := openDrive(vfs.Default, t.TempDir(), FormatOptions{ClusterID: testCluster, NodeID: "node-1", Create: true}, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		if !d.direct {
			t.Skip("no direct I/O on this filesystem")
		}
		if p.named {
			d.unnamed = false
		}
		for _, block := range []int{4096, directMinBlock, 1 << 20} {
			for _, size := range []int{0, 1000, 300 << 10, 2<<20 + 5} {
				t.Run(fmt.Sprintf("%s/block=%d/size=%d", p.name, block, size), func(t *testing.T) {
					id := fmt.Sprintf("s%d-%d.0", block, size)
					data := randBytes(uint64(size), size)
					pending, err := d.create(id, block)
					require.NoError(t, err)
					defer pending.abort()
					require.Equal(t, block >= directMinBlock, pending.direct != nil)
					_, err = pending.Write(data)
					require.NoError(t, err)
					require.NoError(t, pending.commit(context.Background()))
					got, err := vfs.ReadFile(vfs.Default, d.shardPath(id))
					require.NoError(t, err)
					require.Equal(t, framedBlocks(t, id, data, block), got)
					sf, err := d.open(id)
					require.NoError(t, err)
					require.NoError(t, sf.f.Close())
					require.Equal(t, int64(size), sf.dataSize)
				})
			}
		}
	}
}

// TestDirectRefused: a drive whose filesystem refuses direct I/O writes
// shards through the page cache, as does one whose node turned it off.
func TestDirectRefused(t *testing.T) {
	for _, refuse := range []faultfs.Op{faultfs.OpSetDirect, faultfs.OpWrite} {
		t.Run(refuse.String(), func(t *testing.T) {
			ffs := faultfs.New(vfs.Default)
			ffs.Inject(faultfs.Rule{Op: refuse, PathContains: "probe-", Err: syscall.EINVAL})
			e := startServer(t, Config{Drives: []string{t.TempDir()}, FS: ffs})
			for _, d := range e.srv.drives {
				require.False(t, d.direct)
			}
			data := randBytes(11, 300<<10)
			r := ref(e.srv.DriveIDs()[0], "x.0")
			_, err := writeShard(t.Context(), e.client, r, 1<<20, data, 1<<20)
			require.NoError(t, err)
			got, err := readShard(t.Context(), e.client, r, 0, 0)
			require.NoError(t, err)
			require.Equal(t, data, got)
		})
	}
	t.Run("NoDirectIO", func(t *testing.T) {
		e := startServer(t, Config{NoDirectIO: true})
		for _, d := range e.srv.drives {
			require.False(t, d.direct)
		}
	})
}

// TestDirectWriteFailsMidShard: a direct write that fails halfway through
// a shard (the probe passed; the disk then refused) fails that shard's
// write, publishes nothing under its name, and leaves the drive able to
// take the same shard again.
func TestDirectWriteFailsMidShard(t *testing.T) {
	ffs := faultfs.New(vfs.Default)
	e := startServer(t, Config{Drives: []string{t.TempDir()}, FS: ffs})
	for _, d := range e.srv.drives {
		require.True(t, d.direct, "this test needs a filesystem with direct I/O")
	}
	// 3 MiB of 1 MiB blocks: the first full staging buffer is written,
	// the second write fails.
	ffs.Inject(faultfs.Rule{Op: faultfs.OpWrite, PathContains: shardsDir, Nth: 2, Err: syscall.EIO})
	data := randBytes(12, 3<<20)
	r := ref(e.srv.DriveIDs()[0], "mid.0")
	_, err := writeShard(t.Context(), e.client, r, 1<<20, data, 1<<20)
	require.Error(t, err)
	_, err = readShard(t.Context(), e.client, r, 0, 0)
	require.Equal(t, codes.NotFound, status.Code(err), "a failed shard has no name: %v", err)

	ffs.Clear()
	_, err = writeShard(t.Context(), e.client, r, 1<<20, data, 1<<20)
	require.NoError(t, err)
	got, err := readShard(t.Context(), e.client, r, 0, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
}
