// Package crashfs is an in-memory vfs.FS that knows what a power cut may
// keep, so that tests can crash a storage node after any write, fsync or
// rename and check what it finds when it starts again.
//
// It tracks durability as POSIX promises it, no more: a file's bytes are
// durable once File.Sync returns; a directory entry (a create, rename,
// remove or mkdir) is durable once SyncDir of its directory returns;
// SyncFS makes everything durable at once. Crash returns a new FS holding
// one state a crash could leave: every durable byte and entry, and, chosen from a seed, some of what was not yet
// durable: a file's unsynced bytes dropped, kept, cut to a prefix or kept
// in length but zeroed (the size reached the disk, the data did not); each
// unsynced directory entry in its old or its new state, independently of
// the others (so a rename may also leave both names or neither, which is
// more than most filesystems allow and never less).
//
// An unnamed file from CreateTemp is in no directory, so a crash loses it
// whole; TempFile.Link adds an entry like a create does, durable once
// SyncDir of its directory returns.
//
// StopAfter cuts the power at a chosen point: once n mutating operations
// (Create, CreateTemp, Write, Sync, Link, Rename, Remove, MkdirAll,
// SyncDir, SyncFS) have been
// attempted, every later call fails with ErrStopped, as if the machine had
// died; Crash then gives what the disk held.
//
// crashfs is for tests only: import it from _test.go files, never from
// production code.
package crashfs

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/node/vfs"
)

// ErrStopped is returned by every call after the power cut of StopAfter.
var ErrStopped = errors.New("crashfs: power cut")

// Seeds with a fixed meaning for Crash; every other seed chooses at random.
const (
	// SeedDurable keeps only what was durable: every unsynced byte and
	// entry is lost.
	SeedDurable uint64 = 0
	// SeedEverything keeps every change, as if the page cache had reached
	// the disk just before the cut.
	SeedEverything uint64 = 1
)

// diskSize is what DiskUsage reports as the size of the filesystem.
const diskSize = 1 << 40

// inode is a file's contents; directory entries point at it.
type inode struct {
	data    []byte
	synced  int // len(data) when last synced; files only grow
	modTime time.Time
}

// dir is a directory: its entries now and as last made durable.
type dir struct {
	entries map[string]any // *inode or *dir
	durable map[string]any
	modTime time.Time
}

func newDir(now time.Time) *dir {
	return &dir{entries: make(map[string]any), durable: make(map[string]any), modTime: now}
}

// Op names a mutating operation, for Ops and Log.
type Op string

// The mutating operations StopAfter counts.
const (
	OpCreate  Op = "create"
	OpTemp    Op = "createtemp"
	OpLink    Op = "link"
	OpWrite   Op = "write"
	OpSync    Op = "sync"
	OpRename  Op = "rename"
	OpRemove  Op = "remove"
	OpMkdir   Op = "mkdirall"
	OpSyncDir Op = "syncdir"
	OpSyncFS  Op = "syncfs"
)

// FS is the in-memory filesystem. It is safe for concurrent use.
type FS struct {
	mu struct {
		sync.Mutex
		root *dir
		ops  int
		// stopAfter is the number of mutating operations allowed; -1
		// means no limit.
		stopAfter int
		log       []string
	}
}

var _ vfs.FS = (*FS)(nil)

// New returns an empty filesystem whose root directory exists and is
// durable.
func New() *FS {
	f := &FS{}
	f.mu.root = newDir(time.Now())
	f.mu.stopAfter = -1
	return f
}

// StopAfter cuts the power once n more mutating operations have been
// attempted: the n-th still runs, every call after it fails. A negative n
// removes the limit.
func (f *FS) StopAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n < 0 {
		f.mu.stopAfter = -1
		return
	}
	f.mu.stopAfter = f.mu.ops + n
}

// Ops reports how many mutating operations have been attempted.
func (f *FS) Ops() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.ops
}

// Stopped reports whether the power has been cut.
func (f *FS) Stopped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stoppedLocked()
}

// Log returns the mutating operations attempted so far, one "op path" per
// call, so that a failing test can say where it crashed.
func (f *FS) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mu.log)
}

func (f *FS) stoppedLocked() bool {
	return f.mu.stopAfter >= 0 && f.mu.ops >= f.mu.stopAfter
}

// begin checks the power and, for a mutating op, counts it. The caller
// holds f.mu.
func (f *FS) begin(op Op, path string) error {
	if f.stoppedLocked() {
		return &os.PathError{Op: string(op), Path: path, Err: ErrStopped}
	}
	f.mu.ops++
	f.mu.log = append(f.mu.log, string(op)+" "+path)
	return nil
}

