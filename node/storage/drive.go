package storage

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc/mem"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/node/vfs"
)

const (
	shardsDir = "shards"
	tmpDir    = "tmp"

	maxShardIDLen = 200
	maxBlockSize  = 16 << 20
	// writeBufSize batches small bitrot blocks into fewer write calls.
	writeBufSize = 256 << 10
	// directMinBlock is the smallest block size whose shards are written
	// with direct I/O (see drive.direct).
	directMinBlock = 64 << 10
)

// drive is one directory tree holding shards.
type drive struct {
	id        string
	clusterID string
	root      string
	fs        vfs.FS

	// health is the drive's fault state (health.go).
	health health

	// unnamed says the filesystem has unnamed temp files (vfs.CreateTemp):
	// a shard is then written as an unnamed inode in its own fan-out
	// directory and linked into place, instead of a named temp file in
	// tmp/ renamed into place. Set once at open.
	unnamed bool
	// direct says shards of large blocks are written with direct I/O
	// (vfs.DirectWriter): their bytes go from an aligned staging buffer to
	// the disk, where a buffered write spent more CPU copying them into the
	// page cache (and writing those pages back at fsync) than on anything
	// else of the shard. Measured with BenchmarkShardBytes (16 writers,
	// ext4): a few percent less CPU per 256 KiB shard, about a tenth less
	// per 1 MiB shard; but each direct write waits for the device, so one
	// drive completed fewer shards a second. Set once at open, when the
	// filesystem takes direct writes; cleared by Config.NoDirectIO.
	direct bool

	mu struct {
		sync.Mutex
		// durableTop holds the top-level fan-out directories (shards/<aa>)
		// whose entries in shards/ are known to be on disk.
		durableTop [256]bool
		// durableDirs holds the fan-out directories (shards/<aa>/<bb>)
		// whose entries in shards/<aa> are known to be on disk.
		durableDirs map[uint16]bool
	}
	// names serializes a shard's rename into place with a conditional
	// delete, so that the delete's look at the file's age and its removal
	// see the same file. A leaf lock, held only around those calls.
	names sync.Mutex
}

// openDrive opens the drive at root, which must carry the identity in opts
// (or, with opts.Create, may be given it). Nothing is created in a
// directory that is not this node's drive: a mount point whose disk failed
// to mount stays empty, and the node refuses to start.
func openDrive(fsys vfs.FS, root string, opts FormatOptions, log *slog.Logger) (*drive, error) {
	d := &drive{root: root, fs: fsys}
	d.mu.durableDirs = make(map[uint16]bool)
	if opts.Create {
		if err := fsys.MkdirAll(root); err != nil {
			return nil, fmt.Errorf("storage: open drive %s: %w", root, err)
		}
	}
	f, err := d.ensureFormat(opts, log)
	if err != nil {
		return nil, fmt.Errorf("storage: open drive %s: %w", root, err)
	}
	d.id, d.clusterID = f.DriveID, f.ClusterID
	for _, dir := range []string{d.path(shardsDir), d.path(tmpDir)} {
		if err := fsys.MkdirAll(dir); err != nil {
			return nil, fmt.Errorf("storage: open drive %s: %w", root, err)
		}
	}
	if err := fsys.SyncDir(root); err != nil {
		return nil, fmt.Errorf("storage: open drive %s: %w", root, err)
	}
	if err := d.removeTemps(log); err != nil {
		return nil, fmt.Errorf("storage: open drive %s: %w", root, err)
	}
	d.prepareFanout(log)
	d.unnamed = d.probeUnnamed(log)
	d.direct = d.probeDirect(log)
	return d, nil
}

