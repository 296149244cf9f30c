package objio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// sendChunk caps one WriteShard message: far below any storage server's
// default 4 MiB receive limit; per-message costs are negligible at this
// size.
const sendChunk = 256 << 10

// maxReplacements bounds how often one shard moves to another drive during
// the first stripe; a cluster losing nodes that fast is better off failing
// the PUT.
const maxReplacements = 3

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stripe is one encoded stripe, recycled through put.free once every
// consumer (the K+M shard senders and the hasher) has released it, and gRPC
// every chunk of it that was sent by reference. The object bytes are not
// kept: the data blocks hold them in order.
type stripe struct {
	n int // object bytes in the stripe
	// slab holds the stripe: the body is read into its start, where it
	// already is the K data blocks back to back (block i is
	// slab[i*bl:(i+1)*bl] for block length bl), so encoding copies
	// nothing; the M parity blocks follow at dataCap.
	slab    []byte
	dataCap int // body bytes the slab takes before it must grow
	shards  [][]byte
	refs    atomic.Int32
	rel     stripeRelease
}

// newSlab returns a slab for dataCap body bytes of a K+M stripe.
func newSlab(p erasure.Profile, dataCap int) []byte {
	return make([]byte, slabLen(p, dataCap))
}

// slabDataLen is where the parity blocks start: room for K blocks of the
// largest block length dataCap bytes give.
func slabDataLen(p erasure.Profile, dataCap int) int {
	return p.K * ((dataCap + p.K - 1) / p.K)
}

// lay slices the stripe's n body bytes into K data blocks (zeroing the
// padding after the body) and M parity blocks, all of one length.
func (st *stripe) lay(p erasure.Profile, n int) {
	bl := (n + p.K - 1) / p.K
	clear(st.slab[n : p.K*bl])
	for i := range p.K {
		st.shards[i] = st.slab[i*bl : (i+1)*bl : (i+1)*bl]
	}
	at := slabDataLen(p, st.dataCap)
	for j := range p.M {
		lo := at + j*bl
		st.shards[p.K+j] = st.slab[lo : lo+bl : lo+bl]
	}
	st.n = n
}

// stripeRelease is the mem.BufferPool of the chunks a stripe sends by
// reference: gRPC hands a chunk back when it no longer needs its bytes,
// which drops that chunk's reference to the stripe.
type stripeRelease struct {
	w  *put
	st *stripe
}

func (r *stripeRelease) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (r *stripeRelease) Put(*[]byte) { r.w.release(r.st) }

// put is the state of one WriteBody call.
type put struct {
	s      *Store
	p      erasure.Profile
	dataID string
	free   chan *stripe

	mu struct {
		sync.Mutex
		shards  []placement.Shard
		exclude []placement.NodeID
		// tried lists every target a stream was opened to, for cleanup.
		tried []tried
		// digests[i] is shard i's digest once its commit was acknowledged.
		digests [][]byte
		// lost holds the shards whose stream failed past the first stripe
		// and that are rebuilt from the others once those are durable, in
		// the order they were lost.
		lost []int
		err  error
	}
	cancel context.CancelFunc
}

type tried struct {
	index int
	shard placement.Shard
}