// alive fails once the power has been cut. The caller holds f.mu.
func (f *FS) alive(op, path string) error {
	if f.stoppedLocked() {
		return &os.PathError{Op: op, Path: path, Err: ErrStopped}
	}
	return nil
}

// split cleans name into its components; the root has none.
func split(name string) []string {
	c := filepath.ToSlash(filepath.Clean("/" + name))
	if c == "/" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(c, "/"), "/")
}

// lookupDir finds the directory named by parts. The caller holds f.mu.
func (f *FS) lookupDir(parts []string) (*dir, error) {
	d := f.mu.root
	for _, p := range parts {
		next, ok := d.entries[p].(*dir)
		if !ok {
			if _, isFile := d.entries[p]; isFile {
				return nil, syscall.ENOTDIR
			}
			return nil, fs.ErrNotExist
		}
		d = next
	}
	return d, nil
}

// parent finds the directory holding name and name's last component.
func (f *FS) parent(name string) (*dir, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", fs.ErrInvalid
	}
	d, err := f.lookupDir(parts[:len(parts)-1])
	return d, parts[len(parts)-1], err
}

// Create implements vfs.FS.
func (f *FS) Create(name string) (vfs.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpCreate, name); err != nil {
		return nil, err
	}
	d, base, err := f.parent(name)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: name, Err: err}
	}
	if _, ok := d.entries[base]; ok {
		return nil, &os.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	}
	now := time.Now()
	n := &inode{modTime: now}
	d.entries[base] = n
	d.modTime = now
	return &file{fs: f, n: n, name: name, write: true}, nil
}

// CreateTemp implements vfs.FS: the file is in no directory until Link.
func (f *FS) CreateTemp(name string) (vfs.TempFile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpTemp, name); err != nil {
		return nil, err
	}
	if _, err := f.lookupDir(split(name)); err != nil {
		return nil, &os.PathError{Op: "createtemp", Path: name, Err: err}
	}
	n := &inode{modTime: time.Now()}
	return &file{fs: f, n: n, name: name, write: true}, nil
}

// Open implements vfs.FS.
func (f *FS) Open(name string) (vfs.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("open", name); err != nil {
		return nil, err
	}
	d, base, err := f.parent(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	switch e := d.entries[base].(type) {
	case *inode:
		return &file{fs: f, n: e, name: name}, nil
	case *dir:
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Rename implements vfs.FS: newname, if it exists, is replaced in one step.
func (f *FS) Rename(oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRename, oldname+" -> "+newname); err != nil {
		return err
	}
	od, obase, err := f.parent(oldname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	e, ok := od.entries[obase]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	nd, nbase, err := f.parent(newname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if od == nd && obase == nbase {
		return nil
	}
	if target, ok := nd.entries[nbase]; ok {
		td, tIsDir := target.(*dir)
		_, eIsDir := e.(*dir)
		switch {
		case tIsDir != eIsDir:
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EISDIR}
		case tIsDir && len(td.entries) > 0:
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.ENOTEMPTY}
		}
	}
	delete(od.entries, obase)
	nd.entries[nbase] = e
	now := time.Now()
	od.modTime, nd.modTime = now, now
	return nil
}

// Remove implements vfs.FS.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpRemove, name); err != nil {
		return err
	}
	d, base, err := f.parent(name)
	if err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	e, ok := d.entries[base]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if sub, isDir := e.(*dir); isDir && len(sub.entries) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
	}
	delete(d.entries, base)
	d.modTime = time.Now()
	return nil
}

// MkdirAll implements vfs.FS.
func (f *FS) MkdirAll(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpMkdir, name); err != nil {
		return err
	}
	d := f.mu.root
	for _, p := range split(name) {
		switch e := d.entries[p].(type) {
		case *dir:
			d = e
		case *inode:
			return &os.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
		default:
			now := time.Now()
			sub := newDir(now)
			d.entries[p] = sub
			d.modTime = now
			d = sub
		}
	}
	return nil
}

// SyncDir implements vfs.FS: the directory's entries become durable.
func (f *FS) SyncDir(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpSyncDir, name); err != nil {
		return err
	}
	d, err := f.lookupDir(split(name))
	if err != nil {
		return &os.PathError{Op: "syncdir", Path: name, Err: err}
	}
	d.durable = maps.Clone(d.entries)
	return nil
}

