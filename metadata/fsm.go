package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/metadata/raftlog"
)

// Read-side sentinels: callers test them with errors.Is.
var (
	ErrNoSuchBucket  = errors.New("metadata: no such bucket")
	ErrNoSuchKey     = errors.New("metadata: no such key")
	ErrNoSuchVersion = errors.New("metadata: no such version")
)

// Other sentinels.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("metadata: closed")
	// ErrFailed marks the error returned once a batch could not be
	// committed; the FSM must be reopened.
	ErrFailed = errors.New("metadata: state machine failed")
	// ErrUnsupportedFormat is returned by Open and Restore for a database or
	// snapshot written in a format this build does not know.
	ErrUnsupportedFormat = errors.New("metadata: unsupported format")
	// ErrCorrupt marks stored data or a snapshot stream that does not decode.
	ErrCorrupt = errors.New("metadata: corrupt data")
)

// valueFormat is the first byte of every protobuf value stored by the FSM.
const valueFormat byte = 1

// Options configures an FSM. The zero value is valid.
type Options struct {
	// Logger receives the database's log. Nil discards it.
	Logger *slog.Logger
	// FS is the filesystem the database lives on; nil means the operating
	// system's. Tests pass a strict in-memory one to simulate crashes.
	FS vfs.FS
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// FSM is the metadata state machine. It implements raft.FSM and
// raft.BatchingFSM; its read methods are safe for concurrent use with them.
type FSM struct {
	log *slog.Logger

	// applyMu serializes the Raft-side methods; failed is only touched
	// under it.
	applyMu sync.Mutex
	failed  error

	applied atomic.Uint64
	// changes wakes bucket and user watchers (BucketChanges).
	changes changeFeed

	mu struct {
		sync.RWMutex
		db     *pebble.DB
		closed bool
	}
	snaps struct {
		sync.Mutex
		open map[*fsmSnapshot]struct{}
	}
}

// Open opens (creating if needed) the Pebble database in dir.
func Open(dir string, opts Options) (*FSM, error) {
	opts = opts.withDefaults()
	po := pebbleOptions(opts)
	db, err := pebble.Open(dir, po)
	// The database holds its own reference to the cache from Open on.
	po.Cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("metadata: open %s: %w", dir, err)
	}
	if err := raftlog.SyncParent(opts.FS, dir); err != nil {
		return nil, errors.Join(fmt.Errorf("metadata: open %s: %w", dir, err), db.Close())
	}
	f := &FSM{log: opts.Logger}
	f.mu.db = db
	f.snaps.open = make(map[*fsmSnapshot]struct{})
	if err := f.init(db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return f, nil
}

// Pebble tuning of the state machine. Every PutObject looks up keys that
// do not exist yet (the new body's commit record, the new version's
// index row, the current row of a new key); without filters each such
// miss reads an index and a data block of every L0 table and level, which
// profiles of 4 KiB PUTs showed as the largest cost of applying a batch.
// With small bodies inline the database grows by their bytes, so the
// default 8 MiB block cache holds little of it.
//
// For the same reason the memtable is larger than Pebble's 4 MiB default:
// under 4 KiB PUTs (random keys) flushing and compacting were the largest
// CPU cost of a voter, because every small flush to L0 soon merges with
// the whole overlapping base level. A 32 MiB memtable means an eighth as
// many flushes and L0 files, so each base-level rewrite absorbs eight times
// the data, and Gets of keys that do not exist visit fewer files
// (BenchmarkApplyInline4KiB: about 300 -> 210 CPU-µs per put, noisy). It
// costs up to two memtables of memory (Pebble's stop-writes threshold).
//
// Pebble counts its memtables against the block cache: each one reserves
// its size in the cache for as long as it lives. The cache is therefore
// made larger than fsmCacheBytes by the memtables' most: a cache of just
// fsmCacheBytes held no block at all once a second 32 MiB memtable
// existed, so every filter and index block of every table a Get visited
// was read from the file and checksummed again (BenchmarkApplyInline4KiB:
// a hit rate of 4 %, and Gets of absent keys were 40 % of the CPU).
//
// Tables use 32 KiB blocks instead of Pebble's 4 KiB: with 4 KiB inline
// bodies a 4 KiB block held one row, so every table had an index entry per
// row, and every block was written with a syscall of its own (a block
// larger than the table writer's 4 KiB buffer bypasses it); flushes and
// compactions spent an eighth of the CPU in write(2).
// BenchmarkApplyInline4KiB: about 150 -> 125 CPU-µs per put. 64 KiB
// measured the same; a point read of a row not in the cache decodes one
// block, so the smaller one is kept.
const (
	fsmBloomBitsPerKey  = 10 // about 1 % false positives
	fsmBlockBytes       = 32 << 10
	fsmCacheBytes       = 64 << 20
	fsmMemTableBytes    = 32 << 20
	fsmMemTableStopping = 2 // Pebble's default MemTableStopWritesThreshold
)

// pebbleOptions are the state machine's Pebble options. Filters, block
// size and cache size are not part of the persisted format: tables written
// without filters or with other blocks stay readable, and new ones get
// these.
func pebbleOptions(opts Options) *pebble.Options {
	cache := pebble.NewCache(fsmCacheBytes + fsmMemTableStopping*fsmMemTableBytes)
	fs := opts.FS
	if fs == nil {
		fs = raftlog.PlainFS() // see there: no idle disk-health tickers
	}
	o := &pebble.Options{
		Logger:                      pebbleLogger{log: opts.Logger, exit: os.Exit},
		FS:                          fs,
		Cache:                       cache,
		MemTableSize:                fsmMemTableBytes,
		MemTableStopWritesThreshold: fsmMemTableStopping,
	}
	o.Levels = make([]pebble.LevelOptions, 7)
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(fsmBloomBitsPerKey)
		o.Levels[i].FilterType = pebble.TableFilter
		o.Levels[i].BlockSize = fsmBlockBytes
	}
	return o.EnsureDefaults()
}

