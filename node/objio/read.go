package objio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// blockMsg is one block of one shard, or the error that ended the shard.
// The block's bytes stay in the gRPC frames they arrived in: refs holds
// references to them, which whoever holds the message frees.
type blockMsg struct {
	refs mem.BufferSlice
	err  error
}

// shardReader streams one shard's blocks for consecutive stripes.
type shardReader struct {
	idx int
	out chan blockMsg
	// free returns a slot once the collector is done with a block: a
	// reader holds at most depth+1 blocks (queued, being received, or
	// lent to the collector), so the frames it keeps alive are bounded.
	// A slot is the block's emptied slice, reused for a later block.
	free   chan mem.BufferSlice
	cancel context.CancelFunc
}

// get is the state of one ReadBody call.
type get struct {
	s     *Store
	v     *metapb.ObjectVersion
	p     erasure.Profile
	size  int64
	last  int64 // last stripe needed
	wg    sync.WaitGroup
	depth int
	// ready is signalled (without blocking) whenever a reader queued a
	// block or an error, so the collector can wait on all readers at once.
	ready   chan struct{}
	failed  []error
	readers []*shardReader // every reader started, for recycle
}

// blockBufs keeps contiguous block buffers between reads: a stripe that
// is reconstructed needs its blocks each in one slice, so they are copied
// out of their frames into these.
var blockBufs shardcodec.Pool

// recycle frees the blocks left in the readers' channels. It runs once
// every reader goroutine has returned: what is left there is no one's.
// Blocks lent to the collector are the collector's to free.
func (g *get) recycle() {
	for _, r := range g.readers {
		for done := false; !done; {
			select {
			case m := <-r.out:
				m.refs.Free()
			default:
				done = true
			}
		}
	}
}

// ReadBody writes bytes [off, off+length) of v's body to w, reading only
// the stripes that hold them. Data shards are read in parallel; a shard that
// is missing, unreachable, stalled or corrupt is replaced by a parity shard
// from the stripe where it failed, and the stripe is reconstructed. A data
// shard that is merely slow (later than the hedging delay, see
// DefaultHedgeFloor) gets a parity read started beside it, and whichever K
// shards deliver a stripe first are used; the laggard is cancelled. Only
// whole, verified stripes are written, in order. More than M failed shards
// make the error wrap ErrDataUnavailable; bytes of earlier stripes may
// already have been written then.
func (s *Store) ReadBody(ctx context.Context, v *metapb.ObjectVersion, off, length int64, w io.Writer) error {
	if v.GetInline() {
		return readInline(ctx, v, off, length, w)
	}
	if len(v.GetParts()) > 0 {
		return s.readParts(ctx, v, off, length, w)
	}
	p := ProfileFromProto(v.GetProfile())
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: version %s/%s: %w", ErrInvalidArgument, v.GetBucket(), v.GetKey(), err)
	}
	// The shards hold stored_size bytes when it is set (encrypted
	// bodies); off and length address those bytes.
	size := v.GetSize()
	if ss := v.GetStoredSize(); ss > 0 {
		size = ss
	}
	if off < 0 || length < 0 || off > size || length > size-off {
		return fmt.Errorf("%w: range %d+%d of a %d-byte body", ErrInvalidArgument, off, length, size)
	}
	if length == 0 {
		return nil
	}
	if len(v.GetShards()) != p.K+p.M {
		return fmt.Errorf("%w: version %s/%s has %d shards, profile %s wants %d",
			ErrInvalidArgument, v.GetBucket(), v.GetKey(), len(v.GetShards()), p, p.K+p.M)
	}
	coder, err := erasure.NewCoder(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	first, last := p.StripeSpan(size, off, length)

	g := &get{s: s, v: v, p: p, size: size, last: last, depth: s.cfg.StripesInFlight, ready: make(chan struct{}, 1)}
	rctx, cancel := context.WithCancel(ctx)
	defer g.recycle() // after the readers are done
	defer g.wg.Wait()
	defer cancel()

	c := &collector{g: g, ctx: ctx, rctx: rctx, nextParity: p.K,
		blocks: make([]mem.BufferSlice, p.K+p.M), owner: make([]*shardReader, p.K+p.M),
		flat: make([][]byte, p.K+p.M)}
	// On every return the stripe in hand is freed; after a written
	// stripe it is already.
	defer c.finish()
	for i := range p.K {
		c.active = append(c.active, g.start(rctx, i, first))
	}
	var hedge *time.Timer
	defer func() {
		if hedge != nil {
			hedge.Stop()
		}
	}()
	scratch := make([][]byte, p.K)
	for st := first; st <= last; st++ {
		armed := false
		for {
			got := c.poll(st)
			if got >= p.K {
				break
			}
			if err := ctx.Err(); err != nil {
				// The readers failed because the caller gave up.
				return fmt.Errorf("objio: read %s: %w", v.GetDataId(), err)
			}
			if len(c.active) < p.K {
				return fmt.Errorf("%w: %s stripe %d: %d of %d shards failed: %w",
					ErrDataUnavailable, v.GetDataId(), st, len(g.failed), p.K+p.M, errors.Join(g.failed...))
			}
			// Blocked on a shard: start the hedging clock for this stripe.
			var hedgeC <-chan time.Time
			if c.nextParity < p.K+p.M && s.cfg.HedgeFloor >= 0 {
				if !armed {
					d := min(max(s.lat.p95(), s.cfg.HedgeFloor), s.cfg.HedgeCap)
					if hedge == nil {
						hedge = time.NewTimer(d)
					} else {
						hedge.Reset(d)
					}
					armed = true
				}
				hedgeC = hedge.C
			}
			select {
			case <-g.ready:
			case <-hedgeC:
				// Slow, not failed: read one more shard and take the
				// first K; later hedges of this stripe wait another delay.
				c.startParity(st)
				s.hedges.Add(1)
				armed = false
			case <-ctx.Done():
				return fmt.Errorf("objio: read %s: %w", v.GetDataId(), ctx.Err())
			}
		}
		if armed {
			// Since Go 1.23 a stopped timer delivers no stale tick.
			hedge.Stop()
		}
		c.dropLaggards()
		data, err := c.data(coder, st, scratch)
		if err != nil {
			return fmt.Errorf("%w: %s stripe %d: %w", ErrDataUnavailable, v.GetDataId(), st, err)
		}
		if err := g.write(w, st, off, length, data); err != nil {
			return err
		}
		c.finish()
	}
	return nil
}

