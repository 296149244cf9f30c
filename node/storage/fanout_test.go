package storage

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/crashfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
)

// The fan-out directories a shard needs are made durable once: at open
// (syncfs, and the 256 top-level directories created and synced) or on
// first use. These tests count the directory syncs a shard costs and
// crash right after the acknowledgement, keeping only what was durable.

const fanoutBlock = 4096

func openTestDrive(t *testing.T, fsys vfs.FS) *drive {
	t.Helper()
	d, err := openDrive(fsys, crashRoot, FormatOptions{ClusterID: testCluster, NodeID: "node-1", Create: true}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return d
}

// putShard writes and commits one shard; it returns once the shard is
// acknowledged.
func putShard(t *testing.T, d *drive, id string, data []byte) {
	t.Helper()
	p, err := d.create(id, fanoutBlock)
	require.NoError(t, err)
	defer p.abort()
	_, err = p.Write(data)
	require.NoError(t, err)
	require.NoError(t, p.commit(context.Background()))
}

// syncDirsOf counts the directory syncs of putShard.
func syncDirsOf(t *testing.T, ffs *faultfs.FS, d *drive, id string, data []byte) int {
	t.Helper()
	before := ffs.Calls(faultfs.OpSyncDir)
	putShard(t, d, id, data)
	return ffs.Calls(faultfs.OpSyncDir) - before
}

// idIn returns a shard ID, starting with prefix, whose fan-out directory
// is f.
func idIn(f uint16, prefix string) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s%d.0", prefix, i)
		if fanout(id) == f {
			return id
		}
	}
}

// framed is the file a shard of data is stored as.
func framed(t *testing.T, id string, data []byte) []byte {
	t.Helper()
	return framedBlocks(t, id, data, fanoutBlock)
}