// probeDirect reports whether the drive's filesystem takes direct writes:
// some refuse O_DIRECT when it is set, others (EINVAL) at the first write.
func (d *drive) probeDirect(log *slog.Logger) bool {
	fallback := func(err error) bool {
		log.Info("drive has no direct I/O; shards are written through the page cache", "drive_id", d.id, "err", err)
		return false
	}
	id, err := newID()
	if err != nil {
		return fallback(err)
	}
	name := d.path(tmpDir, "probe-"+id)
	f, err := d.fs.Create(name)
	if err != nil {
		return fallback(err)
	}
	defer func() {
		_ = f.Close()
		_ = d.fs.Remove(name)
	}()
	if err := vfs.SetDirect(f, true); err != nil {
		return fallback(err)
	}
	if _, err := f.Write(vfs.AlignedBuffer(vfs.DirectAlign)); err != nil {
		return fallback(err)
	}
	return true
}

// prepareFanout learns which fan-out directories are durable, so that the
// first shard a directory takes after the open syncs as little as it
// must: on a new drive almost every shard lands in a directory not used
// before, and syncing two directories for it cost more CPU than writing
// its bytes.
//
// One syncfs makes everything the drive holds durable, so every fan-out
// directory that exists after it is (at most 257 directory reads, instead
// of two directory syncs per directory on first use). The 256 top-level
// directories are created here when missing (a new drive, or one from
// before they were made at open) and shards/ synced once, so that a new
// leaf needs only its parent synced. Nothing here is required: on any
// failure (a full disk cannot make directories, a filesystem may lack
// syncfs) less is known durable and ensureDir syncs what it must.
func (d *drive) prepareFanout(log *slog.Logger) {
	shards := d.path(shardsDir)
	synced := true
	if err := d.fs.SyncFS(d.root); err != nil {
		log.Info("drive: syncfs failed; fan-out directories are synced on first use", "drive_id", d.id, "err", err)
		synced = false
	}
	top, err := d.fs.ReadDir(shards)
	if err != nil {
		log.Warn("drive: list fan-out directories", "drive_id", d.id, "err", err)
		return
	}
	var present [256]bool
	for _, e := range top {
		if b, ok := fanoutByte(e); ok {
			present[b] = true
		}
	}
	made := false
	for b := range 256 {
		if present[b] {
			continue
		}
		if err := d.fs.MkdirAll(d.path(shardsDir, fmt.Sprintf("%02x", b))); err != nil {
			log.Warn("drive: create fan-out directory", "drive_id", d.id, "err", err)
			continue
		}
		present[b], made = true, true
	}
	if made || !synced {
		if err := d.fs.SyncDir(shards); err != nil {
			log.Warn("drive: sync fan-out directories", "drive_id", d.id, "err", err)
			return
		}
	}
	// Every top-level directory present is durable now: synced by syncfs
	// or by the SyncDir above.
	d.mu.Lock()
	d.mu.durableTop = present
	d.mu.Unlock()
	if !synced {
		return
	}
	for b := range 256 {
		if !present[b] {
			continue
		}
		subs, err := d.fs.ReadDir(d.path(shardsDir, fmt.Sprintf("%02x", b)))
		if err != nil {
			log.Warn("drive: list fan-out directories", "drive_id", d.id, "err", err)
			return
		}
		d.mu.Lock()
		for _, e := range subs {
			if lo, ok := fanoutByte(e); ok {
				d.mu.durableDirs[uint16(b)<<8|uint16(lo)] = true
			}
		}
		d.mu.Unlock()
	}
}

// probeUnnamed reports whether shards can be written as unnamed files: the
// filesystem must create them and link them (the link goes through /proc
// on Linux). A name the probe leaves in tmp/ after a crash is swept at the
// next open like any temp file.
//
// Why bother: on ext4 without a journal, creating an inode scans past every
// inode of its block group deleted in the last minutes, and a new file
// goes to its directory's group when it can. Temp files all created in
// tmp/ put every shard of the drive in tmp/'s group, where the deletes of
// earlier shards made each create cost over half a millisecond of CPU; an
// unnamed file lands in its fan-out directory's group, and the fan-out
// directories span several groups, so each create scans a fraction of
// those deletes (measured: 3-5 times less CPU per create, and a link costs
// less than a rename between two directories).
func (d *drive) probeUnnamed(log *slog.Logger) bool {
	fallback := func(err error) bool {
		log.Info("drive has no unnamed temp files; shards go through tmp/", "drive_id", d.id, "err", err)
		return false
	}
	f, err := d.fs.CreateTemp(d.path(tmpDir))
	if err != nil {
		return fallback(err)
	}
	defer f.Close()
	id, err := newID()
	if err != nil {
		return fallback(err)
	}
	name := d.path(tmpDir, "probe-"+id)
	if err := f.Link(name); err != nil {
		return fallback(err)
	}
	if err := d.fs.Remove(name); err != nil {
		return fallback(err)
	}
	return true
}

