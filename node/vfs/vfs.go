// Package vfs is the filesystem seam of a storage node. Everything the
// storage role does to its drives goes through FS, so that tests can swap in
// a faulty implementation (package faultfs) and exercise fsync, rename and
// full-disk failures deterministically. Default is the operating system.
//
// vfs imports nothing from Cairn; any role may import it.
package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// File is an open file. Files from Create are write-only; files from Open
// are read-only.
type File interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
}

// TempFile is an unnamed file from FS.CreateTemp.
type TempFile interface {
	File
	// Link gives the open file the name newname, in a directory on the
	// same filesystem. Unlike Rename it never replaces: it fails with
	// fs.ErrExist if newname exists. The name is durable once SyncDir of
	// its directory returns (and the file's bytes once Sync returns).
	Link(newname string) error
}

// FS is the set of filesystem operations a storage node needs.
type FS interface {
	// Create creates a new file for writing and fails if it exists, so that
	// two writers can never share a temp file.
	Create(name string) (File, error)
	// CreateTemp creates an unnamed file for writing on the filesystem of
	// dir: no directory lists it until TempFile.Link names it, and it
	// vanishes when closed (or the machine crashes) unnamed. It fails with
	// ErrUnsupported where the platform or the filesystem has no unnamed
	// files.
	CreateTemp(dir string) (TempFile, error)
	// Open opens an existing file for reading.
	Open(name string) (File, error)
	// Rename atomically replaces newname with oldname.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string) error
	// SyncDir makes the directory's entries (creates, renames) durable.
	SyncDir(dir string) error
	// SyncFS makes everything written to the filesystem holding dir
	// durable: every file's bytes and every directory's entries, as if
	// each had been synced. It fails with ErrUnsupported where the
	// platform cannot.
	SyncFS(dir string) error
	// Stat describes the named file.
	Stat(name string) (os.FileInfo, error)
	// ReadDir lists a directory, sorted by name.
	ReadDir(dir string) ([]os.DirEntry, error)
	// DiskUsage reports the size of the filesystem holding dir and the
	// bytes an unprivileged writer may still use.
	DiskUsage(dir string) (capacity, free uint64, err error)
}

// ErrUnsupported is returned by operations the platform cannot perform.
var ErrUnsupported = errors.New("vfs: unsupported on this platform")

// Default is the operating system's filesystem.
var Default FS = osFS{}

// Shards and drive directories are readable by the owner only: object data
// (and, for SSE, its ciphertext and headers) is no other local user's
// business.
const (
	filePerm = 0o600
	dirPerm  = 0o700
)

type osFS struct{}

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, filePerm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) CreateTemp(dir string) (TempFile, error) { return createTemp(dir) }

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, dirPerm) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("vfs: sync dir: %w", err)
	}
	return d.Close()
}

func (osFS) SyncFS(dir string) error { return syncFS(dir) }

func (osFS) Stat(name string) (os.FileInfo, error) { return os.Stat(name) }

func (osFS) ReadDir(dir string) ([]os.DirEntry, error) { return os.ReadDir(dir) }

func (osFS) DiskUsage(dir string) (capacity, free uint64, err error) {
	return diskUsage(dir)
}

// ReadFile reads a whole (small) file through fs.
func ReadFile(fs FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, err
	}
	return b, nil
}
