package storage

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/crashfs"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// crashSeeds are the crash outcomes tried at every crash point: the two
// extremes and random mixtures of them.
var crashSeeds = []uint64{crashfs.SeedDurable, crashfs.SeedEverything, 2, 3, 4, 5, 6, 7}

const crashRoot = "/drive0"

// newCrashFS returns a filesystem holding an empty, durable drive
// directory, as a mounted drive is before the node first starts.
func newCrashFS(t *testing.T) *crashfs.FS {
	t.Helper()
	f := crashfs.New()
	require.NoError(t, f.MkdirAll(crashRoot))
	require.NoError(t, f.SyncDir("/"))
	return f
}

func startCrashServer(t *testing.T, f *crashfs.FS) *env {
	t.Helper()
	return startCrashServerOn(t, f, false)
}

// startCrashServerOn starts a node on f; named hides f's unnamed files, as
// a filesystem without them, so that shards go through tmp/.
func startCrashServerOn(t *testing.T, f *crashfs.FS, named bool) *env {
	t.Helper()
	var fsys vfs.FS = f
	if named {
		fsys = namedOnlyFS{f}
	}
	e := startServer(t, Config{Drives: []string{crashRoot}, FS: fsys, Logger: slog.New(slog.DiscardHandler)})
	for _, d := range e.srv.drives {
		require.Equal(t, !named, d.unnamed)
	}
	return e
}

// namedOnlyFS is a filesystem without unnamed files.
type namedOnlyFS struct{ *crashfs.FS }

func (namedOnlyFS) CreateTemp(dir string) (vfs.TempFile, error) {
	return nil, &os.PathError{Op: "createtemp", Path: dir, Err: vfs.ErrUnsupported}
}

// crashCase is one storage operation crashed after each of its mutating
// filesystem operations.
type crashCase struct {
	name string
	// before are shards written, acknowledged, before the operation.
	before []shardContent
	// op is the operation under test; it acts on shard target.
	op     func(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef) error
	target string
	// after is the target's contents once op succeeded; nil if deleted.
	after []byte
	// ackDurable says an acknowledged op survives any crash. Deletes do
	// not sync the directory (the orphan sweep collects what returns).
	ackDurable bool
}

type shardContent struct {
	id        string
	blockSize uint32
	data      []byte
}

func writeOp(blockSize uint32, data []byte) func(context.Context, storagepb.StorageClient, *storagepb.ShardRef) error {
	return func(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef) error {
		_, err := writeShard(ctx, c, r, blockSize, data, 64<<10)
		return err
	}
}

func deleteOp(ctx context.Context, c storagepb.StorageClient, r *storagepb.ShardRef) error {
	_, err := c.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: r})
	return err
}

// TestCrashConsistency crashes a storage node after every mutating
// filesystem operation of a shard write, overwrite and delete, with several
// crash outcomes each, restarts it on what the disk kept and checks that
// every shard is either absent or byte for byte one of the versions
// written (never a mix, never one that verifies but holds other bytes),
// that an acknowledged write survived, and that no temp file remains.
func TestCrashConsistency(t *testing.T) {
	small := randBytes(1, 1000)
	medium := randBytes(2, 600<<10) // several buffered writes of 64 KiB blocks
	large := randBytes(3, 2<<20+5)  // 1 MiB blocks, written directly
	other := randBytes(4, 300<<10)
	tests := []crashCase{
		{name: "new small shard", op: writeOp(4096, small), target: "s.0", after: small, ackDurable: true},
		{name: "new shard, buffered writes", op: writeOp(64<<10, medium), target: "m.0", after: medium, ackDurable: true},
		{name: "new shard, direct writes", op: writeOp(1<<20, large), target: "l.0", after: large, ackDurable: true},
		{
			name:   "second shard beside an acknowledged one",
			before: []shardContent{{"a.0", 64 << 10, other}},
			op:     writeOp(64<<10, medium), target: "b.0", after: medium, ackDurable: true,
		},
		{
			name:   "overwrite (repair rewrites in place)",
			before: []shardContent{{"o.0", 64 << 10, other}},
			op:     writeOp(64<<10, medium), target: "o.0", after: medium, ackDurable: true,
		},
		{
			name:   "delete",
			before: []shardContent{{"d.0", 64 << 10, medium}, {"k.0", 4096, small}},
			op:     deleteOp, target: "d.0", after: nil,
		},
	}
	for _, p := range tempPaths {
		for _, tc := range tests {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) { crashOp(t, tc, p.named) })
		}
	}
}

