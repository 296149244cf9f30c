package objio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// blockMsg is one block of one shard, or the error that ended the shard.
type blockMsg struct {
	buf []byte
	err error
}

// shardReader streams one shard's blocks for consecutive stripes.
type shardReader struct {
	idx    int
	out    chan blockMsg
	free   chan []byte
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

// blockBufs keeps block buffers between reads: a GET of a small object
// would otherwise allocate (and clear) a fresh buffer for each of its
// blocks.
var blockBufs shardcodec.Pool

// recycle gives the block buffers the readers hold back to blockBufs. It
// runs once every reader goroutine has returned: what is left in their
// channels is no one's. Blocks lent to a failed ReadBody's caller are not
// there, and are left to the collector.
func (g *get) recycle() {
	put := func(b []byte) {
		if b != nil {
			blockBufs.Put(&b)
		}
	}
	for _, r := range g.readers {
		for done := false; !done; {
			select {
			case b := <-r.free:
				put(b)
			case m := <-r.out:
				put(m.buf)
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
		blocks: make([][]byte, p.K+p.M), owner: make([]*shardReader, p.K+p.M)}
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
		clear(c.blocks)
		clear(c.owner)
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
		blocks := c.blocks
		for i := range p.K {
			if blocks[i] == nil {
				blocks[i] = scratch[i][:0]
			}
		}
		if err := coder.ReconstructData(blocks); err != nil {
			return fmt.Errorf("%w: %s stripe %d: %w", ErrDataUnavailable, v.GetDataId(), st, err)
		}
		for i := range p.K {
			if c.owner[i] == nil {
				scratch[i] = blocks[i]
			}
		}
		if err := g.write(w, st, off, length, blocks); err != nil {
			return err
		}
		for i, r := range c.owner {
			if r != nil {
				r.free <- blocks[i] // never blocks: free holds every buffer r made
			}
		}
	}
	return nil
}

// collector gathers one stripe's blocks from the active shard readers.
type collector struct {
	g          *get
	ctx, rctx  context.Context
	active     []*shardReader
	nextParity int
	blocks     [][]byte
	owner      []*shardReader
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
			c.blocks[r.idx], c.owner[r.idx] = m.buf, r
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
func (g *get) write(w io.Writer, st, off, length int64, blocks [][]byte) error {
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
		if int64(len(b)) != bl {
			return fmt.Errorf("%w: %s stripe %d block %d has %d bytes, want %d",
				ErrDataUnavailable, g.v.GetDataId(), st, i, len(b), bl)
		}
		if _, err := w.Write(b[lo-int64(i)*bl : hi-int64(i)*bl]); err != nil {
			return fmt.Errorf("objio: write %s: %w", g.v.GetDataId(), err)
		}
	}
	return nil
}

// start opens shard idx from stripe from to the last stripe needed and
// streams its blocks on the returned reader's out channel. The goroutine
// ends after the last block, after its first error, or when ctx ends.
func (g *get) start(ctx context.Context, idx int, from int64) *shardReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &shardReader{idx: idx, out: make(chan blockMsg, g.depth), free: make(chan []byte, g.depth+1), cancel: cancel}
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
	var (
		// pending holds received bytes of the next block(s), when a
		// message carried more than the block it landed in had room for.
		pending []byte
		spare   []byte // pending's buffer when it is ours
		packed  bool   // messages carry more than a block
		made    int
	)
	for st := from; st <= g.last; st++ {
		bl := g.p.BlockLen(g.size, st)
		var buf []byte
		select {
		case buf = <-r.free:
		default:
			if made <= g.depth {
				made++
				buf = (*blockBufs.Get(bl))[:0]
				break
			}
			select {
			case buf = <-r.free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if cap(buf) < bl {
			buf = make([]byte, 0, bl)
		}
		buf = buf[:0]
		began := g.s.cfg.Now()
		for len(buf) < bl {
			if len(pending) > 0 {
				n := min(bl-len(buf), len(pending))
				buf = append(buf, pending[:n]...)
				pending = pending[n:]
				continue
			}
			// The storage node sends a block a message when blocks are
			// large: the codec decodes it straight into the block's
			// buffer. Once a message has carried more (small blocks,
			// several a message), they are received into spare and
			// copied out, without an allocation a message.
			room := buf[len(buf):len(buf)]
			if packed {
				room = spare[:0]
			}
			msg := shardcodec.ReadInto{Data: room}
			wd.arm(stall)
			err := stream.RecvMsg(&msg)
			wd.disarm()
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("shard ended at %d bytes of %d: %w", int64(st)*int64(g.p.BlockSize)+int64(len(buf)), end, io.ErrUnexpectedEOF)
			}
			if err != nil {
				return wd.check(ctx, err)
			}
			got := msg.Data
			if packed || len(got) > cap(room) {
				// In spare, or larger than the room left: the codec
				// gave it a slice of its own, which is spare from now on.
				packed = packed || len(got) > bl
				pending, spare = got, got[:0]
				continue
			}
			// Decoded in place, right after buf's bytes.
			take := min(len(got), bl-len(buf))
			buf = buf[:len(buf)+take]
			if len(got) > take {
				spare = append(spare[:0], got[take:]...)
				pending = spare
			}
		}
		g.s.lat.add(g.s.cfg.Now().Sub(began))
		select {
		case r.out <- blockMsg{buf: buf}:
			g.notify()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
