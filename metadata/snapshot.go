package metadata

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/metadata/keys"
)

// Snapshot stream format, version 1:
//
//	magic "CAIRNFSM" | uint32 BE version
//	records: uvarint len(key) | key | uvarint len(value) | value   (keys are never empty)
//	end:     uvarint 0
//	trailer: uint64 BE record count | uint32 BE CRC-32C of every byte before it
//
// The stream is the whole database, system keys included, so a restored FSM
// carries the applied index and format version of the snapshot.
const (
	snapMagic   = "CAIRNFSM"
	snapVersion = uint32(1)
	// maxSnapField bounds one key or value so that a corrupt length cannot
	// make Restore allocate without limit.
	maxSnapField = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot captures a consistent view of the database. It is cheap: the
// data is streamed later by Persist, concurrently with further applies.
//
// It first makes every applied batch durable. Applies are not synced
// (applyWriteOptions): Raft replays the log above the last snapshot after
// a restart, and compacts the log up to the snapshot's index once the
// snapshot is persisted, so the state up to that index must be on disk
// before then. Raft calls Snapshot between applies, so AppliedIndex is the
// snapshot's index here.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	if err := f.syncApplied(db); err != nil {
		return nil, err
	}
	s := &fsmSnapshot{f: f, snap: db.NewSnapshot()}
	f.snaps.Lock()
	f.snaps.open[s] = struct{}{}
	f.snaps.Unlock()
	return s, nil
}

// syncApplied makes every batch applied so far durable: a synced write
// syncs Pebble's WAL, which holds the earlier unsynced batches before it
// (Pebble syncs a WAL it rotates away from when closing it). It rewrites
// the applied index with its own value. Call with applyMu held.
func (f *FSM) syncApplied(db *pebble.DB) error {
	if f.failed != nil {
		return f.failed
	}
	if err := db.Set(keys.SystemKey(keys.SysApplied), uint64Value(f.applied.Load()), pebble.Sync); err != nil {
		return fmt.Errorf("metadata: sync applied state: %w", err)
	}
	return nil
}

type fsmSnapshot struct {
	f    *FSM
	snap *pebble.Snapshot
	once sync.Once
}

// Persist writes the snapshot stream to sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.f.acquire(); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	defer s.f.mu.RUnlock()
	if err := writeSnapshot(s.snap, sink); err != nil {
		return errors.Join(fmt.Errorf("metadata: persist snapshot: %w", err), sink.Cancel())
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("metadata: close snapshot sink: %w", err)
	}
	return nil
}

// Release frees the Pebble snapshot.
func (s *fsmSnapshot) Release() {
	s.f.snaps.Lock()
	defer s.f.snaps.Unlock()
	s.release()
}

// release must be called with f.snaps held.
func (s *fsmSnapshot) release() {
	s.once.Do(func() {
		delete(s.f.snaps.open, s)
		if err := s.snap.Close(); err != nil {
			s.f.log.Warn("release snapshot", "err", err)
		}
	})
}

func writeSnapshot(r reader, w io.Writer) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	hdr := binary.BigEndian.AppendUint32([]byte(snapMagic), snapVersion)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	it, err := r.NewIter(nil)
	if err != nil {
		return err
	}
	var count uint64
	var buf []byte
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(it.Key())))
		buf = append(buf, it.Key()...)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
		if _, err := bw.Write(buf); err != nil {
			return errors.Join(err, it.Close())
		}
		count++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if _, err := bw.Write(binary.AppendUvarint(nil, 0)); err != nil {
		return err
	}
	if _, err := bw.Write(binary.BigEndian.AppendUint64(nil, count)); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// Restore replaces the whole state with a snapshot stream. The stream is
// verified completely before anything is written, and the replacement is
// one atomic batch, so a failed Restore leaves the old state intact. The
// batch holds the whole snapshot in memory.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer f.mu.RUnlock()

	b := db.NewBatch()
	defer b.Close()
	// Table bytes are ASCII, so [0x00, 0xFF) covers every key.
	if err := b.DeleteRange([]byte{0x00}, []byte{0xFF}, nil); err != nil {
		return fmt.Errorf("metadata: restore: %w", err)
	}
	applied, err := readSnapshot(bufio.NewReaderSize(rc, 1<<16), b)
	if err != nil {
		return fmt.Errorf("metadata: restore: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("metadata: restore: commit: %w", err)
	}
	f.applied.Store(applied)
	f.failed = nil
	// A restored snapshot may change anything.
	f.changes.noteChange(applied)
	return nil
}

