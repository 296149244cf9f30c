package raftlog

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
)

var (
	// ErrKeyNotFound is returned by Get and GetUint64 for a key never set.
	// Its text is exactly "not found" and it is never wrapped, because
	// hashicorp/raft recognises a missing stable key by comparing
	// err.Error() with that string (as raft-boltdb's sentinel does).
	ErrKeyNotFound = errors.New("not found")
	// ErrCorrupt marks a stored record that cannot be decoded.
	ErrCorrupt = errors.New("raftlog: corrupt record")
	// ErrUnknownFormat marks a record written in a format this version
	// does not understand (for example after a downgrade).
	ErrUnknownFormat = errors.New("raftlog: unknown record format")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("raftlog: store closed")
)

// Options configures a Store. The zero value is valid.
type Options struct {
	// Logger receives Pebble's messages. Nil discards them.
	Logger *slog.Logger
	// FS is the filesystem the database lives on; nil means the operating
	// system's. Tests pass a strict in-memory one to simulate crashes.
	FS vfs.FS
}

func (o *Options) ensureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FS == nil {
		o.FS = PlainFS()
	}
}

// PlainFS is the operating system's filesystem for Pebble, named rather
// than left nil. Given nil, Pebble wraps the OS filesystem in its disk
// health checks: a ticker every 2 s per open log and manifest and one for
// the filesystem, each waking the process to look for a slow write, whose
// only report goes to an event listener that nothing here sets. On an
// idle meta voter those six tickers were three wakeups a second for
// nothing.
func PlainFS() vfs.FS { return vfs.Default }

// Store is a raft.LogStore and raft.StableStore backed by one Pebble
// database. It is safe for concurrent use.
type Store struct {
	db *pebble.DB

	// closeMu is held shared by every operation and exclusively by Close,
	// because Pebble panics when used after Close and raft's replication
	// goroutines may still race with shutdown.
	closeMu sync.RWMutex
	closed  bool

	// writeMu serialises the log mutations (StoreLogs, DeleteRange) so that
	// each one's update of the cached bounds reflects exactly the writes
	// before it. Raft appends from one goroutine but compacts from another.
	writeMu sync.Mutex

	mu struct {
		sync.Mutex
		first, last uint64 // 0 when the log is empty
	}
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.ensureDefaults()
	db, err := pebble.Open(dir, &pebble.Options{
		Logger: pebbleLogger{l: opts.Logger.With("component", "raftlog")},
		FS:     opts.FS,
	})
	if err != nil {
		return nil, fmt.Errorf("raftlog: open %s: %w", dir, err)
	}
	if err := SyncParent(opts.FS, dir); err != nil {
		return nil, errors.Join(fmt.Errorf("raftlog: open %s: %w", dir, err), db.Close())
	}
	s := &Store{db: db}
	first, last, err := s.scanBounds()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("raftlog: open %s: %w", dir, err), db.Close())
	}
	s.mu.first, s.mu.last = first, last
	return s, nil
}

// SyncParent makes dir's entry in its parent directory durable (fsys nil:
// the OS). Pebble syncs what it creates inside dir but not dir itself, so
// without this a crash soon after the first start could lose a whole
// database: here the log, entries that StoreLogs acknowledged included;
// for the FSM, which calls it too, every applied command.
func SyncParent(fsys vfs.FS, dir string) error {
	if fsys == nil {
		fsys = vfs.Default
	}
	parent := fsys.PathDir(dir)
	d, err := fsys.OpenDir(parent)
	if err != nil {
		return fmt.Errorf("sync parent directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync parent directory %s: %w", parent, err)
	}
	return d.Close()
}

// Close closes the database. Later calls return ErrClosed; Close itself is
// idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftlog: close: %w", err)
	}
	return nil
}

// acquire takes the shared close lock; the caller must call release.
func (s *Store) acquire() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) release() { s.closeMu.RUnlock() }

// scanBounds reads the first and last log index from the database.
func (s *Store) scanBounds() (first, last uint64, err error) {
	lower, upper := logKeyBounds()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return 0, 0, fmt.Errorf("scan log bounds: %w", err)
	}
	if it.First() {
		if first, err = indexFromKey(it.Key()); err == nil && it.Last() {
			last, err = indexFromKey(it.Key())
		}
	}
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("scan log bounds: %w", err)
	}
	return first, last, nil
}

// FirstIndex implements raft.LogStore.
func (s *Store) FirstIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.first, nil
}

// LastIndex implements raft.LogStore.
func (s *Store) LastIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.last, nil
}

// GetLog implements raft.LogStore. A missing index yields raft.ErrLogNotFound.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("raftlog: get log %d: %w", index, err)
	}
	err = decodeLog(v, l)
	if cerr := closer.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("raftlog: get log %d: %w", index, cerr)
	}
	if err == nil && l.Index != index {
		err = fmt.Errorf("raftlog: get log %d: record holds index %d: %w", index, l.Index, ErrCorrupt)
	}
	return err
}

// StoreLog implements raft.LogStore.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs implements raft.LogStore: all logs are written in one batch and
// synced before it returns.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	lo, hi := logs[0].Index, logs[0].Index
	for _, l := range logs {
		if err := b.Set(logKey(l.Index), encodeLog(l), nil); err != nil {
			return fmt.Errorf("raftlog: store log %d: %w", l.Index, err)
		}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: store logs %d..%d: %w", lo, hi, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.first == 0 || lo < s.mu.first {
		s.mu.first = lo
	}
	if hi > s.mu.last {
		s.mu.last = hi
	}
	return nil
}

// DeleteRange implements raft.LogStore; the range [lo, hi] is inclusive.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	start := logKey(lo)
	var end []byte
	if hi == ^uint64(0) {
		_, end = logKeyBounds()
	} else {
		end = logKey(hi + 1)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.db.DeleteRange(start, end, pebble.Sync); err != nil {
		return fmt.Errorf("raftlog: delete logs %d..%d: %w", lo, hi, err)
	}
	first, last, err := s.scanBounds()
	if err != nil {
		return fmt.Errorf("raftlog: delete logs %d..%d: %w", lo, hi, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.first, s.mu.last = first, last
	return nil
}