// collector gathers one stripe's blocks from the active shard readers.
type collector struct {
	g          *get
	ctx, rctx  context.Context
	active     []*shardReader
	nextParity int
	// blocks[i] is the stripe's block of shard i, lent by owner[i].
	blocks []mem.BufferSlice
	owner  []*shardReader
	// flat and taken serve a reconstructed stripe: its blocks copied
	// into buffers of blockBufs, which go back after the stripe.
	flat  [][]byte
	taken []*[]byte
}

// data returns the stripe's K data blocks. When every one arrived they
// are the received frames, written without a copy. Otherwise each block
// in hand is copied into a contiguous buffer (its frames freed at once, so
// the copy replaces them) and the missing data blocks are reconstructed
// into scratch, which keeps their buffers for the next such stripe.
func (c *collector) data(coder *erasure.Coder, st int64, scratch [][]byte) ([]mem.BufferSlice, error) {
	k := c.g.p.K
	whole := true
	for i := range k {
		whole = whole && c.owner[i] != nil
	}
	if whole {
		return c.blocks[:k], nil
	}
	bl := c.g.p.BlockLen(c.g.size, st)
	for i := range c.flat {
		switch {
		case c.owner[i] != nil:
			b := blockBufs.Get(bl)
			c.taken = append(c.taken, b)
			*b = (*b)[:c.blocks[i].CopyTo(*b)]
			c.blocks[i].Free()
			c.blocks[i] = nil
			c.flat[i] = *b
		case i < k:
			c.flat[i] = scratch[i][:0]
		default:
			c.flat[i] = nil
		}
	}
	if err := coder.ReconstructData(c.flat); err != nil {
		return nil, err
	}
	for i := range k {
		if c.owner[i] == nil {
			scratch[i] = c.flat[i]
		}
		c.blocks[i] = mem.BufferSlice{mem.SliceBuffer(c.flat[i])}
	}
	return c.blocks[:k], nil
}

