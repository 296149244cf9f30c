package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/cairn-io/cairn/proto/storagepb"
)

func TestWriteReadRoundTrip(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	tests := []struct {
		name      string
		size      int
		blockSize uint32
		chunk     int
	}{
		{"empty", 0, 4 << 10, 1 << 10},
		{"one byte", 1, 4 << 10, 1 << 10},
		{"one block", 4 << 10, 4 << 10, 4 << 10},
		{"block plus one", 4<<10 + 1, 4 << 10, 1000},
		{"many small blocks", 300<<10 + 17, 4 << 10, 64 << 10},
		{"1MiB blocks partial", 1<<20 + 12345, 1 << 20, 256 << 10},
		{"1MiB blocks exact", 3 << 20, 1 << 20, 1 << 20},
		{"odd block size", 10007, 777, 333},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := randBytes(uint64(i), tc.size)
			r := ref(drive, "rt."+strings.ReplaceAll(tc.name, " ", "_"))
			resp, err := writeShard(ctx, e.client, r, tc.blockSize, data, tc.chunk)
			require.NoError(t, err)
			require.EqualValues(t, tc.size, resp.GetSize())

			for _, byRef := range []bool{false, true} {
				got, err := readShardVia(ctx, e.client, byRef, r, 0, 0)
				require.NoError(t, err, "shard codec %v", byRef)
				require.Equal(t, len(data), len(got))
				require.True(t, string(data) == string(got), "data differs, shard codec %v", byRef)
			}

			st, err := e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: r})
			require.NoError(t, err)
			require.EqualValues(t, tc.size, st.GetSize())
			require.Equal(t, tc.blockSize, st.GetBlockSize())
			require.Positive(t, st.GetMtimeUnixNano())

			ranges := [][2]int{{0, 1}, {tc.size / 2, tc.size / 3}, {tc.size - 1, 1}, {int(tc.blockSize) - 1, 2}, {int(tc.blockSize), int(tc.blockSize)}}
			for _, byRef := range []bool{false, true} {
				for _, rg := range ranges {
					off, n := rg[0], rg[1]
					if off < 0 || n <= 0 || off+n > tc.size {
						continue
					}
					got, err := readShardVia(ctx, e.client, byRef, r, uint64(off), uint64(n))
					require.NoError(t, err, "range %d+%d", off, n)
					require.Equal(t, data[off:off+n], got, "range %d+%d", off, n)
				}
				if tc.size > 0 {
					got, err := readShardVia(ctx, e.client, byRef, r, uint64(tc.size/2), 0)
					require.NoError(t, err)
					require.Equal(t, data[tc.size/2:], got, "to end")
				}
			}
		})
	}
	require.Empty(t, tmpEntries(t, e.drives[0]))
}

func TestOverwrite(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	r := ref(e.srv.DriveIDs()[1], "ow.0")
	for i, size := range []int{5000, 100} {
		data := randBytes(uint64(100+i), size)
		_, err := writeShard(ctx, e.client, r, 4096, data, 4096)
		require.NoError(t, err)
		got, err := readShard(ctx, e.client, r, 0, 0)
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
	require.Equal(t, []string{"ow.0"}, shardFiles(t, e.drives[1]))
}

func TestReadOutOfRange(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	r := ref(e.srv.DriveIDs()[0], "oor")
	_, err := writeShard(ctx, e.client, r, 4096, randBytes(1, 1000), 1000)
	require.NoError(t, err)
	tests := []struct {
		name      string
		off, n    uint64
		wantCode  codes.Code
		wantBytes int
	}{
		{"whole", 0, 0, codes.OK, 1000},
		{"at end, to end", 1000, 0, codes.OK, 0},
		{"last byte", 999, 1, codes.OK, 1},
		{"offset past end", 1001, 0, codes.OutOfRange, 0},
		{"length past end", 500, 501, codes.OutOfRange, 0},
		{"huge length", 0, 1 << 62, codes.OutOfRange, 0},
		{"huge offset", 1 << 63, 1, codes.OutOfRange, 0},
	}
	for _, tc := range tests {
		for _, byRef := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/shardcodec=%v", tc.name, byRef), func(t *testing.T) {
				got, err := readShardVia(ctx, e.client, byRef, r, tc.off, tc.n)
				if tc.wantCode == codes.OK {
					require.NoError(t, err)
				} else {
					requireCode(t, err, tc.wantCode)
				}
				require.Len(t, got, tc.wantBytes)
			})
		}
	}
}