func (d *drive) path(elem ...string) string {
	return filepath.Join(append([]string{d.root}, elem...)...)
}

func writeFileSync(fsys vfs.FS, name string, b []byte) error {
	f, err := fsys.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// removeTemps deletes temp files of writes that never committed: the drive
// is opened before it serves, so every temp file is stale.
func (d *drive) removeTemps(log *slog.Logger) error {
	ents, err := d.fs.ReadDir(d.path(tmpDir))
	if err != nil {
		return fmt.Errorf("list temp files: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if err := d.fs.Remove(d.path(tmpDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove temp file: %w", err)
		}
	}
	if len(ents) > 0 {
		log.Info("removed stale temp files", "drive_id", d.id, "count", len(ents))
	}
	return nil
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validShardID accepts [A-Za-z0-9._-]{1,200} except "." and "..", so that a
// shard ID can never name anything outside its fan-out directory.
func validShardID(id string) error {
	if len(id) == 0 || len(id) > maxShardIDLen || id == "." || id == ".." {
		return fmt.Errorf("%w: bad shard id", ErrInvalid)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: bad shard id", ErrInvalid)
		}
	}
	return nil
}

// fanout spreads shards over 65536 directories so none grows huge.
func fanout(shardID string) uint16 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(shardID))
	return uint16(h.Sum64() >> 48)
}

func (d *drive) fanoutDir(f uint16) (parent, dir string) {
	aa := fmt.Sprintf("%02x", byte(f>>8))
	bb := fmt.Sprintf("%02x", byte(f))
	return d.path(shardsDir, aa), d.path(shardsDir, aa, bb)
}

func (d *drive) shardPath(shardID string) string {
	_, dir := d.fanoutDir(fanout(shardID))
	return filepath.Join(dir, shardID)
}

// ensureDir creates the fan-out directory of f and makes its entries in
// shards/ and shards/<aa>/ durable, once per process (see prepareFanout
// for what is known durable at open).
func (d *drive) ensureDir(f uint16) (string, error) {
	parent, dir := d.fanoutDir(f)
	hi := byte(f >> 8)
	d.mu.Lock()
	durable, topDurable := d.mu.durableDirs[f], d.mu.durableTop[hi]
	d.mu.Unlock()
	if durable {
		return dir, nil
	}
	// shards/ exists on every opened drive: without it the disk is gone
	// (a mount point left empty), and MkdirAll must not fill the mount
	// point's own filesystem.
	if _, err := d.fs.Stat(d.path(shardsDir)); err != nil {
		return "", err
	}
	if err := d.fs.MkdirAll(dir); err != nil {
		return "", err
	}
	if err := d.fs.SyncDir(parent); err != nil {
		return "", err
	}
	if !topDurable {
		if err := d.fs.SyncDir(d.path(shardsDir)); err != nil {
			return "", err
		}
	}
	d.mu.Lock()
	d.mu.durableTop[hi] = true
	d.mu.durableDirs[f] = true
	d.mu.Unlock()
	return dir, nil
}

// pendingShard is a shard being written to its temp file: an unnamed
// file (unnamed is f) or one named tmp in tmp/.
type pendingShard struct {
	d       *drive
	shardID string
	tmp     string
	unnamed vfs.TempFile
	f       vfs.File
	buf     *bufio.Writer // nil when blocks are large enough to write directly
	direct  *vfs.DirectWriter
	bw      *bitrot.Writer
	done    bool
	// gather holds a message's pieces made contiguous, on the path that
	// writes each block straight to the file (see WriteBlockParts); from
	// gatherPool, back at abort.
	gather *[]byte
	parts  [][]byte // views of a message's pieces, reused
}