// finish ends the stripe in hand: its blocks are freed, their slots go
// back to their readers, and the copies of a reconstructed stripe go
// back to blockBufs.
func (c *collector) finish() {
	for i, r := range c.owner {
		b := c.blocks[i]
		b.Free()
		clear(b)
		c.blocks[i] = nil
		if r != nil {
			r.free <- b[:0] // never blocks: free has room for every slot r made
			c.owner[i] = nil
		}
	}
	for i, b := range c.taken {
		blockBufs.Put(b)
		c.taken[i] = nil
	}
	c.taken = c.taken[:0]
	clear(c.flat)
}

// poll takes, without waiting, every block of stripe st that has arrived,
// replaces failed readers with parity readers, and returns how many blocks
// of the stripe are in hand.
func (c *collector) poll(st int64) int {
	got := 0
	for i := 0; i < len(c.active); i++ {
		r := c.active[i]
		if c.owner[r.idx] != nil {
			got++
			continue
		}
		var m blockMsg
		select {
		case m = <-r.out:
		default:
			continue
		}
		if m.err == nil {
			c.blocks[r.idx], c.owner[r.idx] = m.refs, r
			got++
			continue
		}
		c.g.shardFailed(c.ctx, r.idx, m.err)
		r.cancel()
		c.active = append(c.active[:i], c.active[i+1:]...)
		i--
		c.startParity(st)
	}
	return got
}

// startParity starts the next parity shard from stripe st, if any is left.
func (c *collector) startParity(st int64) {
	if c.nextParity < c.g.p.K+c.g.p.M {
		c.active = append(c.active, c.g.start(c.rctx, c.nextParity, st))
		c.nextParity++
	}
}

// dropLaggards cancels the readers that did not deliver the stripe just
// completed: K others did, so the stripe (and every later one) is served
// without them.
func (c *collector) dropLaggards() {
	kept := c.active[:0]
	for _, r := range c.active {
		if c.owner[r.idx] != nil {
			kept = append(kept, r)
		} else {
			r.cancel()
		}
	}
	clear(c.active[len(kept):])
	c.active = kept
}

func (g *get) shardFailed(ctx context.Context, idx int, err error) {
	sp := g.v.GetShards()[idx]
	err = fmt.Errorf("shard %s on %s/%s: %w", ShardID(g.v.GetDataId(), idx), sp.GetNodeId(), sp.GetDriveId(), err)
	g.failed = append(g.failed, err)
	if ctx.Err() != nil {
		return
	}
	if unreachable(err) {
		g.s.cfg.Maps.Suspect(placement.NodeID(sp.GetNodeId()), g.s.cfg.SuspectFor)
	}
	g.s.log.Warn("degraded read", "data_id", g.v.GetDataId(), "shard", idx, "err", err)
	if f := g.s.cfg.OnReadFailure; f != nil {
		f(g.v, idx, err)
	}
}

// write copies the part of stripe st that lies in [off, off+length) to w,
// straight from the data blocks.
func (g *get) write(w io.Writer, st, off, length int64, blocks []mem.BufferSlice) error {
	base := st * g.p.StripeSize()
	from := max(off, base) - base
	to := min(off+length, base+g.p.StripeDataLen(g.size, st)) - base
	bl := int64(g.p.BlockLen(g.size, st))
	for i := range g.p.K {
		lo, hi := max(from, int64(i)*bl), min(to, int64(i+1)*bl)
		if lo >= hi {
			continue
		}
		b := blocks[i]
		if n := b.Len(); int64(n) != bl {
			return fmt.Errorf("%w: %s stripe %d block %d has %d bytes, want %d",
				ErrDataUnavailable, g.v.GetDataId(), st, i, n, bl)
		}
		if err := writeRange(w, b, lo-int64(i)*bl, hi-int64(i)*bl); err != nil {
			return fmt.Errorf("objio: write %s: %w", g.v.GetDataId(), err)
		}
	}
	return nil
}

// writeRange writes bytes [lo, hi) of bufs to w, a piece at a time.
func writeRange(w io.Writer, bufs mem.BufferSlice, lo, hi int64) error {
	at := int64(0)
	for _, b := range bufs {
		if at >= hi {
			break
		}
		d := b.ReadOnlyData()
		from, to := max(lo-at, 0), min(hi-at, int64(len(d)))
		at += int64(len(d))
		if from < to {
			if _, err := w.Write(d[from:to]); err != nil {
				return err
			}
		}
	}
	return nil
}

