// Package faultfs wraps a vfs.FS and injects failures into it, so that tests
// can drive a storage node through fsync, rename, read and full-disk errors
// deterministically: by operation, by path substring and on the n-th
// matching call.
//
// faultfs is for tests only: import it from _test.go files, never from
// production code.
package faultfs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/cairn-io/cairn/node/vfs"
)

// Op names an operation that can fail.
type Op uint8

// Operations of vfs.FS and vfs.File that rules can target.
const (
	OpCreate Op = iota + 1
	OpOpen
	OpWrite
	OpReadAt
	OpSync
	OpRename
	OpRemove
	OpMkdirAll
	OpSyncDir
	OpStat
	OpReadDir
	OpDiskUsage
	OpCreateTemp
	OpLink
	OpSyncFS
	OpSetDirect
)

var opNames = map[Op]string{
	OpCreate:     "create",
	OpOpen:       "open",
	OpWrite:      "write",
	OpReadAt:     "readat",
	OpSync:       "sync",
	OpRename:     "rename",
	OpRemove:     "remove",
	OpMkdirAll:   "mkdirall",
	OpSyncDir:    "syncdir",
	OpStat:       "stat",
	OpReadDir:    "readdir",
	OpDiskUsage:  "diskusage",
	OpCreateTemp: "createtemp",
	OpLink:       "link",
	OpSyncFS:     "syncfs",
	OpSetDirect:  "setdirect",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// ErrInjected is the error a Rule returns when it sets none of its own.
var ErrInjected = errors.New("faultfs: injected fault")

// Rule describes when to fail.
type Rule struct {
	Op Op
	// PathContains restricts the rule to paths containing it; empty matches
	// every path. For Rename both the old and the new path are tried.
	PathContains string
	// Nth fails only the n-th matching call (1-based); 0 fails every one.
	Nth int
	// Err is returned, wrapped in an *os.PathError; nil means ErrInjected.
	Err error
}

type ruleState struct {
	Rule
	seen int
}

// FS is a vfs.FS that fails on demand. It is safe for concurrent use.
type FS struct {
	inner vfs.FS

	mu struct {
		sync.Mutex
		rules []*ruleState
		full  bool
		calls map[Op]int
	}
}

var _ vfs.FS = (*FS)(nil)

// New wraps inner.
func New(inner vfs.FS) *FS {
	f := &FS{inner: inner}
	f.mu.calls = make(map[Op]int)
	return f
}

// Inject adds a rule. Rules are checked in the order they were added.
func (f *FS) Inject(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.rules = append(f.mu.rules, &ruleState{Rule: r})
}

// Clear removes every rule and ends a simulated full disk.
func (f *FS) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.rules = nil
	f.mu.full = false
}

// SetFull simulates a full disk: every write fails with ENOSPC and DiskUsage
// reports no free space.
func (f *FS) SetFull(full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.full = full
}

// Calls reports how many times op was attempted, failed or not.
func (f *FS) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.calls[op]
}

// check counts the call and returns the injected error, if any.
func (f *FS) check(op Op, paths ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.calls[op]++
	if op == OpWrite && f.mu.full {
		return &os.PathError{Op: op.String(), Path: paths[0], Err: syscall.ENOSPC}
	}
	for _, r := range f.mu.rules {
		if r.Op != op || !matches(r.PathContains, paths) {
			continue
		}
		r.seen++
		if r.Nth != 0 && r.seen != r.Nth {
			continue
		}
		err := r.Err
		if err == nil {
			err = ErrInjected
		}
		return &os.PathError{Op: op.String(), Path: paths[0], Err: err}
	}
	return nil
}

func matches(sub string, paths []string) bool {
	if sub == "" {
		return true
	}
	for _, p := range paths {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

func (f *FS) isFull() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.full
}

// Create implements vfs.FS.
func (f *FS) Create(name string) (vfs.File, error) {
	if err := f.check(OpCreate, name); err != nil {
		return nil, err
	}
	file, err := f.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// CreateTemp implements vfs.FS; rules match dir.
func (f *FS) CreateTemp(dir string) (vfs.TempFile, error) {
	if err := f.check(OpCreateTemp, dir); err != nil {
		return nil, err
	}
	file, err := f.inner.CreateTemp(dir)
	if err != nil {
		return nil, err
	}
	return &faultTemp{faultFile: faultFile{File: file, fs: f, name: dir}, link: file.Link}, nil
}

// Open implements vfs.FS.
func (f *FS) Open(name string) (vfs.File, error) {
	if err := f.check(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// Rename implements vfs.FS.
func (f *FS) Rename(oldname, newname string) error {
	if err := f.check(OpRename, oldname, newname); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

// Remove implements vfs.FS.
func (f *FS) Remove(name string) error {
	if err := f.check(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

// MkdirAll implements vfs.FS.
func (f *FS) MkdirAll(dir string) error {
	if err := f.check(OpMkdirAll, dir); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir)
}

// SyncDir implements vfs.FS.
func (f *FS) SyncDir(dir string) error {
	if err := f.check(OpSyncDir, dir); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

// SyncFS implements vfs.FS.
func (f *FS) SyncFS(dir string) error {
	if err := f.check(OpSyncFS, dir); err != nil {
		return err
	}
	return f.inner.SyncFS(dir)
}

// Stat implements vfs.FS.
func (f *FS) Stat(name string) (os.FileInfo, error) {
	if err := f.check(OpStat, name); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

// ReadDir implements vfs.FS.
func (f *FS) ReadDir(dir string) ([]os.DirEntry, error) {
	if err := f.check(OpReadDir, dir); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

// DiskUsage implements vfs.FS.
func (f *FS) DiskUsage(dir string) (capacity, free uint64, err error) {
	if err := f.check(OpDiskUsage, dir); err != nil {
		return 0, 0, err
	}
	capacity, free, err = f.inner.DiskUsage(dir)
	if err == nil && f.isFull() {
		free = 0
	}
	return capacity, free, err
}

type faultFile struct {
	vfs.File
	fs   *FS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.check(OpWrite, f.name); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(OpReadAt, f.name); err != nil {
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(OpSync, f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

// SetDirect fails by rules on OpSetDirect, as a filesystem without direct
// I/O does (EINVAL).
func (f *faultFile) SetDirect(on bool) error {
	if err := f.fs.check(OpSetDirect, f.name); err != nil {
		return err
	}
	return vfs.SetDirect(f.File, on)
}

type faultTemp struct {
	faultFile
	link func(string) error
}

// Link fails by rules on OpLink that match newname.
func (f *faultTemp) Link(newname string) error {
	if err := f.fs.check(OpLink, newname); err != nil {
		return err
	}
	return f.link(newname)
}
