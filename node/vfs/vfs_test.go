package vfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/vfs"
)

func TestOSFileLifecycle(t *testing.T) {
	dir := t.TempDir()
	fsys := vfs.Default
	name := filepath.Join(dir, "a", "b", "f")

	require.NoError(t, fsys.MkdirAll(filepath.Dir(name)))
	f, err := fsys.Create(name)
	require.NoError(t, err)
	_, err = f.Write([]byte("hello world"))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	require.NoError(t, fsys.SyncDir(filepath.Dir(name)))

	_, err = fsys.Create(name)
	require.ErrorIs(t, err, fs.ErrExist, "Create must be exclusive")

	r, err := fsys.Open(name)
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = r.ReadAt(buf, 6)
	require.NoError(t, err)
	require.Equal(t, "world", string(buf))
	fi, err := r.Stat()
	require.NoError(t, err)
	require.EqualValues(t, 11, fi.Size())
	require.NoError(t, r.Close())

	b, err := vfs.ReadFile(fsys, name)
	require.NoError(t, err)
	require.Equal(t, "hello world", string(b))

	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(other, []byte("new"), 0o644))
	require.NoError(t, fsys.Rename(other, name), "Rename must replace")
	b, err = vfs.ReadFile(fsys, name)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))

	ents, err := fsys.ReadDir(filepath.Dir(name))
	require.NoError(t, err)
	require.Len(t, ents, 1)
	require.Equal(t, "f", ents[0].Name())

	require.NoError(t, fsys.Remove(name))
	_, err = fsys.Stat(name)
	require.ErrorIs(t, err, fs.ErrNotExist)
	_, err = fsys.Open(name)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestOSErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		op   func() error
	}{
		{"open", func() error { _, err := vfs.Default.Open(missing); return err }},
		{"stat", func() error { _, err := vfs.Default.Stat(missing); return err }},
		{"remove", func() error { return vfs.Default.Remove(missing) }},
		{"rename", func() error { return vfs.Default.Rename(missing, filepath.Join(dir, "x")) }},
		{"syncdir", func() error { return vfs.Default.SyncDir(missing) }},
		{"readdir", func() error { _, err := vfs.Default.ReadDir(missing); return err }},
		{"syncfs", func() error { return vfs.Default.SyncFS(missing) }},
		{"create in missing dir", func() error { _, err := vfs.Default.Create(filepath.Join(missing, "f")); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			require.Error(t, err)
			require.True(t, errors.Is(err, fs.ErrNotExist), "got %v", err)
		})
	}
}

func TestOSDiskUsage(t *testing.T) {
	capacity, free, err := vfs.Default.DiskUsage(t.TempDir())
	require.NoError(t, err)
	require.Positive(t, capacity)
	require.LessOrEqual(t, free, capacity)

	_, _, err = vfs.Default.DiskUsage(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestOSCreateTemp(t *testing.T) {
	dir := t.TempDir()
	fsys := vfs.Default
	f, err := fsys.CreateTemp(dir)
	if errors.Is(err, vfs.ErrUnsupported) {
		t.Skipf("no unnamed files here: %v", err)
	}
	require.NoError(t, err)
	_, err = f.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	ents, err := fsys.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, ents, "an unnamed file is in no directory")

	name := filepath.Join(dir, "f")
	require.NoError(t, f.Link(name))
	require.ErrorIs(t, f.Link(name), fs.ErrExist, "Link never replaces")
	require.NoError(t, f.Close())
	require.NoError(t, fsys.SyncDir(dir))
	got, err := vfs.ReadFile(fsys, name)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))

	// Closed unnamed, a file leaves nothing behind.
	g, err := fsys.CreateTemp(dir)
	require.NoError(t, err)
	_, err = g.Write([]byte("gone"))
	require.NoError(t, err)
	require.NoError(t, g.Close())
	ents, err = fsys.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, ents, 1)

	_, err = fsys.CreateTemp(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}
