package storage

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// tempPath says how a drive writes a shard before it is published, so that
// a fault can target the temp file's operations on either path.
type tempPath struct {
	name string
	// named forces temp files in tmp/ (a filesystem without unnamed
	// files).
	named bool
	// create is the operation creating the temp file, and in a substring
	// of the temp file's path (the fan-out directory for an unnamed one).
	create faultfs.Op
	in     string
	// publish names the shard.
	publish faultfs.Op
}

var tempPaths = []tempPath{
	{name: "unnamed", create: faultfs.OpCreateTemp, in: string(filepath.Separator) + shardsDir + string(filepath.Separator), publish: faultfs.OpLink},
	{name: "named", named: true, create: faultfs.OpCreate, in: string(filepath.Separator) + tmpDir + string(filepath.Separator), publish: faultfs.OpRename},
}

// newFaultFS wraps the real filesystem; for p.named it refuses unnamed
// files, as a filesystem without O_TMPFILE does.
func newFaultFS(p tempPath) *faultfs.FS {
	ffs := faultfs.New(vfs.Default)
	if p.named {
		ffs.Inject(faultfs.Rule{Op: faultfs.OpCreateTemp, Err: vfs.ErrUnsupported})
	}
	return ffs
}

func TestWriteFaults(t *testing.T) {
	sep := string(filepath.Separator)
	inShards := sep + shardsDir + sep
	tests := []struct {
		name string
		size int
		// warm makes the shard's fan-out directory durable before the
		// fault, so that only the post-publish directory sync remains.
		warm  bool
		setup func(*faultfs.FS, tempPath)
		want  codes.Code
	}{
		{"create fails", 1000, false, func(f *faultfs.FS, p tempPath) { f.Inject(faultfs.Rule{Op: p.create, PathContains: p.in}) }, codes.Internal},
		{"write fails", 1000, false, func(f *faultfs.FS, p tempPath) { f.Inject(faultfs.Rule{Op: faultfs.OpWrite, PathContains: p.in}) }, codes.Internal},
		{"fsync fails", 1000, false, func(f *faultfs.FS, p tempPath) { f.Inject(faultfs.Rule{Op: faultfs.OpSync, PathContains: p.in}) }, codes.Internal},
		{"publish fails", 1000, false, func(f *faultfs.FS, p tempPath) { f.Inject(faultfs.Rule{Op: p.publish}) }, codes.Internal},
		{"fan-out dir sync fails", 1000, false, func(f *faultfs.FS, _ tempPath) {
			f.Inject(faultfs.Rule{Op: faultfs.OpSyncDir, PathContains: inShards})
		}, codes.Internal},
		{"dir sync after publish fails", 1000, true, func(f *faultfs.FS, _ tempPath) {
			f.Inject(faultfs.Rule{Op: faultfs.OpSyncDir, PathContains: inShards})
		}, codes.Internal},
		{"mkdir fails", 1000, false, func(f *faultfs.FS, _ tempPath) {
			f.Inject(faultfs.Rule{Op: faultfs.OpMkdirAll, PathContains: inShards})
		}, codes.Internal},
		{"disk full at commit", 1000, false, func(f *faultfs.FS, _ tempPath) { f.SetFull(true) }, codes.ResourceExhausted},
		{"disk full mid-stream", 2 << 20, false, func(f *faultfs.FS, _ tempPath) { f.SetFull(true) }, codes.ResourceExhausted},
		{"quota exceeded", 1000, false, func(f *faultfs.FS, _ tempPath) {
			f.Inject(faultfs.Rule{Op: faultfs.OpWrite, Err: syscall.EDQUOT})
		}, codes.ResourceExhausted},
	}
	for _, p := range tempPaths {
		for i, tc := range tests {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				ffs := newFaultFS(p)
				root := t.TempDir()
				e := startServer(t, Config{Drives: []string{root}, FS: ffs})
				ctx := t.Context()
				r := ref(e.srv.DriveIDs()[0], "f.0")
				require.Equal(t, !p.named, e.srv.drives[r.GetDriveId()].unnamed)
				if tc.warm {
					_, err := e.srv.drives[r.GetDriveId()].ensureDir(fanout(r.GetShardId()))
					require.NoError(t, err)
				}
				data := randBytes(uint64(i), tc.size)

				tc.setup(ffs, p)
				_, err := writeShard(ctx, e.client, r, 4096, data, 64<<10)
				requireCode(t, err, tc.want)
				require.NotContains(t, status.Convert(err).Message(), root, "status leaks a local path")
				require.False(t, strings.Contains(status.Convert(err).Message(), sep+tmpDir), "status leaks a local path")

				ffs.Clear()
				_, err = e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: r})
				requireCode(t, err, codes.NotFound)
				require.Empty(t, shardFiles(t, root))
				require.Empty(t, tmpEntries(t, root))

				// The drive keeps working once the fault is gone.
				_, err = writeShard(ctx, e.client, r, 4096, data, 64<<10)
				require.NoError(t, err)
				got, err := readShard(ctx, e.client, r, 0, 0)
				require.NoError(t, err)
				require.Equal(t, data, got)
			})
		}
	}
}