// WriteBody stores the body read from r (to EOF) as a new erasure-coded
// body and returns it once all K+M shards are durable. On failure nothing is
// left behind (best effort) and the error wraps ErrInsufficientDrives,
// ErrShardWrite, the context's error, or r's error.
func (s *Store) WriteBody(ctx context.Context, r io.Reader, opts WriteOptions) (*Body, error) {
	p := opts.Profile
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	coder, err := erasure.NewCoder(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if opts.InlineMax > MaxInlineBytes {
		return nil, fmt.Errorf("%w: inline limit %d above %d", ErrInvalidArgument, opts.InlineMax, MaxInlineBytes)
	}
	inline, r, err := s.writeInline(r, opts)
	if err != nil || inline != nil {
		return inline, err
	}
	release, err := s.reservePut(ctx, p, opts.Size)
	if err != nil {
		return nil, err
	}
	defer release()
	dataID, err := s.newDataID()
	if err != nil {
		return nil, err
	}
	res, err := placement.Choose(s.cfg.Maps.Map(), dataID, p.K, p.M)
	if err != nil {
		// The local map may lag the meta group's by a poll (nodes that
		// just joined or came back): look again once before refusing.
		if r, ok := s.cfg.Maps.(Refresher); ok && r.Refresh(ctx) == nil {
			res, err = placement.Choose(s.cfg.Maps.Map(), dataID, p.K, p.M)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: place %s (%s): %w", ErrInsufficientDrives, dataID, p, err)
	}
	if len(res.Shards) != p.K+p.M {
		return nil, fmt.Errorf("%w: placement returned %d shards, want %d", ErrInsufficientDrives, len(res.Shards), p.K+p.M)
	}

	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &put{s: s, p: p, dataID: dataID, free: make(chan *stripe, s.cfg.StripesInFlight), cancel: cancel}
	w.mu.shards = append([]placement.Shard(nil), res.Shards...)
	w.mu.digests = make([][]byte, p.K+p.M)

	var wg sync.WaitGroup
	ins := make([]chan *stripe, p.K+p.M)
	for i := range ins {
		ins[i] = make(chan *stripe, s.cfg.StripesInFlight)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.shard(gctx, ctx, i, ins[i]); err != nil {
				w.fail(err)
			}
		}()
	}
	var outs []chan<- *stripe
	var md hash.Hash
	hashIn := make(chan *stripe, s.cfg.StripesInFlight)
	if !opts.NoMD5 {
		var doneMD5 func()
		md, doneMD5 = s.newMD5()
		defer doneMD5()
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.hash(gctx, md, hashIn)
		}()
		outs = append(outs, hashIn)
	}
	for _, in := range ins {
		outs = append(outs, in)
	}
	start := time.Now()
	size, err := w.feed(gctx, r, opts.Size, coder, outs)
	if err != nil {
		w.fail(err)
	}
	fed := time.Now()
	close(hashIn)
	for _, in := range ins {
		close(in)
	}
	wg.Wait()
	w.recycle()
	if err == nil {
		s.phases.WithLabelValues("stream").Observe(fed.Sub(start).Seconds())
		s.phases.WithLabelValues("durable").Observe(time.Since(fed).Seconds())
	}

	w.mu.Lock()
	err = w.mu.err
	lost := append([]int(nil), w.mu.lost...)
	w.mu.Unlock()
	if err == nil && len(lost) > 0 {
		err = w.rebuildLost(ctx, size, lost)
	}
	w.mu.Lock()
	shards := append([]placement.Shard(nil), w.mu.shards...)
	digests := w.mu.digests
	w.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		// Every ack arrived, but the caller gave up: it will not record the
		// body, so it must not stay.
		err = fmt.Errorf("objio: put %s: %w", dataID, ctx.Err())
	}
	if err != nil {
		w.cleanup(ctx)
		return nil, err
	}
	w.dropAbandoned(ctx, shards)
	body := &Body{DataID: dataID, Size: size, Profile: p, UnderSpread: res.UnderSpread, ShardDigests: digests}
	if md != nil {
		body.MD5 = md.Sum(nil)
	}
	perNode := map[placement.NodeID]int{}
	for _, sh := range shards {
		body.Shards = append(body.Shards, &metapb.ShardPlacement{NodeId: string(sh.Node), DriveId: string(sh.Drive)})
		perNode[sh.Node]++
		if perNode[sh.Node] > 1 {
			body.UnderSpread = true
		}
	}
	return body, nil
}

// fail records the PUT's first error and cancels every stream.
func (w *put) fail(err error) {
	w.mu.Lock()
	if w.mu.err == nil {
		w.mu.err = err
	}
	w.mu.Unlock()
	w.cancel()
}