// start opens shard idx from stripe from to the last stripe needed and
// streams its blocks on the returned reader's out channel. The goroutine
// ends after the last block, after its first error, or when ctx ends.
func (g *get) start(ctx context.Context, idx int, from int64) *shardReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &shardReader{idx: idx, out: make(chan blockMsg, g.depth), free: make(chan mem.BufferSlice, g.depth+1), cancel: cancel}
	g.readers = append(g.readers, r)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer cancel()
		if err := g.stream(ctx, r, from); err != nil {
			select {
			case r.out <- blockMsg{err: err}:
				g.notify()
			case <-ctx.Done():
			}
		}
	}()
	return r
}

// expectDigest returns shard idx's recorded digest; nil for records
// written before digests (read against their frames only).
func (g *get) expectDigest(idx int) []byte {
	ds := g.v.GetShardDigests()
	if len(ds) != g.p.K+g.p.M {
		return nil
	}
	return ds[idx]
}

// notify wakes the collector without blocking; one pending wake-up is
// enough, since the collector polls every reader when it wakes.
func (g *get) notify() {
	select {
	case g.ready <- struct{}{}:
	default:
	}
}

func (g *get) stream(ctx context.Context, r *shardReader, from int64) error {
	sp := g.v.GetShards()[r.idx]
	c, err := g.s.client(sp.GetNodeId())
	if err != nil {
		return err
	}
	start := g.p.ShardOffset(from)
	end := g.p.ShardOffset(g.last) + int64(g.p.BlockLen(g.size, g.last))
	ctx, wd := watch(ctx)
	defer wd.stop()
	stall := g.s.cfg.StallTimeout
	wd.arm(stall)
	stream, err := c.ReadShard(ctx, &storagepb.ReadShardRequest{
		Ref:    &storagepb.ShardRef{DriveId: sp.GetDriveId(), ShardId: ShardID(g.v.GetDataId(), r.idx)},
		Offset: uint64(start),
		Length: uint64(end - start),
		// A shard whose digest is not the recorded one fails with
		// DataLoss, and is read around like any corrupt shard.
		ExpectDigest: g.expectDigest(r.idx),
	}, grpc.CallContentSubtype(shardcodec.Name))
	wd.disarm()
	if err != nil {
		return wd.check(ctx, err)
	}
	// pending holds received bytes of the next block(s), when a message
	// carried more than the block it landed in had room for.
	var pending mem.BufferSlice
	defer func() { pending.Free() }()
	made := 0 // slots taken: blocks this reader has made
	for st := from; st <= g.last; st++ {
		var block mem.BufferSlice
		select {
		case block = <-r.free:
		default:
			if made <= g.depth {
				made++
				break
			}
			select {
			case block = <-r.free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		bl := g.p.BlockLen(g.size, st)
		began := g.s.cfg.Now()
		for n := 0; n < bl; {
			if len(pending) == 0 {
				// A message holds a block when blocks are large,
				// several when they are small, a piece of one when
				// they are larger than a message: its data is taken by
				// reference and cut where blocks end.
				var msg shardcodec.ReadRefs
				wd.arm(stall)
				err := stream.RecvMsg(&msg)
				wd.disarm()
				if err != nil {
					block.Free()
					if errors.Is(err, io.EOF) {
						return fmt.Errorf("shard ended at %d bytes of %d: %w", int64(st)*int64(g.p.BlockSize)+int64(n), end, io.ErrUnexpectedEOF)
					}
					return wd.check(ctx, err)
				}
				pending = msg.Data
				continue
			}
			b := pending[0]
			if k := b.Len(); n+k <= bl {
				block = append(block, b)
				pending[0] = nil
				pending = pending[1:]
				n += k
				continue
			}
			// The piece runs into the next block: cut it there.
			cut := bl - n
			block = append(block, b.Slice(0, cut))
			pending[0] = b.Slice(cut, b.Len())
			b.Free()
			n = bl
		}
		g.s.lat.add(g.s.cfg.Now().Sub(began))
		select {
		case r.out <- blockMsg{refs: block}:
			g.notify()
		case <-ctx.Done():
			block.Free()
			return ctx.Err()
		}
	}
	return nil
}