func TestNotFoundAndDelete(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	r := ref(drive, "gone")

	_, err := readShard(ctx, e.client, r, 0, 0)
	requireCode(t, err, codes.NotFound)
	_, err = e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: r})
	requireCode(t, err, codes.NotFound)
	del, err := e.client.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: r})
	require.NoError(t, err)
	require.False(t, del.GetExisted())

	_, err = writeShard(ctx, e.client, r, 4096, []byte("x"), 1)
	require.NoError(t, err)
	del, err = e.client.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: r})
	require.NoError(t, err)
	require.True(t, del.GetExisted())
	_, err = readShard(ctx, e.client, r, 0, 0)
	requireCode(t, err, codes.NotFound)

	other := ref("no-such-drive", "gone")
	_, err = writeShard(ctx, e.client, other, 4096, []byte("x"), 1)
	requireCode(t, err, codes.NotFound)
	_, err = readShard(ctx, e.client, other, 0, 0)
	requireCode(t, err, codes.NotFound)
	_, err = e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: other})
	requireCode(t, err, codes.NotFound)
	_, err = e.client.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: other})
	requireCode(t, err, codes.NotFound)
}

func TestInvalidShardIDs(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	ids := []string{
		"", ".", "..", "../x", "../../etc/passwd", "a/b", `a\b`, "/abs", "a b", "a\x00b",
		"é", "a:b", strings.Repeat("a", maxShardIDLen+1),
	}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			r := ref(drive, id)
			_, err := writeShard(ctx, e.client, r, 4096, []byte("x"), 1)
			requireCode(t, err, codes.InvalidArgument)
			_, err = readShard(ctx, e.client, r, 0, 0)
			requireCode(t, err, codes.InvalidArgument)
			_, err = e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: r})
			requireCode(t, err, codes.InvalidArgument)
			_, err = e.client.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: r})
			requireCode(t, err, codes.InvalidArgument)
		})
	}
	for _, id := range []string{"a", "A.z-9_", strings.Repeat("b", maxShardIDLen), "..."} {
		require.NoError(t, validShardID(id), id)
	}
	for _, root := range e.drives {
		require.Empty(t, shardFiles(t, root))
		require.Empty(t, tmpEntries(t, root))
	}
}

func TestWriteRejectsBadRequests(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	tests := []struct {
		name string
		msgs []*storagepb.WriteShardRequest
		want codes.Code
	}{
		{"no messages", nil, codes.InvalidArgument},
		{"no ref", []*storagepb.WriteShardRequest{{BlockSize: 4096, Commit: true}}, codes.InvalidArgument},
		{"zero block size", []*storagepb.WriteShardRequest{{Ref: ref(drive, "b1"), Commit: true}}, codes.InvalidArgument},
		{"huge block size", []*storagepb.WriteShardRequest{{Ref: ref(drive, "b2"), BlockSize: maxBlockSize + 1, Commit: true}}, codes.InvalidArgument},
		{"wrong total", []*storagepb.WriteShardRequest{{Ref: ref(drive, "b3"), BlockSize: 4096, Data: []byte("abc"), DataCrc32C: crc([]byte("abc")), Commit: true, TotalSize: 4}}, codes.InvalidArgument},
		{"no commit", []*storagepb.WriteShardRequest{{Ref: ref(drive, "b4"), BlockSize: 4096, Data: []byte("abc"), DataCrc32C: crc([]byte("abc"))}}, codes.InvalidArgument},
		{"bad crc first", []*storagepb.WriteShardRequest{{Ref: ref(drive, "b5"), BlockSize: 4096, Data: []byte("abc"), DataCrc32C: crc([]byte("abd")), Commit: true, TotalSize: 3}}, codes.DataLoss},
		{"bad crc later", []*storagepb.WriteShardRequest{
			{Ref: ref(drive, "b6"), BlockSize: 4096, Data: []byte("abc"), DataCrc32C: crc([]byte("abc"))},
			{Data: []byte("def"), DataCrc32C: crc([]byte("abc"))},
			{Commit: true, TotalSize: 6},
		}, codes.DataLoss},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := e.client.WriteShard(ctx)
			require.NoError(t, err)
			for _, m := range tc.msgs {
				// A send may fail once the server has answered; the answer
				// comes from CloseAndRecv.
				if stream.Send(m) != nil {
					break
				}
			}
			_, err = stream.CloseAndRecv()
			requireCode(t, err, tc.want)
		})
	}
	require.Empty(t, shardFiles(t, e.drives[0]))
	require.Empty(t, tmpEntries(t, e.drives[0]))
}