// dropAbandoned deletes, best effort, what may remain on drives a shard
// moved away from: a commit whose ack was lost may still have made the
// shard durable there.
func (w *put) dropAbandoned(ctx context.Context, final []placement.Shard) {
	w.mu.Lock()
	var gone []tried
	for _, t := range w.mu.tried {
		if final[t.index] != t.shard {
			gone = append(gone, t)
		}
	}
	w.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	// Short: the drive was left because it failed, and the PUT has
	// succeeded; what stays behind is the orphan sweep's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(w.s.cfg.CleanupTimeout, 2*time.Second))
	defer cancel()
	for _, t := range gone {
		sp := &metapb.ShardPlacement{NodeId: string(t.shard.Node), DriveId: string(t.shard.Drive)}
		if err := w.s.deleteShard(ctx, w.dataID, t.index, sp); err != nil {
			w.s.log.Debug("delete abandoned shard", "data_id", w.dataID, "shard", t.index, "err", err)
		}
	}
}

// cleanup deletes every shard a stream was opened for. Streams were
// cancelled, so storage dropped the uncommitted ones; this catches those
// that committed before the failure.
func (w *put) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.s.cfg.CleanupTimeout)
	defer cancel()
	w.mu.Lock()
	all := append([]tried(nil), w.mu.tried...)
	w.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for j, t := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp := &metapb.ShardPlacement{NodeId: string(t.shard.Node), DriveId: string(t.shard.Drive)}
			errs[j] = w.s.deleteShard(ctx, w.dataID, t.index, sp)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.s.log.Warn("delete shards of failed put", "data_id", w.dataID, "err", err)
	}
}

// feed reads r stripe by stripe straight into each stripe's slab, encodes
// its parity and hands it to the hasher and the shard senders. It returns
// the number of bytes read.
func (w *put) feed(ctx context.Context, r io.Reader, sizeHint int64, coder *erasure.Coder, outs []chan<- *stripe) (int64, error) {
	stripeSize := int(w.p.StripeSize())
	dataCap := stripeSize
	if sizeHint >= 0 && sizeHint < int64(stripeSize) {
		// One byte more than announced lets EOF show without growing.
		dataCap = classCap(int(sizeHint)+1, stripeSize)
	}
	allocated := 0
	var total int64
	for {
		var st *stripe
		select {
		case st = <-w.free:
		default:
			if allocated < cap(w.free) {
				allocated++
				st = &stripe{shards: make([][]byte, w.p.K+w.p.M)}
				st.rel = stripeRelease{w: w, st: st}
				st.slab, st.dataCap = w.s.getSlab(w.p, dataCap), dataCap
				break
			}
			select {
			case st = <-w.free:
			case <-ctx.Done():
				return total, ctx.Err()
			}
		}
		n, rerr := fill(r, w.p, st, stripeSize)
		total += int64(n)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return total, fmt.Errorf("objio: read body: %w", rerr)
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if n == 0 {
			// Never blocks: free holds every stripe there is.
			w.free <- st
		} else if err := w.dispatch(ctx, coder, st, n, outs); err != nil {
			return total, err
		}
		if rerr != nil {
			return total, nil
		}
	}
}

