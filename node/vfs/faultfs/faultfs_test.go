package faultfs_test

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
)

var errCustom = errors.New("custom")

func TestRules(t *testing.T) {
	tests := []struct {
		name string
		rule faultfs.Rule
		// want[i] says whether the i-th call of op on path fails.
		op      faultfs.Op
		path    string
		want    []bool
		wantErr error
	}{
		{"every sync", faultfs.Rule{Op: faultfs.OpSync}, faultfs.OpSync, "a", []bool{true, true, true}, faultfs.ErrInjected},
		{"second sync", faultfs.Rule{Op: faultfs.OpSync, Nth: 2}, faultfs.OpSync, "a", []bool{false, true, false}, faultfs.ErrInjected},
		{"other op untouched", faultfs.Rule{Op: faultfs.OpRename}, faultfs.OpSync, "a", []bool{false, false}, nil},
		{"path match", faultfs.Rule{Op: faultfs.OpWrite, PathContains: "shards"}, faultfs.OpWrite, "shards", []bool{true, true}, faultfs.ErrInjected},
		{"path mismatch", faultfs.Rule{Op: faultfs.OpWrite, PathContains: "shards"}, faultfs.OpWrite, "tmp", []bool{false}, nil},
		{"custom error", faultfs.Rule{Op: faultfs.OpRename, Err: errCustom}, faultfs.OpRename, "a", []bool{true}, errCustom},
		{"create", faultfs.Rule{Op: faultfs.OpCreate, Nth: 1}, faultfs.OpCreate, "a", []bool{true, false}, faultfs.ErrInjected},
		{"open", faultfs.Rule{Op: faultfs.OpOpen}, faultfs.OpOpen, "a", []bool{true}, faultfs.ErrInjected},
		{"readat", faultfs.Rule{Op: faultfs.OpReadAt, Nth: 3}, faultfs.OpReadAt, "a", []bool{false, false, true}, faultfs.ErrInjected},
		{"syncdir", faultfs.Rule{Op: faultfs.OpSyncDir}, faultfs.OpSyncDir, "a", []bool{true}, faultfs.ErrInjected},
		{"syncfs", faultfs.Rule{Op: faultfs.OpSyncFS}, faultfs.OpSyncFS, "a", []bool{true}, faultfs.ErrInjected},
		{"setdirect", faultfs.Rule{Op: faultfs.OpSetDirect, Err: syscall.EINVAL}, faultfs.OpSetDirect, "a", []bool{true}, syscall.EINVAL},
		{"createtemp", faultfs.Rule{Op: faultfs.OpCreateTemp, PathContains: "shards"}, faultfs.OpCreateTemp, "shards", []bool{true, true}, faultfs.ErrInjected},
		{"link matches the new name", faultfs.Rule{Op: faultfs.OpLink, PathContains: "l"}, faultfs.OpLink, "a", []bool{true}, faultfs.ErrInjected},
		{"link, path mismatch", faultfs.Rule{Op: faultfs.OpLink, PathContains: "shards"}, faultfs.OpLink, "a", []bool{false}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := faultfs.New(vfs.Default)
			ffs.Inject(tc.rule)
			for i, wantFail := range tc.want {
				err := doOp(t, ffs, dir, tc.op, tc.path, i)
				if wantFail {
					require.ErrorIs(t, err, tc.wantErr, "call %d", i+1)
				} else {
					require.NoError(t, err, "call %d", i+1)
				}
			}
			ffs.Clear()
			require.NoError(t, doOp(t, ffs, dir, tc.op, tc.path, len(tc.want)), "after Clear")
		})
	}
}

// doOp performs the i-th call of op on a file named after sub inside dir,
// preparing whatever the operation needs through the unwrapped FS.
func doOp(t *testing.T, ffs *faultfs.FS, dir string, op faultfs.Op, sub string, i int) error {
	t.Helper()
	base := filepath.Join(dir, sub)
	require.NoError(t, vfs.Default.MkdirAll(base))
	name := filepath.Join(base, "f")
	if op != faultfs.OpCreate {
		if _, err := vfs.Default.Stat(name); err != nil {
			f, err := vfs.Default.Create(name)
			require.NoError(t, err)
			_, err = f.Write([]byte("data"))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}
	}
	switch op {
	case faultfs.OpCreate:
		f, err := ffs.Create(filepath.Join(base, "c"+string(rune('a'+i))))
		if err == nil {
			require.NoError(t, f.Close())
		}
		return err
	case faultfs.OpOpen:
		f, err := ffs.Open(name)
		if err == nil {
			require.NoError(t, f.Close())
		}
		return err
	case faultfs.OpReadAt:
		f, err := ffs.Open(name)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.ReadAt(make([]byte, 2), 0)
		return err
	case faultfs.OpWrite, faultfs.OpSync:
		f, err := ffs.Create(filepath.Join(base, "w"+string(rune('a'+i))))
		require.NoError(t, err)
		defer f.Close()
		if op == faultfs.OpWrite {
			_, err = f.Write([]byte("x"))
			return err
		}
		return f.Sync()
	case faultfs.OpCreateTemp:
		f, err := ffs.CreateTemp(base)
		if errors.Is(err, vfs.ErrUnsupported) {
			t.Skipf("no unnamed files here: %v", err)
		}
		if err == nil {
			require.NoError(t, f.Close())
		}
		return err
	case faultfs.OpLink:
		f, err := ffs.CreateTemp(base)
		if errors.Is(err, vfs.ErrUnsupported) {
			t.Skipf("no unnamed files here: %v", err)
		}
		require.NoError(t, err)
		defer f.Close()
		return f.Link(filepath.Join(base, "l"+string(rune('a'+i))))
	case faultfs.OpRename:
		return ffs.Rename(name, name)
	case faultfs.OpSyncDir:
		return ffs.SyncDir(base)
	case faultfs.OpSyncFS:
		return ffs.SyncFS(base)
	case faultfs.OpSetDirect:
		f, err := ffs.Create(filepath.Join(base, "d"+string(rune('a'+i))))
		require.NoError(t, err)
		defer f.Close()
		return vfs.SetDirect(f, true)
	}
	t.Fatalf("unhandled op %v", op)
	return nil
}

func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	ffs := faultfs.New(vfs.Default)
	ffs.SetFull(true)

	f, err := ffs.Create(filepath.Join(dir, "f"))
	require.NoError(t, err)
	n, err := f.Write([]byte("data"))
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Zero(t, n)
	require.NoError(t, f.Close())

	_, free, err := ffs.DiskUsage(dir)
	require.NoError(t, err)
	require.Zero(t, free)

	ffs.SetFull(false)
	f, err = ffs.Create(filepath.Join(dir, "g"))
	require.NoError(t, err)
	_, err = f.Write([]byte("data"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, 2, ffs.Calls(faultfs.OpWrite))
}

func TestRenameMatchesEitherPath(t *testing.T) {
	dir := t.TempDir()
	ffs := faultfs.New(vfs.Default)
	ffs.Inject(faultfs.Rule{Op: faultfs.OpRename, PathContains: "target"})
	src := filepath.Join(dir, "src")
	f, err := vfs.Default.Create(src)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	require.ErrorIs(t, ffs.Rename(src, filepath.Join(dir, "target")), faultfs.ErrInjected)
	require.NoError(t, ffs.Rename(src, filepath.Join(dir, "other")))
}