func TestWriteCancelledLeavesNothing(t *testing.T) {
	for _, p := range tempPaths {
		t.Run(p.name, func(t *testing.T) {
			ffs := newFaultFS(p)
			e := startServer(t, Config{FS: ffs})
			drive := e.srv.DriveIDs()[0]
			creates := ffs.Calls(p.create)
			ctx, cancel := context.WithCancel(t.Context())
			stream, err := e.client.WriteShard(ctx)
			require.NoError(t, err)
			data := randBytes(7, 64<<10)
			require.NoError(t, stream.Send(&storagepb.WriteShardRequest{Ref: ref(drive, "cx"), BlockSize: 4096, Data: data, DataCrc32C: crc(data)}))
			// Wait until the server has created its temp file, so that the
			// cancel interrupts a write in progress.
			require.Eventually(t, func() bool { return ffs.Calls(p.create) > creates }, 10*time.Second, time.Millisecond)
			if p.named {
				require.Len(t, tmpEntries(t, e.drives[0]), 1)
			}
			cancel()
			// The handler aborts the write; a named temp file is then
			// removed (an unnamed one has no name to remove).
			require.Eventually(t, func() bool { return len(tmpEntries(t, e.drives[0])) == 0 }, 10*time.Second, time.Millisecond)

			_, err = e.client.StatShard(t.Context(), &storagepb.StatShardRequest{Ref: ref(drive, "cx")})
			requireCode(t, err, codes.NotFound)
			require.Empty(t, shardFiles(t, e.drives[0]))
		})
	}
}

func TestCorruptionDetected(t *testing.T) {
	const bs = 4096
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	r := ref(drive, "rot.1")
	data := randBytes(42, 16*bs)
	_, err := writeShard(ctx, e.client, r, bs, data, 10000)
	require.NoError(t, err)

	// Flip one bit in the middle of the file: whatever the framing, it
	// lands in exactly one block.
	path := e.srv.drives[drive].shardPath(r.GetShardId())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x10
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	for _, byRef := range []bool{false, true} {
		readShard := func(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef, off, n uint64) ([]byte, error) {
			return readShardVia(ctx, c, byRef, r, off, n)
		}
		bad := -1
		for b := 0; b < 16; b++ {
			got, err := readShard(ctx, e.client, r, uint64(b*bs), bs)
			if err != nil {
				requireCode(t, err, codes.DataLoss)
				require.Empty(t, got, "block %d: no byte of a corrupt block may be sent", b)
				require.Equal(t, -1, bad, "only one block is corrupt")
				bad = b
				continue
			}
			require.Equal(t, data[b*bs:(b+1)*bs], got, "block %d", b)
		}
		require.NotEqual(t, -1, bad, "corruption went unnoticed")

		got, err := readShard(ctx, e.client, r, 0, 0)
		requireCode(t, err, codes.DataLoss)
		require.LessOrEqual(t, len(got), bad*bs, "bytes of the corrupt block were sent")
		require.Equal(t, string(data[:len(got)]), string(got))

		// A one-byte range inside the corrupt block fails too.
		_, err = readShard(ctx, e.client, r, uint64(bad*bs+10), 1)
		requireCode(t, err, codes.DataLoss)
	}
}