// crcReader hashes every byte read through it.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc.Write([]byte{b})
	}
	return b, err
}

// readSnapshot verifies a stream into b and returns its applied index.
func readSnapshot(r *bufio.Reader, b *pebble.Batch) (uint64, error) {
	cr := &crcReader{r: r, crc: crc32.New(castagnoli)}
	hdr := make([]byte, len(snapMagic)+4)
	if _, err := io.ReadFull(cr, hdr); err != nil {
		return 0, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if string(hdr[:len(snapMagic)]) != snapMagic {
		return 0, fmt.Errorf("%w: not a metadata snapshot", ErrCorrupt)
	}
	if v := binary.BigEndian.Uint32(hdr[len(snapMagic):]); v != snapVersion {
		return 0, fmt.Errorf("%w: snapshot version %d", ErrUnsupportedFormat, v)
	}
	var count, applied uint64
	formatOK := false
	for {
		key, err := readField(cr)
		if err != nil {
			return 0, err
		}
		if len(key) == 0 {
			break
		}
		val, err := readField(cr)
		if err != nil {
			return 0, err
		}
		switch {
		case bytes.Equal(key, keys.SystemKey(keys.SysFormat)):
			if len(val) != 8 || binary.BigEndian.Uint64(val) != keys.FormatVersion {
				return 0, fmt.Errorf("%w: snapshot data format %x", ErrUnsupportedFormat, val)
			}
			formatOK = true
		case bytes.Equal(key, keys.SystemKey(keys.SysApplied)):
			if len(val) != 8 {
				return 0, fmt.Errorf("%w: applied index is %d bytes", ErrCorrupt, len(val))
			}
			applied = binary.BigEndian.Uint64(val)
		}
		if err := b.Set(key, val, nil); err != nil {
			return 0, err
		}
		count++
	}
	trailer := make([]byte, 8)
	if _, err := io.ReadFull(cr, trailer); err != nil {
		return 0, fmt.Errorf("%w: trailer: %v", ErrCorrupt, err)
	}
	sum := cr.crc.Sum32()
	crcBytes := make([]byte, 4)
	if _, err := io.ReadFull(r, crcBytes); err != nil {
		return 0, fmt.Errorf("%w: checksum: %v", ErrCorrupt, err)
	}
	if got := binary.BigEndian.Uint64(trailer); got != count {
		return 0, fmt.Errorf("%w: %d records, trailer says %d", ErrCorrupt, count, got)
	}
	if got := binary.BigEndian.Uint32(crcBytes); got != sum {
		return 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return 0, fmt.Errorf("%w: trailing data", ErrCorrupt)
	}
	if !formatOK {
		return 0, fmt.Errorf("%w: snapshot lacks a format version", ErrCorrupt)
	}
	return applied, nil
}

func readField(r *crcReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("%w: length: %v", ErrCorrupt, err)
	}
	if n > maxSnapField {
		return nil, fmt.Errorf("%w: field of %d bytes", ErrCorrupt, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: field: %v", ErrCorrupt, err)
	}
	return buf, nil
}

// BackupSnapshot is a consistent view of the whole state for a backup,
// taken between two applied batches: its stream (the format Restore reads)
// is written later, concurrently with further applies.
type BackupSnapshot struct {
	f       *FSM
	s       *fsmSnapshot
	applied uint64
}

// NewBackup takes a BackupSnapshot; Close releases it.
func (f *FSM) NewBackup() (*BackupSnapshot, error) {
	s, err := f.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("metadata: backup: %w", err)
	}
	fs := s.(*fsmSnapshot)
	applied, _, err := getUint64(fs.snap, keys.SystemKey(keys.SysApplied))
	if err != nil {
		fs.Release()
		return nil, fmt.Errorf("metadata: backup: read applied index: %w", err)
	}
	return &BackupSnapshot{f: f, s: fs, applied: applied}, nil
}

// Index is the last Raft index the snapshot reflects.
func (b *BackupSnapshot) Index() uint64 { return b.applied }

// Write writes the snapshot stream to w.
func (b *BackupSnapshot) Write(w io.Writer) error {
	if _, err := b.f.acquire(); err != nil {
		return err
	}
	defer b.f.mu.RUnlock()
	if err := writeSnapshot(b.s.snap, w); err != nil {
		return fmt.Errorf("metadata: backup: %w", err)
	}
	return nil
}

// Close releases the snapshot.
func (b *BackupSnapshot) Close() { b.s.Release() }
