package vfs_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/crashfs"
)

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{1, vfs.DirectAlign, vfs.DirectBufSize} {
		b := vfs.AlignedBuffer(n)
		require.Len(t, b, n)
		require.Equal(t, n, cap(b), "appending must not run into the slack")
		require.Zero(t, uintptr(unsafe.Pointer(&b[0]))%vfs.DirectAlign)
	}
}

// directSizes are file lengths around the alignment and the staging
// buffer's size.
var directSizes = []int{0, 1, 20, vfs.DirectAlign - 1, vfs.DirectAlign, vfs.DirectAlign + 1, vfs.DirectMinWrite - 1, vfs.DirectMinWrite + 1, vfs.DirectBufSize - 1, vfs.DirectBufSize, vfs.DirectBufSize + 16, 3*vfs.DirectBufSize + 4133}

// writeDirect writes data to f with a DirectWriter in writes of varied
// lengths (the bitrot framing writes a header, blocks and checksums).
func writeDirect(t *testing.T, f vfs.File, data []byte, seed uint64) {
	t.Helper()
	w := vfs.NewDirectWriter(f)
	r := rand.New(rand.NewPCG(seed, 1))
	lens := []int{16, 4, 1 << 20, 65536, 4096, 1000, 3 << 20}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), lens[r.IntN(len(lens))])
		got, err := w.Write(rest[:n])
		require.NoError(t, err)
		require.Equal(t, n, got)
		rest = rest[n:]
	}
	require.NoError(t, w.Finish())
	require.NoError(t, f.Sync())
	_, err := w.Write([]byte("x"))
	require.ErrorIs(t, err, vfs.ErrWriterDone)
}

func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestDirectWriterOS: a file written directly holds exactly the bytes
// written, named or unnamed, and reads through the page cache see them.
func TestDirectWriterOS(t *testing.T) {
	dir := t.TempDir()
	probe, err := vfs.Default.Create(filepath.Join(dir, "probe"))
	require.NoError(t, err)
	require.NoError(t, vfs.SetDirect(probe, true))
	if _, err := probe.Write(vfs.AlignedBuffer(vfs.DirectAlign)); errors.Is(err, syscall.EINVAL) {
		t.Skipf("no direct I/O on this filesystem: %v", err)
	}
	require.NoError(t, probe.Close())

	for i, size := range directSizes {
		data := randData(uint64(i), size)
		t.Run(fmt.Sprintf("named/%d", size), func(t *testing.T) {
			name := filepath.Join(dir, fmt.Sprintf("n%d", i))
			f, err := vfs.Default.Create(name)
			require.NoError(t, err)
			writeDirect(t, f, data, uint64(i))
			require.NoError(t, f.Close())
			got, err := vfs.ReadFile(vfs.Default, name)
			require.NoError(t, err)
			require.Equal(t, data, got)
		})
		t.Run(fmt.Sprintf("unnamed/%d", size), func(t *testing.T) {
			f, err := vfs.Default.CreateTemp(dir)
			if errors.Is(err, vfs.ErrUnsupported) {
				t.Skipf("no unnamed files here: %v", err)
			}
			require.NoError(t, err)
			writeDirect(t, f, data, uint64(i))
			name := filepath.Join(dir, fmt.Sprintf("u%d", i))
			require.NoError(t, f.Link(name))
			require.NoError(t, f.Close())
			got, err := vfs.ReadFile(vfs.Default, name)
			require.NoError(t, err)
			require.Equal(t, data, got)
		})
	}
}

// TestDirectWriterMixedReader: a reader that has the file open through the
// page cache while it is written directly sees each byte once written.
func TestDirectWriterMixedReader(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	f, err := vfs.Default.Create(name)
	require.NoError(t, err)
	defer f.Close()
	r, err := vfs.Default.Open(name)
	require.NoError(t, err)
	defer r.Close()
	w := vfs.NewDirectWriter(f)
	defer w.Release()
	data := randData(9, vfs.DirectBufSize+100)

	// Read the first page into the cache before it is written over.
	_, err = r.ReadAt(make([]byte, 10), 0)
	require.Error(t, err)
	_, err = w.Write(data[:vfs.DirectBufSize])
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("no direct I/O on this filesystem: %v", err)
	}
	require.NoError(t, err)
	got := make([]byte, vfs.DirectBufSize)
	_, err = r.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, data[:vfs.DirectBufSize], got)

	_, err = w.Write(data[vfs.DirectBufSize:])
	require.NoError(t, err)
	require.NoError(t, w.Finish())
	got = make([]byte, len(data))
	_, err = r.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
}

// TestDirectWriterCrashFS: the in-memory filesystems take direct writes as
// plain ones.
func TestDirectWriterCrashFS(t *testing.T) {
	f := crashfs.New()
	for i, size := range directSizes {
		name := fmt.Sprintf("/f%d", i)
		data := randData(uint64(i), size)
		w, err := f.Create(name)
		require.NoError(t, err)
		writeDirect(t, w, data, uint64(i))
		require.NoError(t, w.Close())
		got, err := vfs.ReadFile(f, name)
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
}