func TestCorruptHeaderIsDataLoss(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	r := ref(drive, "hdr")
	_, err := writeShard(ctx, e.client, r, 4096, randBytes(3, 10000), 10000)
	require.NoError(t, err)
	path := e.srv.drives[drive].shardPath("hdr")
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o644))

	_, err = readShard(ctx, e.client, r, 0, 0)
	requireCode(t, err, codes.DataLoss)
	_, err = e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: r})
	requireCode(t, err, codes.DataLoss)
}

func TestRestartKeepsDrivesAndShards(t *testing.T) {
	drives := []string{t.TempDir(), t.TempDir()}
	data := randBytes(9, 70000)

	e1 := startServer(t, Config{Drives: drives})
	ids := e1.srv.DriveIDs()
	require.Len(t, ids, 2)
	require.NotEqual(t, ids[0], ids[1])
	_, err := writeShard(t.Context(), e1.client, ref(ids[1], "keep"), 4096, data, 8192)
	require.NoError(t, err)
	require.NoError(t, e1.srv.Close())

	// A temp file left by a crash is removed when the drive is opened.
	stale := filepath.Join(drives[0], tmpDir, "stale")
	require.NoError(t, os.WriteFile(stale, []byte("x"), 0o644))

	e2 := startServer(t, Config{Drives: drives})
	require.Equal(t, ids, e2.srv.DriveIDs())
	got, err := readShard(t.Context(), e2.client, ref(ids[1], "keep"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Empty(t, tmpEntries(t, drives[0]))

	// Drive order follows the config, IDs follow the drives.
	e3 := startServer(t, Config{Drives: []string{drives[1], drives[0]}})
	require.Equal(t, []string{ids[1], ids[0]}, e3.srv.DriveIDs())
}

func TestNewRejectsBadDrives(t *testing.T) {
	dir := t.TempDir()
	_, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, FormatDrives: true, Drives: []string{dir}})
	require.NoError(t, err)
	clone := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, formatFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(clone, formatFile), b, 0o644))

	tests := []struct {
		name   string
		format string
		drives []string
	}{
		{"cloned drive id", "", []string{dir, clone}},
		{"future version", `{"version":3,"drive_id":"x"}`, nil},
		{"empty id", `{"version":1,"drive_id":""}`, nil},
		{"not json", `{`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			drives := tc.drives
			if tc.format != "" {
				d := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(d, formatFile), []byte(tc.format), 0o644))
				drives = []string{d}
			}
			_, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, FormatDrives: true, Drives: drives})
			require.Error(t, err)
		})
	}
}

// A GC deletion decided before a shard of the same name was written again
// (a repair moved it back to this drive) must not remove the new file.
func TestDeleteUnlessNewer(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	r := ref(e.srv.DriveIDs()[0], "data.1")
	_, err := writeShard(ctx, e.client, r, 4096, []byte("first"), 5)
	require.NoError(t, err)
	st, err := e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: r})
	require.NoError(t, err)
	written := st.GetMtimeUnixNano()

	cases := []struct {
		name   string
		cutoff int64
		kept   bool
	}{
		{"decided before the file was written: kept", written - int64(time.Second), true},
		// The file's mtime is coarse: a decision taken a few ms before
		// the write may carry a later time than the mtime shows.
		{"decided within the slack before the mtime: kept", written + int64(10*time.Millisecond), true},
		{"decided after: deleted", written + int64(time.Second), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			del, err := e.client.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: r, UnlessNewerThanUnixNano: tc.cutoff})
			require.NoError(t, err)
			require.True(t, del.GetExisted())
			require.Equal(t, tc.kept, del.GetKept())
			_, err = readShard(ctx, e.client, r, 0, 0)
			if tc.kept {
				require.NoError(t, err)
			} else {
				requireCode(t, err, codes.NotFound)
			}
		})
	}
	del, err := e.client.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: r, UnlessNewerThanUnixNano: written})
	require.NoError(t, err)
	require.False(t, del.GetExisted(), "a missing shard is simply gone")
}