// crashOp crashes tc's operation after each of its mutating filesystem
// operations, with every seed of crashSeeds.
func crashOp(t *testing.T, tc crashCase, named bool) {
	// A run without a crash counts the operation's mutating calls
	// and records the digest of every version.
	f := newCrashFS(t)
	e := startCrashServerOn(t, f, named)
	digests := writeBefore(t, e, tc.before)
	base := f.Ops()
	r := ref(e.srv.DriveIDs()[0], tc.target)
	require.NoError(t, tc.op(t.Context(), e.client, r))
	total := f.Ops() - base
	if tc.after != nil {
		resp, err := e.client.StatShard(t.Context(), &storagepb.StatShardRequest{Ref: r})
		require.NoError(t, err)
		digests[string(tc.after)] = resp.GetDigest()
	}
	require.Positive(t, total)
	t.Logf("%d mutating operations: %v", total, f.Log()[base:])

	for n := 1; n <= total; n++ {
		t.Run(fmt.Sprintf("crash after op %d", n), func(t *testing.T) {
			f := newCrashFS(t)
			e := startCrashServerOn(t, f, named)
			driveID := e.srv.DriveIDs()[0]
			writeBefore(t, e, tc.before)
			f.StopAfter(n)
			r := ref(driveID, tc.target)
			acked := tc.op(t.Context(), e.client, r) == nil
			require.Equal(t, n == total, acked, "the operation is acknowledged only once its last step ran")
			where := f.Log()[len(f.Log())-1]
			for _, seed := range crashSeeds {
				checkCrashed(t, f.Crash(seed), named, driveID, tc, acked, digests, fmt.Sprintf("crash after %q, seed %d", where, seed))
			}
		})
	}
}

// writeBefore writes the shards and returns their digests by contents.
func writeBefore(t *testing.T, e *env, shards []shardContent) map[string][]byte {
	t.Helper()
	digests := map[string][]byte{}
	for _, s := range shards {
		resp, err := writeShard(t.Context(), e.client, ref(e.srv.DriveIDs()[0], s.id), s.blockSize, s.data, 64<<10)
		require.NoError(t, err)
		digests[string(s.data)] = resp.GetDigest()
	}
	return digests
}

// checkCrashed restarts a node on a crashed filesystem and checks every
// shard of tc.
func checkCrashed(t *testing.T, f *crashfs.FS, named bool, driveID string, tc crashCase, acked bool, digests map[string][]byte, where string) {
	t.Helper()
	e := startCrashServerOn(t, f, named)
	require.Equal(t, []string{driveID}, e.srv.DriveIDs(), "%s: the drive lost its identity", where)
	ents, err := f.ReadDir(path.Join(crashRoot, tmpDir))
	require.NoError(t, err)
	require.Empty(t, ents, "%s: temp files survive a restart", where)

	for _, s := range tc.before {
		if s.id == tc.target {
			continue
		}
		got, found := readCrashed(t, e, driveID, s.id, digests, where)
		require.True(t, found, "%s: acknowledged shard %s lost", where, s.id)
		require.Equal(t, s.data, got, "%s: shard %s changed", where, s.id)
	}

	var old []byte
	for _, s := range tc.before {
		if s.id == tc.target {
			old = s.data
		}
	}
	got, found := readCrashed(t, e, driveID, tc.target, digests, where)
	switch {
	case acked && tc.ackDurable && tc.after == nil:
		require.False(t, found, "%s: acknowledged delete undone", where)
	case acked && tc.ackDurable:
		require.True(t, found, "%s: acknowledged write lost", where)
		require.Equal(t, tc.after, got, "%s: acknowledged write holds other bytes", where)
	case !found:
		// Absent is a state the shard had before or after, or the write
		// was never acknowledged.
		require.True(t, old == nil || tc.after == nil || !acked, "%s: shard lost", where)
		if old != nil && tc.after != nil {
			t.Fatalf("%s: overwrite lost both versions", where)
		}
	default:
		ok := (old != nil && string(got) == string(old)) || (tc.after != nil && string(got) == string(tc.after))
		require.True(t, ok, "%s: shard holds %d bytes matching neither version", where, len(got))
	}
}