// SyncFS implements vfs.FS: every directory's entries and every named
// file's bytes become durable, as syncfs(2) makes them. (An unnamed file is
// lost in a crash whatever its bytes, so it needs nothing.)
func (f *FS) SyncFS(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpSyncFS, name); err != nil {
		return err
	}
	if _, err := f.lookupDir(split(name)); err != nil {
		return &os.PathError{Op: "syncfs", Path: name, Err: err}
	}
	var walk func(d *dir)
	walk = func(d *dir) {
		d.durable = maps.Clone(d.entries)
		for _, e := range d.entries {
			switch e := e.(type) {
			case *inode:
				e.synced = len(e.data)
			case *dir:
				walk(e)
			}
		}
	}
	walk(f.mu.root)
	return nil
}

// Stat implements vfs.FS.
func (f *FS) Stat(name string) (os.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("stat", name); err != nil {
		return nil, err
	}
	parts := split(name)
	if len(parts) == 0 {
		return info(f.mu.root, "/"), nil
	}
	d, err := f.lookupDir(parts[:len(parts)-1])
	if err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	e, ok := d.entries[parts[len(parts)-1]]
	if !ok {
		return nil, &os.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return info(e, parts[len(parts)-1]), nil
}

// ReadDir implements vfs.FS.
func (f *FS) ReadDir(name string) ([]os.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("readdir", name); err != nil {
		return nil, err
	}
	d, err := f.lookupDir(split(name))
	if err != nil {
		return nil, &os.PathError{Op: "readdir", Path: name, Err: err}
	}
	names := make([]string, 0, len(d.entries))
	for k := range d.entries {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]os.DirEntry, len(names))
	for i, k := range names {
		out[i] = fs.FileInfoToDirEntry(info(d.entries[k], k))
	}
	return out, nil
}

// DiskUsage implements vfs.FS: a large disk less the bytes of every file.
func (f *FS) DiskUsage(name string) (capacity, free uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("diskusage", name); err != nil {
		return 0, 0, err
	}
	used := uint64(0)
	seen := make(map[any]bool)
	var walk func(d *dir)
	walk = func(d *dir) {
		for _, e := range d.entries {
			if seen[e] {
				continue
			}
			seen[e] = true
			switch e := e.(type) {
			case *inode:
				used += uint64(len(e.data))
			case *dir:
				walk(e)
			}
		}
	}
	walk(f.mu.root)
	return diskSize, diskSize - min(used, diskSize), nil
}

// Crash returns a new FS holding a state a crash could leave in f now: the
// durable state plus, chosen from seed, some of the rest (see the package
// doc; SeedDurable and SeedEverything are the two extremes). f itself is
// unchanged, so a test can crash the same moment with several seeds. The
// new FS has no power cut pending and everything in it is durable.
func (f *FS) Crash(seed uint64) *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &crasher{
		seed:   seed,
		rng:    rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909)),
		inodes: make(map[*inode]*inode),
		dirs:   make(map[*dir]*dir),
	}
	out := New()
	out.mu.root = c.dir(f.mu.root)
	return out
}

type crasher struct {
	seed   uint64
	rng    *rand.Rand
	inodes map[*inode]*inode
	dirs   map[*dir]*dir
}

// keepNew decides whether an undurable change survives.
func (c *crasher) keepNew() bool {
	switch c.seed {
	case SeedDurable:
		return false
	case SeedEverything:
		return true
	}
	return c.rng.IntN(2) == 1
}

func (c *crasher) dir(d *dir) *dir {
	if out, ok := c.dirs[d]; ok {
		return out
	}
	out := newDir(d.modTime)
	c.dirs[d] = out
	names := make([]string, 0, len(d.entries)+len(d.durable))
	for k := range d.entries {
		names = append(names, k)
	}
	for k := range d.durable {
		if _, ok := d.entries[k]; !ok {
			names = append(names, k)
		}
	}
	// Sorted, so that a seed always makes the same choices.
	slices.Sort(names)
	for _, k := range names {
		cur, hasCur := d.entries[k]
		old, hasOld := d.durable[k]
		e, has := cur, hasCur
		if !hasCur || !hasOld || cur != old {
			if !c.keepNew() {
				e, has = old, hasOld
			}
		}
		if !has {
			continue
		}
		switch e := e.(type) {
		case *inode:
			out.entries[k] = c.inode(e)
		case *dir:
			out.entries[k] = c.dir(e)
		}
	}
	out.durable = maps.Clone(out.entries)
	return out
}

// Outcomes for a file's unsynced bytes.
const (
	dropTail = iota
	keepTail
	cutTail
	zeroTail
	tailOutcomes
)