func (f *FSM) init(db *pebble.DB) error {
	format, found, err := getUint64(db, keys.SystemKey(keys.SysFormat))
	if err != nil {
		return fmt.Errorf("metadata: read format: %w", err)
	}
	if !found {
		empty, err := isEmpty(db)
		if err != nil {
			return fmt.Errorf("metadata: check empty: %w", err)
		}
		if !empty {
			return fmt.Errorf("%w: database has data but no format version", ErrCorrupt)
		}
		if err := db.Set(keys.SystemKey(keys.SysFormat), uint64Value(keys.FormatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("metadata: write format: %w", err)
		}
		format = keys.FormatVersion
	}
	if format != keys.FormatVersion {
		return fmt.Errorf("%w: database format %d, supported %d", ErrUnsupportedFormat, format, keys.FormatVersion)
	}
	applied, _, err := getUint64(db, keys.SystemKey(keys.SysApplied))
	if err != nil {
		return fmt.Errorf("metadata: read applied index: %w", err)
	}
	f.applied.Store(applied)
	return nil
}

// Close closes the database. Snapshots not yet released are released.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.closed {
		return ErrClosed
	}
	f.mu.closed = true
	f.snaps.Lock()
	for s := range f.snaps.open {
		s.release()
	}
	f.snaps.Unlock()
	if err := f.mu.db.Close(); err != nil {
		return fmt.Errorf("metadata: close: %w", err)
	}
	return nil
}

// AppliedIndex is the index of the last Raft entry whose effects are
// persisted.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Metrics returns the state machine database's Pebble metrics (for
// monitoring); ErrClosed once closed.
func (f *FSM) Metrics() (*pebble.Metrics, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	return db.Metrics(), nil
}

// acquire read-locks the database; release with f.mu.RUnlock.
func (f *FSM) acquire() (*pebble.DB, error) {
	f.mu.RLock()
	if f.mu.closed {
		f.mu.RUnlock()
		return nil, ErrClosed
	}
	return f.mu.db, nil
}

// reader is what Pebble's DB, Snapshot and indexed Batch have in common.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// readBucket runs fn on a consistent snapshot of the database after
// checking that bucket exists (ErrNoSuchBucket otherwise): the shape of every
// read scoped to one bucket.
func (f *FSM) readBucket(bucket string, fn func(snap reader) error) error {
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	if _, err := getBucket(snap, bucket); err != nil {
		return err
	}
	return fn(snap)
}

// getRaw returns a copy of the value at key.
func getRaw(r reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	if err := closer.Close(); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// getProto decodes the value at key into m. It decodes in place, without
// a copy: the decoded message copies what it keeps.
func getProto(r reader, key []byte, m proto.Message) (bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = decodeValue(key, v, m)
	return true, errors.Join(err, closer.Close())
}

func getUint64(r reader, key []byte) (uint64, bool, error) {
	v, found, err := getRaw(r, key)
	if err != nil || !found {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%w: key %q holds %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func uint64Value(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

var marshalOpts = proto.MarshalOptions{Deterministic: true}

func encodeValue(m proto.Message) ([]byte, error) {
	return marshalOpts.MarshalAppend([]byte{valueFormat}, m)
}

func decodeValue(key, v []byte, m proto.Message) error {
	if len(v) == 0 || v[0] != valueFormat {
		return fmt.Errorf("%w: key %q: unknown value format", ErrCorrupt, key)
	}
	if err := proto.Unmarshal(v[1:], m); err != nil {
		return fmt.Errorf("%w: key %q: %v", ErrCorrupt, key, err)
	}
	return nil
}

func isEmpty(r reader) (bool, error) {
	it, err := r.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, errors.Join(it.Error(), it.Close())
}

// pebbleLogger routes Pebble's log into slog. Pebble calls Fatalf only when
// continuing could lose acknowledged writes (a failed WAL write, a broken
// manifest) and relies on it not returning, as its default logger does; so
// after logging, this one ends the process too.
type pebbleLogger struct {
	log  *slog.Logger
	exit func(code int)
}

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	l.exit(1)
}