// dispatch encodes the parity of st's n body bytes and queues st for
// every consumer.
func (w *put) dispatch(ctx context.Context, coder *erasure.Coder, st *stripe, n int, outs []chan<- *stripe) error {
	st.lay(w.p, n)
	if _, err := coder.EncodeParity(st.shards); err != nil {
		return fmt.Errorf("objio: encode %s: %w", w.dataID, err)
	}
	st.refs.Store(int32(len(outs)))
	for _, c := range outs {
		select {
		case c <- st:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// fill reads into st's slab until it holds a full stripe or r ends,
// growing the slab when a size hint proved too small.
func fill(r io.Reader, p erasure.Profile, st *stripe, stripeSize int) (int, error) {
	n := 0
	for n < stripeSize {
		if n == st.dataCap {
			dataCap := min(max(2*st.dataCap, 64<<10), stripeSize)
			grown := newSlab(p, dataCap)
			copy(grown, st.slab[:n])
			st.slab, st.dataCap = grown, dataCap
		}
		m, err := r.Read(st.slab[n:st.dataCap])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// recycle hands the slabs of the stripes no one holds any more back to the
// store for the next PUT. A stripe still referenced (by a chunk gRPC has
// not written yet, after a failure) is left to the garbage collector.
func (w *put) recycle() {
	for {
		select {
		case st := <-w.free:
			w.s.slabs.Put(&st.slab)
		default:
			return
		}
	}
}

func (w *put) release(st *stripe) {
	if st.refs.Add(-1) == 0 {
		// Never blocks: free holds every stripe there is.
		w.free <- st
	}
}

func (w *put) hash(ctx context.Context, h hash.Hash, in <-chan *stripe) {
	for {
		select {
		case st, ok := <-in:
			if !ok {
				return
			}
			// The data blocks are the body, back to back.
			h.Write(st.slab[:st.n])
			w.release(st)
		case <-ctx.Done():
			return
		}
	}
}

// target returns shard i's current drive and records it as tried.
func (w *put) target(i int) placement.Shard {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.mu.shards[i]
	w.mu.tried = append(w.mu.tried, tried{index: i, shard: t})
	return t
}

// replace moves shard i off the drive that just failed it. The node is
// excluded for the rest of this PUT and, if it could not be reached at all,
// suspected so that other PUTs skip it too.
func (w *put) replace(i int, cause error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.mu.shards[i]
	if unreachable(cause) {
		w.s.cfg.Maps.Suspect(old.Node, w.s.cfg.SuspectFor)
	}
	if full(cause) {
		w.s.suspectFull(old.Drive)
	}
	excluded := false
	for _, n := range w.mu.exclude {
		excluded = excluded || n == old.Node
	}
	if !excluded {
		w.mu.exclude = append(w.mu.exclude, old.Node)
	}
	res, err := placement.Choose(w.s.cfg.Maps.Map(), w.dataID, w.p.K, w.p.M, w.mu.exclude...)
	if err != nil {
		return fmt.Errorf("%w: replace shard %d after %v: %w", ErrInsufficientDrives, i, cause, err)
	}
	pick, ok := pickReplacement(res.Shards, w.mu.shards, i, w.p.M)
	if !ok {
		return fmt.Errorf("%w: no replacement for shard %d after %v", ErrInsufficientDrives, i, cause)
	}
	w.s.log.Info("shard moved to replacement drive", "data_id", w.dataID, "shard", i,
		"from_node", old.Node, "to_node", pick.Node, "to_drive", pick.Drive, "cause", cause)
	w.mu.shards[i] = pick
	return nil
}

// pickReplacement chooses, from a fresh placement, a drive for shard i that
// keeps the stripe's spread: a node holding no other shard if any, else a
// node holding fewer than m shards, preferring a drive not already used.
// Two shards may share a drive: they are distinct files, and a node is the
// unit of failure either way.
func pickReplacement(cands, current []placement.Shard, i, m int) (placement.Shard, bool) {
	perNode := map[placement.NodeID]int{}
	used := map[placement.Shard]bool{}
	for j, sh := range current {
		if j != i {
			perNode[sh.Node]++
			used[sh] = true
		}
	}
	passes := []func(placement.Shard) bool{
		func(c placement.Shard) bool { return perNode[c.Node] == 0 },
		func(c placement.Shard) bool { return perNode[c.Node] < m && !used[c] },
		func(c placement.Shard) bool { return perNode[c.Node] < m },
	}
	// Placement ranks nodes per shard index, so the fresh choice for index i
	// is tried first.
	if i < len(cands) {
		cands = append([]placement.Shard{cands[i]}, cands...)
	}
	for _, ok := range passes {
		for _, c := range cands {
			if ok(c) {
				return c, true
			}
		}
	}
	return placement.Shard{}, false
}

// shardStream is one WriteShard stream to one drive.
type shardStream struct {
	stream grpc.ClientStreamingClient[storagepb.WriteShardRequest, storagepb.WriteShardResponse]
	ctx    context.Context // the stream's, cancelled by wd on a stall
	wd     *watchdog
	stall  time.Duration
	cancel context.CancelFunc
	// detach stops the PUT's failure from cancelling the stream; it reports
	// false if that cancellation already began.
	detach func() bool
	ref    *storagepb.ShardRef // sent with the first message, then nil
	block  uint32
	total  uint64
	where  placement.Shard
	// digest is computed from the blocks sent, as the storage node
	// computes it from the blocks it frames (see bitrot.Digester).
	digest *bitrot.Digester
}

// send sends data, which is nil or a block of st, in chunks. The chunks go
// by reference (see shardcodec), each holding st until gRPC is done with
// it, except tiny ones, which are copied. Each block is one bitrot block on
// the storage node (the stream's block size is the profile's), so its
// checksum goes into the shard's digest.
func (ss *shardStream) send(st *stripe, data []byte, commit bool) error {
	oneChunk := len(data) <= sendChunk
	if len(data) > 0 && !oneChunk {
		// A block sent in several chunks: one more CRC32C pass (hardware
		// accelerated, far cheaper than the encoding) for its checksum.
		ss.digest.Add(crc32.Checksum(data, castagnoli))
	}
	for {
		chunk := data[:min(len(data), sendChunk)]
		data = data[len(chunk):]
		req := &shardcodec.WriteChunk{Ref: ss.ref}
		if ss.ref != nil {
			req.BlockSize = ss.block
			ss.ref = nil
		}
		if len(chunk) > 0 {
			req.DataCRC32C = crc32.Checksum(chunk, castagnoli)
			if oneChunk {
				ss.digest.Add(req.DataCRC32C)
			}
			if st == nil || mem.IsBelowBufferPoolingThreshold(cap(chunk)) {
				req.Data = mem.SliceBuffer(append([]byte(nil), chunk...))
			} else {
				st.refs.Add(1)
				req.Data = mem.NewBuffer(&chunk, &st.rel)
			}
		}
		ss.total += uint64(len(chunk))
		last := len(data) == 0
		if last && commit {
			req.Commit = true
			req.TotalSize = ss.total
		}
		// SendMsg blocks while the peer's flow-control window is full: a
		// peer that stops reading stalls here.
		ss.wd.arm(ss.stall)
		err := ss.stream.SendMsg(req)
		if req.Data != nil {
			req.Data.Free()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// The stream broke; its status says why.
				_, err = ss.stream.CloseAndRecv()
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
			}
			ss.wd.disarm()
			return ss.wd.check(ss.ctx, err)
		}
		ss.wd.disarm()
		if last {
			return nil
		}
	}
}

// open starts a stream to shard i's current target. The stream lives in
// base, the caller's context, and is cancelled when ctx, the PUT's, ends -
// unless it was detached first: a stream that has sent its commit must be
// left to finish, or storage could make the shard durable after the cleanup
// already ran and leave it behind.
func (w *put) open(ctx, base context.Context, i int) (*shardStream, error) {
	t := w.target(i)
	c, err := w.s.client(string(t.Node))
	if err != nil {
		return nil, err
	}
	sctx, cancelBase := context.WithCancel(base)
	sctx, wd := watch(sctx)
	cancel := func() {
		wd.stop()
		cancelBase()
	}
	detach := context.AfterFunc(ctx, cancel)
	// No replay buffer: gRPC would keep every chunk of a stream (and so
	// its stripe) referenced until 256 KiB had been sent or the server
	// answered, which a PUT of small blocks never reaches before it needs
	// its stripes back. A stream that fails is replaced by the PUT itself.
	wd.arm(w.s.cfg.StallTimeout)
	stream, err := c.WriteShard(sctx, grpc.CallContentSubtype(shardcodec.Name), grpc.MaxRetryRPCBufferSize(0))
	wd.disarm()
	if err != nil {
		err = wd.check(sctx, err)
		detach()
		cancel()
		return nil, err
	}
	id := ShardID(w.dataID, i)
	return &shardStream{
		stream: stream, ctx: sctx, wd: wd, stall: w.s.cfg.StallTimeout,
		cancel: cancel, detach: detach, where: t, block: uint32(w.p.BlockSize),
		ref:    &storagepb.ShardRef{DriveId: string(t.Drive), ShardId: id},
		digest: bitrot.NewDigester(id, w.p.BlockSize),
	}, nil
}

// shard sends shard i: opens its stream, sends the first stripe's block
// (moving to a replacement drive if that fails), streams the other blocks,
// then commits and waits for the ack. A body of at most one stripe is still
// whole in memory at the commit, so a drive that fails the commit of such a
// body is replaced too: small objects, the common case, survive a node
// that dies mid-PUT. ctx is the PUT's context, base the caller's (see open).
func (w *put) shard(ctx, base context.Context, i int, in <-chan *stripe) error {
	var (
		ss    *shardStream
		first *stripe // held until a second stripe arrives or the commit succeeds
		empty bool    // in is closed: every stripe has been received
		more  bool    // a stripe after the first was streamed: no resend possible
	)
	defer func() {
		if ss != nil {
			ss.detach()
			ss.cancel()
		}
		if first != nil {
			w.release(first)
		}
	}()
	attempt := 0
	// retry drops the failed stream and moves shard i to another drive.
	retry := func(cause error) error {
		if ss != nil {
			ss.detach()
			ss.cancel()
			ss = nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == maxReplacements {
			return fmt.Errorf("%w: shard %d of %s: %w", ErrShardWrite, i, w.dataID, cause)
		}
		attempt++
		return w.replace(i, cause)
	}
	for {
		var err error
		ss, err = w.open(ctx, base, i)
		if err == nil && first == nil && !empty {
			select {
			case st, ok := <-in:
				first, empty = st, !ok
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err == nil && first != nil {
			err = ss.send(first, first.shards[i], false)
		}
		if err != nil {
			if rerr := retry(err); rerr != nil {
				return rerr
			}
			continue
		}
		for !empty {
			select {
			case st, ok := <-in:
				if !ok {
					empty = true
					break
				}
				more = true
				if first != nil {
					w.release(first)
					first = nil
				}
				if err := ss.send(st, st.shards[i], false); err != nil {
					w.release(st)
					return w.lostOrFail(ctx, i, ss, err, in)
				}
				w.release(st)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		digest, err := w.commit(ss)
		if err == nil {
			w.mu.Lock()
			w.mu.digests[i] = digest
			w.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return w.shardErr(ctx, i, ss, err)
		}
		if more {
			return w.lostOrFail(ctx, i, ss, err, in)
		}
		if unreachable(err) {
			w.s.cfg.Maps.Suspect(ss.where.Node, w.s.cfg.SuspectFor)
		}
		if rerr := retry(err); rerr != nil {
			return rerr
		}
	}
}

// commit ends shard stream ss and waits for the storage node's ack, which
// it sends only once the shard is durable, and returns the shard's digest.
// A node that acknowledges a digest other than the one of the blocks sent
// made durable something else than what it was sent (corrupted on its way
// to disk): the shard fails. A node that acknowledges none (written before
// digests existed) is taken at its word; the digest recorded is the one
// computed from the blocks sent, which is what it will report when it
// knows digests.
func (w *put) commit(ss *shardStream) ([]byte, error) {
	if !ss.detach() {
		return nil, context.Canceled
	}
	if err := ss.send(nil, nil, true); err != nil {
		return nil, err
	}
	// The ack comes once the shard is durable (fsync, rename): a wait
	// longer than one message's, but still bounded.
	ss.wd.arm(w.s.cfg.CommitTimeout)
	resp, err := ss.stream.CloseAndRecv()
	ss.wd.disarm()
	if err != nil {
		return nil, ss.wd.check(ss.ctx, err)
	}
	if resp.GetSize() != ss.total {
		return nil, fmt.Errorf("storage acknowledged %d bytes, sent %d", resp.GetSize(), ss.total)
	}
	digest := ss.digest.Sum(int64(ss.total))
	if got := resp.GetDigest(); len(got) > 0 && !bytes.Equal(got, digest) {
		return nil, fmt.Errorf("%w: storage acknowledged shard digest %x, the blocks sent have %x", ErrDigestMismatch, got, digest)
	}
	return digest, nil
}

func (w *put) shardErr(ctx context.Context, i int, ss *shardStream, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if unreachable(err) {
		w.s.cfg.Maps.Suspect(ss.where.Node, w.s.cfg.SuspectFor)
	}
	if full(err) {
		// The next PUT avoids the drive.
		w.s.suspectFull(ss.where.Drive)
	}
	return fmt.Errorf("%w: shard %s on %s/%s: %w", ErrShardWrite, ShardID(w.dataID, i), ss.where.Node, ss.where.Drive, err)
}

// lostBudget is how many shards of one PUT may be lost past the first
// stripe and rebuilt: M-1, so that at least K+1 durable shards remain to
// rebuild from and one more failure during the rebuild is still read
// around; with M = 1 one all the same (K remain), or a single full drive
// would fail every large PUT of such a profile.
func lostBudget(m int) int {
	if m == 1 {
		return 1
	}
	return m - 1
}

// lostOrFail handles shard i's stream failing with err past the first
// stripe, when its earlier blocks are gone and it cannot simply move. A
// full drive or an unreachable (or stalled) node does not fail the PUT while
// the budget allows: the stream is dropped (storage discards the temp
// file), shard i is moved to a replacement drive at once (so the failed
// node and drive are suspected and excluded now), and the goroutine drains
// its stripes so the others go on; WriteBody rebuilds the shard there once
// all the others are durable. Any other failure fails the PUT.
func (w *put) lostOrFail(ctx context.Context, i int, ss *shardStream, err error, in <-chan *stripe) error {
	if ctx.Err() != nil || !(full(err) || unreachable(err)) {
		return w.shardErr(ctx, i, ss, err)
	}
	ss.detach()
	ss.cancel()
	w.mu.Lock()
	over := len(w.mu.lost) >= lostBudget(w.p.M)
	if !over {
		w.mu.lost = append(w.mu.lost, i)
	}
	w.mu.Unlock()
	if over {
		return w.shardErr(ctx, i, ss, err)
	}
	if rerr := w.replace(i, err); rerr != nil {
		return rerr
	}
	for {
		select {
		case st, ok := <-in:
			if !ok {
				return nil
			}
			w.release(st)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// rebuildLost rebuilds every lost shard from the durable ones onto the
// drive replace chose for it, and records its digest. The new shards are
// recorded as tried first, so a failure from here on deletes them with the
// rest.
func (w *put) rebuildLost(ctx context.Context, size int64, lost []int) error {
	w.mu.Lock()
	// A copy of the digests: the record must not alias those filled below.
	v := &metapb.ObjectVersion{DataId: w.dataID, Size: size, Profile: ProfileToProto(w.p), ShardDigests: slices.Clone(w.mu.digests)}
	targets := map[int]*metapb.ShardPlacement{}
	for i, sh := range w.mu.shards {
		sp := &metapb.ShardPlacement{NodeId: string(sh.Node), DriveId: string(sh.Drive)}
		v.Shards = append(v.Shards, sp)
		if slices.Contains(lost, i) {
			targets[i] = sp
			w.mu.tried = append(w.mu.tried, tried{index: i, shard: sh})
		}
	}
	w.mu.Unlock()
	start := time.Now()
	res, err := w.s.RebuildShards(ctx, v, targets, RebuildOptions{})
	if err != nil {
		return fmt.Errorf("%w: put %s: rebuild lost shards %v: %w", ErrShardWrite, w.dataID, lost, err)
	}
	w.s.phases.WithLabelValues("rebuild").Observe(time.Since(start).Seconds())
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range res {
		w.mu.digests[r.Index] = r.Digest
		w.s.log.Info("lost shard rebuilt on replacement drive", "data_id", w.dataID, "shard", r.Index,
			"node", r.Target.GetNodeId(), "drive", r.Target.GetDriveId())
	}
	return nil
}