// gatherPool lends pendingShard.gather.
var gatherPool = &shardcodec.Pool{}

func (d *drive) create(shardID string, blockSize int) (*pendingShard, error) {
	p, err := d.createTemp(shardID)
	if err != nil {
		return nil, fmt.Errorf("storage: create temp for shard %s: %w", shardID, err)
	}
	f := p.f
	switch {
	case d.direct && blockSize >= directMinBlock:
		p.direct = vfs.NewDirectWriter(f)
		p.bw = bitrot.NewWriter(p.direct, blockSize, shardID)
	case blockSize < writeBufSize:
		p.buf = bufio.NewWriterSize(f, writeBufSize)
		p.bw = bitrot.NewWriter(p.buf, blockSize, shardID)
	default:
		// Large blocks already reach the file as one write each.
		p.bw = bitrot.NewWriter(f, blockSize, shardID)
	}
	return p, nil
}

func (d *drive) createTemp(shardID string) (*pendingShard, error) {
	if d.unnamed {
		dir, err := d.ensureDir(fanout(shardID))
		if err != nil {
			return nil, err
		}
		f, err := d.fs.CreateTemp(dir)
		if err != nil {
			return nil, err
		}
		return &pendingShard{d: d, shardID: shardID, unnamed: f, f: f}, nil
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	tmp := d.path(tmpDir, id)
	f, err := d.fs.Create(tmp)
	if err != nil {
		return nil, err
	}
	return &pendingShard{d: d, shardID: shardID, tmp: tmp, f: f}, nil
}

func (p *pendingShard) Write(b []byte) (int, error) {
	n, err := p.bw.Write(b)
	if err != nil {
		return n, fmt.Errorf("storage: write shard %s: %w", p.shardID, err)
	}
	return n, nil
}

// WriteBlock writes b, whose CRC32C crc the caller verified: at a block
// boundary that checksum is the block's (or the start of it), so b is
// neither copied nor checksummed again.
func (p *pendingShard) WriteBlock(b []byte, crc uint32) (int, error) {
	n, err := p.bw.WriteBlock(b, crc)
	if err != nil {
		return n, fmt.Errorf("storage: write shard %s: %w", p.shardID, err)
	}
	return n, nil
}

// WriteBlockParts writes data, received in pieces (the frames that carried
// it), whose CRC32C crc the caller verified over them, as WriteBlock does.
//
// Through direct I/O or the buffered writer of small blocks the pieces go
// as they are: those writers copy every byte into their own buffer anyway
// and write it out whole. Where each block goes straight to the file (large
// blocks without direct I/O) they are gathered first: handed over one by
// one, each 16 KiB frame would be a write system call of its own.
func (p *pendingShard) WriteBlockParts(data mem.BufferSlice, crc uint32) (int, error) {
	switch {
	case len(data) == 1:
		return p.WriteBlock(data[0].ReadOnlyData(), crc)
	case len(data) > 1 && p.direct == nil && p.buf == nil:
		n := data.Len()
		if p.gather == nil || cap(*p.gather) < n {
			p.releaseGather()
			p.gather = gatherPool.Get(n)
		}
		b := (*p.gather)[:n]
		data.CopyTo(b)
		return p.WriteBlock(b, crc)
	}
	parts := p.parts[:0]
	for _, b := range data {
		parts = append(parts, b.ReadOnlyData())
	}
	n, err := p.bw.WriteBlockParts(parts, crc)
	clear(parts) // keep no views of buffers the caller frees
	p.parts = parts[:0]
	if err != nil {
		return n, fmt.Errorf("storage: write shard %s: %w", p.shardID, err)
	}
	return n, nil
}

func (p *pendingShard) releaseGather() {
	if p.gather != nil {
		gatherPool.Put(p.gather)
		p.gather = nil
	}
}

func (p *pendingShard) dataWritten() int64 { return p.bw.DataWritten() }

// digest is the shard's digest once commit succeeded.
func (p *pendingShard) digest() []byte { return p.bw.Digest() }

// commit makes the shard durable under its name. On error the shard is not
// visible and the temp file is gone.
func (p *pendingShard) commit(ctx context.Context) error {
	if err := p.commitSteps(ctx); err != nil {
		p.abort()
		return fmt.Errorf("storage: commit shard %s: %w", p.shardID, err)
	}
	return nil
}

func (p *pendingShard) commitSteps(ctx context.Context) error {
	if err := p.bw.Close(); err != nil {
		return err
	}
	if p.buf != nil {
		if err := p.buf.Flush(); err != nil {
			return err
		}
	}
	if p.direct != nil {
		if err := p.direct.Finish(); err != nil {
			return err
		}
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	if p.unnamed != nil {
		return p.linkSteps(ctx, p.unnamed)
	}
	err := p.f.Close()
	p.f = nil
	if err != nil {
		return err
	}
	dir, err := p.d.ensureDir(fanout(p.shardID))
	if err != nil {
		return err
	}
	// A client that gave up would never learn of the shard; keep it invisible.
	if err := ctx.Err(); err != nil {
		return err
	}
	final := filepath.Join(dir, p.shardID)
	p.d.names.Lock()
	err = p.d.fs.Rename(p.tmp, final)
	p.d.names.Unlock()
	if err != nil {
		return err
	}
	p.done = true
	return p.syncPublished(dir, final)
}

// linkSteps publishes an unnamed shard file, synced, in its fan-out
// directory (made durable by createTemp).
func (p *pendingShard) linkSteps(ctx context.Context, t vfs.TempFile) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, dir := p.d.fanoutDir(fanout(p.shardID))
	final := filepath.Join(dir, p.shardID)
	p.d.names.Lock()
	err := t.Link(final)
	if errors.Is(err, fs.ErrExist) {
		// A shard written again (repair placing it on the same drive
		// again) replaces the old one atomically: a link never replaces,
		// so link under a temp name and rename over. A crash between the
		// two leaves that name in tmp/, swept at the next open.
		err = p.replace(t, final)
	}
	p.d.names.Unlock()
	if err != nil {
		return err
	}
	p.done = true
	err = t.Close()
	p.f = nil
	if err != nil {
		_ = p.d.fs.Remove(final)
		return err
	}
	return p.syncPublished(dir, final)
}

// replace links t to a new name in tmp/ and renames that over final. The
// caller holds d.names.
func (p *pendingShard) replace(t vfs.TempFile, final string) error {
	id, err := newID()
	if err != nil {
		return err
	}
	tmp := p.d.path(tmpDir, id)
	if err := t.Link(tmp); err != nil {
		return err
	}
	if err := p.d.fs.Rename(tmp, final); err != nil {
		_ = p.d.fs.Remove(tmp)
		return err
	}
	return nil
}

// syncPublished makes final's entry in dir durable.
func (p *pendingShard) syncPublished(dir, final string) error {
	if err := p.d.fs.SyncDir(dir); err != nil {
		// Not durable, so not acknowledged: do not leave it visible either.
		_ = p.d.fs.Remove(final)
		return err
	}
	return nil
}

// abort discards the temp file; it is a no-op once the shard has its name.
// An unnamed file needs only closing.
func (p *pendingShard) abort() {
	if p.direct != nil {
		p.direct.Release()
	}
	p.releaseGather()
	if p.f != nil {
		_ = p.f.Close()
		p.f = nil
	}
	if !p.done {
		if p.tmp != "" {
			_ = p.d.fs.Remove(p.tmp)
		}
		p.done = true
	}
}

// shardFile is an open, committed shard.
type shardFile struct {
	f         vfs.File
	name      string
	header    bitrot.Header
	dataSize  int64
	framedLen int64
	modTime   time.Time
	// digest is the trailer's (format version 2); nil for a version 1
	// shard, whose digest takes a read of every checksum (digestOf).
	digest []byte
}

func (d *drive) open(shardID string) (*shardFile, error) {
	f, err := d.fs.Open(d.shardPath(shardID))
	if err != nil {
		return nil, fmt.Errorf("storage: open shard %s: %w", shardID, err)
	}
	sf, err := readShardMeta(f, shardID)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("storage: open shard %s: %w", shardID, err)
	}
	return sf, nil
}