func TestReadFaults(t *testing.T) {
	tests := []struct {
		name string
		rule faultfs.Rule
		want codes.Code
	}{
		{"open fails", faultfs.Rule{Op: faultfs.OpOpen, PathContains: shardsDir}, codes.Internal},
		{"header read fails", faultfs.Rule{Op: faultfs.OpReadAt, Nth: 1}, codes.Internal},
		{"trailer read fails", faultfs.Rule{Op: faultfs.OpReadAt, Nth: 2}, codes.Internal},
		{"block read fails", faultfs.Rule{Op: faultfs.OpReadAt, Nth: 3}, codes.Internal},
		{"shard vanishes", faultfs.Rule{Op: faultfs.OpOpen, Err: syscall.ENOENT}, codes.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ffs := faultfs.New(vfs.Default)
			root := t.TempDir()
			e := startServer(t, Config{Drives: []string{root}, FS: ffs})
			ctx := t.Context()
			r := ref(e.srv.DriveIDs()[0], "r.0")
			data := randBytes(5, 20000)
			_, err := writeShard(ctx, e.client, r, 4096, data, 20000)
			require.NoError(t, err)

			ffs.Inject(tc.rule)
			got, err := readShard(ctx, e.client, r, 0, 0)
			requireCode(t, err, tc.want)
			require.Empty(t, got)
			require.NotContains(t, status.Convert(err).Message(), root)

			ffs.Clear()
			got, err = readShard(ctx, e.client, r, 0, 0)
			require.NoError(t, err)
			require.Equal(t, data, got)
		})
	}
}

func TestNewFaults(t *testing.T) {
	tests := []struct {
		name string
		rule faultfs.Rule
	}{
		{"mkdir", faultfs.Rule{Op: faultfs.OpMkdirAll}},
		{"sync root", faultfs.Rule{Op: faultfs.OpSyncDir}},
		{"format create", faultfs.Rule{Op: faultfs.OpCreate, PathContains: formatFile}},
		{"format fsync", faultfs.Rule{Op: faultfs.OpSync, PathContains: formatFile}},
		{"format rename", faultfs.Rule{Op: faultfs.OpRename, PathContains: formatFile}},
		{"list temp", faultfs.Rule{Op: faultfs.OpReadDir}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ffs := faultfs.New(vfs.Default)
			ffs.Inject(tc.rule)
			root := t.TempDir()
			_, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, FormatDrives: true, Drives: []string{root}, FS: ffs, Logger: testLogger(t)})
			require.ErrorIs(t, err, faultfs.ErrInjected)

			// A failed format attempt leaves no identity behind, and the
			// next attempt succeeds.
			ffs.Clear()
			s, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, FormatDrives: true, Drives: []string{root}, FS: ffs, Logger: testLogger(t)})
			require.NoError(t, err)
			require.Len(t, s.DriveIDs(), 1)
			require.NoError(t, s.Close())
		})
	}
}