func (c *crasher) inode(n *inode) *inode {
	if out, ok := c.inodes[n]; ok {
		return out
	}
	outcome := keepTail
	if n.synced < len(n.data) {
		switch c.seed {
		case SeedDurable:
			outcome = dropTail
		case SeedEverything:
			outcome = keepTail
		default:
			outcome = c.rng.IntN(tailOutcomes)
		}
	}
	var data []byte
	switch outcome {
	case dropTail:
		data = slices.Clone(n.data[:n.synced])
	case keepTail:
		data = slices.Clone(n.data)
	case cutTail:
		data = slices.Clone(n.data[:n.synced+c.rng.IntN(len(n.data)-n.synced)])
	case zeroTail:
		data = slices.Clone(n.data)
		clear(data[n.synced:])
	}
	out := &inode{data: data, synced: len(data), modTime: n.modTime}
	c.inodes[n] = out
	return out
}

// file is an open file: write-only from Create, read-only from Open.
type file struct {
	fs     *FS
	n      *inode
	name   string
	write  bool
	closed bool
}

func (fl *file) Write(p []byte) (int, error) {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpWrite, fl.name); err != nil {
		return 0, err
	}
	switch {
	case fl.closed:
		return 0, &os.PathError{Op: "write", Path: fl.name, Err: os.ErrClosed}
	case !fl.write:
		return 0, &os.PathError{Op: "write", Path: fl.name, Err: syscall.EBADF}
	}
	fl.n.data = append(fl.n.data, p...)
	fl.n.modTime = time.Now()
	return len(p), nil
}

func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("read", fl.name); err != nil {
		return 0, err
	}
	switch {
	case fl.closed:
		return 0, &os.PathError{Op: "read", Path: fl.name, Err: os.ErrClosed}
	case fl.write:
		return 0, &os.PathError{Op: "read", Path: fl.name, Err: syscall.EBADF}
	case off < 0:
		return 0, &os.PathError{Op: "read", Path: fl.name, Err: fs.ErrInvalid}
	case off >= int64(len(fl.n.data)):
		return 0, io.EOF
	}
	n := copy(p, fl.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (fl *file) Sync() error {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpSync, fl.name); err != nil {
		return err
	}
	if fl.closed {
		return &os.PathError{Op: "sync", Path: fl.name, Err: os.ErrClosed}
	}
	fl.n.synced = len(fl.n.data)
	return nil
}

// Link implements vfs.TempFile: it names the open file newname, which
// must not exist. Any open file may be linked; the storage node links only
// files from CreateTemp.
func (fl *file) Link(newname string) error {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(OpLink, newname); err != nil {
		return err
	}
	if fl.closed {
		return &os.LinkError{Op: "link", Old: fl.name, New: newname, Err: os.ErrClosed}
	}
	d, base, err := f.parent(newname)
	if err != nil {
		return &os.LinkError{Op: "link", Old: fl.name, New: newname, Err: err}
	}
	if _, ok := d.entries[base]; ok {
		return &os.LinkError{Op: "link", Old: fl.name, New: newname, Err: fs.ErrExist}
	}
	d.entries[base] = fl.n
	d.modTime = time.Now()
	return nil
}

// SetDirect implements direct I/O as plain writes: what reaches the disk
// when is the same as for buffered writes (a direct write is durable only
// once Sync returns, as the file's size is).
func (fl *file) SetDirect(bool) error {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("setdirect", fl.name); err != nil {
		return err
	}
	if fl.closed {
		return &os.PathError{Op: "setdirect", Path: fl.name, Err: os.ErrClosed}
	}
	return nil
}

// Close never fails for the power: closing a file writes nothing.
func (fl *file) Close() error {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl.closed {
		return &os.PathError{Op: "close", Path: fl.name, Err: os.ErrClosed}
	}
	fl.closed = true
	return nil
}

func (fl *file) Stat() (os.FileInfo, error) {
	f := fl.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.alive("stat", fl.name); err != nil {
		return nil, err
	}
	return info(fl.n, filepath.Base(fl.name)), nil
}

// fileInfo is a snapshot of an entry for Stat and ReadDir.
type fileInfo struct {
	name    string
	size    int64
	isDir   bool
	modTime time.Time
}

func info(e any, name string) fileInfo {
	switch e := e.(type) {
	case *inode:
		return fileInfo{name: name, size: int64(len(e.data)), modTime: e.modTime}
	case *dir:
		return fileInfo{name: name, isDir: true, modTime: e.modTime}
	}
	return fileInfo{name: name}
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) ModTime() time.Time { return i.modTime }
func (i fileInfo) IsDir() bool        { return i.isDir }
func (i fileInfo) Sys() any           { return nil }

func (i fileInfo) Mode() fs.FileMode {
	if i.isDir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