func readShardMeta(f vfs.File, name string) (*shardFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < int64(bitrot.HeaderSize) {
		return nil, fmt.Errorf("%w: shard shorter than its header", ErrCorrupt)
	}
	hb := make([]byte, bitrot.HeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		return nil, err
	}
	h, err := bitrot.ParseHeader(hb)
	if err != nil {
		return nil, err
	}
	size, err := h.DataSize(fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	sf := &shardFile{f: f, name: name, header: h, dataSize: size, framedLen: fi.Size(), modTime: fi.ModTime()}
	if h.Version >= bitrot.Version {
		// One small read: the trailer must agree with the file's length
		// (a shard cut at a block boundary is caught here) and holds the
		// digest reads compare with the version record's.
		t, err := bitrot.ReadTrailer(f, fi.Size())
		if err != nil {
			return nil, err
		}
		if t.DataSize != size {
			return nil, fmt.Errorf("%w: trailer says %d data bytes, the file holds %d", bitrot.ErrBadTrailer, t.DataSize, size)
		}
		sf.digest = t.Digest
	}
	return sf, nil
}

// digestOf returns the shard's digest without verifying its blocks: the
// trailer's, or for a version 1 shard one computed from its stored
// checksums.
func (sf *shardFile) digestOf() ([]byte, error) {
	if sf.digest != nil {
		return sf.digest, nil
	}
	info, err := bitrot.ReadInfo(sf.f, sf.framedLen, sf.name)
	if err != nil {
		return nil, err
	}
	sf.digest = info.Digest
	return sf.digest, nil
}

func (d *drive) stat(shardID string) (*shardFile, error) {
	sf, err := d.open(shardID)
	if err != nil {
		return nil, err
	}
	_ = sf.f.Close()
	return sf, nil
}

// remove deletes a shard. The directory is not fsync'd: a delete lost in a
// crash leaves an unreferenced shard, which the orphan sweep collects.
func (d *drive) remove(shardID string) (existed bool, err error) {
	existed, _, err = d.removeIf(shardID, time.Time{})
	return existed, err
}

// removeIf deletes a shard unless cutoff is set and the file was modified
// after it, in which case it keeps it and reports kept.
// mtimeSlack widens "written after the cutoff" in removeIf. The cutoff is
// a fine-grained time taken in another process (the meta leader, when the
// deletion was decided), while a file's mtime comes from the kernel's
// coarse clock, which lags by up to a tick (1-10 ms): a shard written again
// a few milliseconds after a deletion of its name was decided (a repair
// that lost a race, then a second repair placing the same shard on the
// same drive) could look older than the decision and be deleted under a
// committed record. Keeping a shard that should have gone costs only an
// orphan, which the sweep removes after its grace, so the slack covers two
// ticks and no more: a body written and deleted within it leaves such an
// orphan.
const mtimeSlack = 25 * time.Millisecond

func (d *drive) removeIf(shardID string, cutoff time.Time) (existed, kept bool, err error) {
	path := d.shardPath(shardID)
	d.names.Lock()
	defer d.names.Unlock()
	if !cutoff.IsZero() {
		fi, err := d.fs.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, false, nil
		case err != nil:
			return false, false, fmt.Errorf("storage: delete shard %s: %w", shardID, err)
		case fi.ModTime().After(cutoff.Add(-mtimeSlack)):
			return true, true, nil
		}
	}
	existed, err = d.removeLocked(path, shardID)
	return existed, false, err
}

func (d *drive) removeLocked(path, shardID string) (existed bool, err error) {
	err = d.fs.Remove(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("storage: delete shard %s: %w", shardID, err)
}