// readCrashed reads a shard through the service: its bytes, and whether
// it exists. A shard that exists must verify against the digest of its
// contents.
func readCrashed(t *testing.T, e *env, driveID, id string, digests map[string][]byte, where string) ([]byte, bool) {
	t.Helper()
	r := ref(driveID, id)
	_, err := e.client.StatShard(t.Context(), &storagepb.StatShardRequest{Ref: r})
	if status.Code(err) == codes.NotFound {
		return nil, false
	}
	require.NoError(t, err, "%s: stat %s", where, id)
	got, err := readShard(t.Context(), e.client, r, 0, 0)
	require.NoError(t, err, "%s: read %s", where, id)
	want, known := digests[string(got)]
	require.True(t, known, "%s: shard %s holds %d bytes no write sent", where, id, len(got))
	v, err := e.client.VerifyShard(t.Context(), &storagepb.VerifyShardRequest{Ref: r, ExpectDigest: want})
	require.NoError(t, err, "%s: verify %s", where, id)
	require.Equal(t, uint64(len(got)), v.GetSize())
	return got, true
}

// TestCrashWhileFormatting crashes a node's first start, which formats
// the drive, after each of its mutating operations: the next start must
// succeed and serve writes.
func TestCrashWhileFormatting(t *testing.T) {
	f := newCrashFS(t)
	base := f.Ops()
	srv, err := New(Config{NodeID: "node-1", Addr: "a:1", ClusterID: testCluster, FormatDrives: true, Drives: []string{crashRoot}, FS: f})
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	total := f.Ops() - base
	ops := f.Log()[base:]
	data := randBytes(5, 5000)
	for n := 1; n <= total; n++ {
		if midRun(ops, n-1) {
			continue
		}
		for _, seed := range crashSeeds {
			t.Run(fmt.Sprintf("op %d seed %d", n, seed), func(t *testing.T) {
				f := newCrashFS(t)
				f.StopAfter(n)
				if srv, err := New(Config{NodeID: "node-1", Addr: "a:1", ClusterID: testCluster, FormatDrives: true, Drives: []string{crashRoot}, FS: f}); err == nil {
					require.NoError(t, srv.Close())
				}
				e := startCrashServer(t, f.Crash(seed))
				r := ref(e.srv.DriveIDs()[0], "x.0")
				_, err := writeShard(t.Context(), e.client, r, 4096, data, 64<<10)
				require.NoError(t, err)
				got, err := readShard(t.Context(), e.client, r, 0, 0)
				require.NoError(t, err)
				require.Equal(t, data, got)
			})
		}
	}
}

// midRun reports whether ops[i] is inside a run of creates of top-level
// fan-out directories, not at its first or last: a crash there leaves
// what a crash at its neighbours does, with one directory more or less.
func midRun(ops []string, i int) bool {
	topMkdir := func(j int) bool {
		if j < 0 || j >= len(ops) {
			return false
		}
		rest, ok := strings.CutPrefix(ops[j], string(crashfs.OpMkdir)+" "+path.Join(crashRoot, shardsDir)+"/")
		return ok && !strings.Contains(rest, "/")
	}
	return topMkdir(i-1) && topMkdir(i) && topMkdir(i+1)
}