func framedBlocks(t *testing.T, id string, data []byte, blockSize int) []byte {
	t.Helper()
	var b bytes.Buffer
	w := bitrot.NewWriter(&b, blockSize, id)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// requireSurvives crashes f with every seed of crashSeeds and checks that
// each shard of want is on the disk, byte for byte.
func requireSurvives(t *testing.T, f *crashfs.FS, want map[string][]byte) {
	t.Helper()
	for _, seed := range crashSeeds {
		c := f.Crash(seed)
		d := openTestDrive(t, c)
		for id, data := range want {
			got, err := vfs.ReadFile(c, d.shardPath(id))
			require.NoError(t, err, "seed %d: acknowledged shard %s lost", seed, id)
			require.Equal(t, framed(t, id, data), got, "seed %d: shard %s", seed, id)
		}
	}
}

func TestFanoutFreshDrive(t *testing.T) {
	for _, p := range tempPaths {
		t.Run(p.name, func(t *testing.T) {
			f := newCrashFS(t)
			ffs := faultfs.New(f)
			var fsys vfs.FS = ffs
			if p.named {
				fsys = namedOnly{ffs}
			}
			d := openTestDrive(t, fsys)
			require.Equal(t, !p.named, d.unnamed)
			for b := range 256 {
				fi, err := f.Crash(crashfs.SeedDurable).Stat(path.Join(crashRoot, shardsDir, fmt.Sprintf("%02x", b)))
				require.NoError(t, err, "top-level fan-out directory %02x is not durable", b)
				require.True(t, fi.IsDir())
			}
			data := randBytes(7, 10000)
			// A new leaf: its parent's sync, then the shard's publish.
			require.Equal(t, 2, syncDirsOf(t, ffs, d, "a.0", data))
			// The same leaf again: the publish only.
			require.Equal(t, 1, syncDirsOf(t, ffs, d, idIn(fanout("a.0"), "b"), data))
			requireSurvives(t, f, map[string][]byte{"a.0": data, idIn(fanout("a.0"), "b"): data})
		})
	}
}

// namedOnly is a filesystem without unnamed files.
type namedOnly struct{ vfs.FS }

func (namedOnly) CreateTemp(dir string) (vfs.TempFile, error) {
	return nil, &os.PathError{Op: "createtemp", Path: dir, Err: vfs.ErrUnsupported}
}

// TestFanoutReopen: a drive opened again syncs no fan-out directory that
// exists, even one an earlier process created and never synced (it died
// first): the open's syncfs made it durable.
func TestFanoutReopen(t *testing.T) {
	f := newCrashFS(t)
	d := openTestDrive(t, f)
	old := randBytes(8, 5000)
	putShard(t, d, "old.0", old)
	unsynced := fanout("old.0") ^ 0x0101
	_, leaf := d.fanoutDir(unsynced)
	require.NoError(t, f.MkdirAll(leaf))

	ffs := faultfs.New(f)
	d = openTestDrive(t, ffs)
	require.Equal(t, 1, ffs.Calls(faultfs.OpSyncFS))
	data := randBytes(9, 5000)
	again, inUnsynced := idIn(fanout("old.0"), "again"), idIn(unsynced, "new")
	require.Equal(t, 1, syncDirsOf(t, ffs, d, again, data), "a leaf used before the open")
	require.Equal(t, 1, syncDirsOf(t, ffs, d, inUnsynced, data), "a leaf created, unsynced, before the open")
	requireSurvives(t, f, map[string][]byte{"old.0": old, again: data, inUnsynced: data})
}

// TestFanoutFallback: when the open cannot make directories durable, a
// shard's first write to a directory syncs every directory it needs.
func TestFanoutFallback(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the drive, formatted and then closed, and the
		// faults of its next open.
		setup func(t *testing.T, f *crashfs.FS, ffs *faultfs.FS, leaf uint16)
		// syncDirs is the directory syncs of the first shard in leaf.
		syncDirs int
	}{
		{
			name: "no syncfs, leaf created unsynced before the open",
			setup: func(t *testing.T, f *crashfs.FS, ffs *faultfs.FS, leaf uint16) {
				require.NoError(t, f.MkdirAll(path.Join(crashRoot, shardsDir, fmt.Sprintf("%02x/%02x", byte(leaf>>8), byte(leaf)))))
				ffs.Inject(faultfs.Rule{Op: faultfs.OpSyncFS, Err: syscall.ENOSYS})
			},
			syncDirs: 2,
		},
		{
			name: "formatted before top-level directories, which cannot be made now",
			setup: func(t *testing.T, f *crashfs.FS, ffs *faultfs.FS, leaf uint16) {
				removeTopDirs(t, f)
				ffs.Inject(faultfs.Rule{Op: faultfs.OpMkdirAll, PathContains: path.Join(shardsDir, fmt.Sprintf("%02x", byte(leaf>>8))), Nth: 1, Err: syscall.ENOSPC})
			},
			syncDirs: 3,
		},
		{
			name: "formatted before top-level directories, no syncfs",
			setup: func(t *testing.T, f *crashfs.FS, ffs *faultfs.FS, leaf uint16) {
				removeTopDirs(t, f)
				ffs.Inject(faultfs.Rule{Op: faultfs.OpSyncFS, Err: syscall.ENOSYS})
			},
			syncDirs: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newCrashFS(t)
			openTestDrive(t, f)
			id := "x.0"
			ffs := faultfs.New(f)
			tc.setup(t, f, ffs, fanout(id))
			d := openTestDrive(t, ffs)
			data := randBytes(10, 3000)
			require.Equal(t, tc.syncDirs, syncDirsOf(t, ffs, d, id, data))
			requireSurvives(t, f, map[string][]byte{id: data})
		})
	}
}

// TestFanoutOldDriveGetsTopDirs: a drive formatted before the top-level
// fan-out directories were made at open gets them, durable, at its next
// open.
func TestFanoutOldDriveGetsTopDirs(t *testing.T) {
	f := newCrashFS(t)
	openTestDrive(t, f)
	removeTopDirs(t, f)
	openTestDrive(t, f)
	c := f.Crash(crashfs.SeedDurable)
	ents, err := c.ReadDir(path.Join(crashRoot, shardsDir))
	require.NoError(t, err)
	require.Len(t, ents, 256)
}

// removeTopDirs makes f's drive look like one formatted before the
// top-level fan-out directories were made at open: shards/ is empty.
func removeTopDirs(t *testing.T, f *crashfs.FS) {
	t.Helper()
	shards := path.Join(crashRoot, shardsDir)
	ents, err := f.ReadDir(shards)
	require.NoError(t, err)
	for _, e := range ents {
		require.NoError(t, f.Remove(path.Join(shards, e.Name())))
	}
	require.NoError(t, f.SyncDir(shards))
}
