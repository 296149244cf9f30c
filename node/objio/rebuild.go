package objio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// RebuildOptions tunes RebuildShards.
type RebuildOptions struct {
	// Avoid lists shard indices known to be unreadable (on a lost node, a
	// failed drive, reported corrupt) besides the ones being rebuilt: they
	// are read only if nothing else is left.
	Avoid []int
	// Throttle, if set, is called with the bytes of every stripe read
	// before the stripe is read; it waits to keep the repair within its
	// bandwidth, or returns an error (ctx's) to stop.
	Throttle func(ctx context.Context, n int) error
}

// RebuiltShard is one shard RebuildShards made durable.
type RebuiltShard struct {
	Index  int
	Target *metapb.ShardPlacement
	// Digest is the storage node's digest of the new shard
	// (WriteShardResponse.digest); empty if the node computes none.
	Digest []byte
	Size   uint64
}

// RebuildShards rebuilds shards of the body v describes (a version's body,
// or a part as PartVersion gives it) onto new drives: targets maps each
// index to rebuild to the drive it goes to. Stripe by stripe it reads K
// other shards, reconstructs the missing ones with Reed-Solomon and streams
// each to its target under its usual name, ShardID(data ID, index), with
// the block size of the PUT path; memory stays at a few stripes whatever
// the size of the body. It returns once every rebuilt shard is durable, in
// index order.
//
// A target may be the drive the index already lives on (a corrupt shard
// rewritten in place): storage replaces the file atomically on commit.
//
// On failure nothing is returned and the new shards are deleted, best
// effort, except those written in place (their name is the live one). The
// error wraps ErrDataUnavailable when fewer than K shards could be read.
func (s *Store) RebuildShards(ctx context.Context, v *metapb.ObjectVersion, targets map[int]*metapb.ShardPlacement, opts RebuildOptions) ([]RebuiltShard, error) {
	p := ProfileFromProto(v.GetProfile())
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: rebuild %s: %w", ErrInvalidArgument, v.GetDataId(), err)
	}
	n := p.K + p.M
	if v.GetDataId() == "" || len(v.GetShards()) != n {
		return nil, fmt.Errorf("%w: rebuild %q: %d shards, profile %s wants %d", ErrInvalidArgument, v.GetDataId(), len(v.GetShards()), p, n)
	}
	if len(targets) == 0 || len(targets) > p.M {
		return nil, fmt.Errorf("%w: rebuild %s: %d shards to rebuild, at most %d", ErrInvalidArgument, v.GetDataId(), len(targets), p.M)
	}
	indices := make([]int, 0, len(targets))
	for i, t := range targets {
		if i < 0 || i >= n || t.GetNodeId() == "" || t.GetDriveId() == "" {
			return nil, fmt.Errorf("%w: rebuild %s: bad target %d: %v", ErrInvalidArgument, v.GetDataId(), i, t)
		}
		indices = append(indices, i)
	}
	sort.Ints(indices)
	size := v.GetSize()
	if ss := v.GetStoredSize(); ss > 0 {
		size = ss
	}
	coder, err := erasure.NewCoder(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	// Sources: healthy indices first, in order, then the avoided ones.
	var sources, last []int
	for i := range n {
		switch {
		case targets[i] != nil:
		case slices.Contains(opts.Avoid, i):
			last = append(last, i)
		default:
			sources = append(sources, i)
		}
	}
	sources = append(sources, last...)

	return s.streamRebuilt(ctx, "rebuild", v, p, indices, targets, func(rctx context.Context, writers []*rebuildWriter) error {
		return s.feedRebuild(rctx, v, p, size, coder, sources, writers, opts.Throttle)
	})
}

// streamRebuilt writes the shards of indices to their targets, one
// writer goroutine each, with the blocks feed hands them; it waits for
// every writer and, when any of them or feed failed, deletes what was
// written (best effort) and reports why. verb names the operation in
// errors ("rebuild", "copy").
func (s *Store) streamRebuilt(ctx context.Context, verb string, v *metapb.ObjectVersion, p erasure.Profile, indices []int, targets map[int]*metapb.ShardPlacement, feed func(context.Context, []*rebuildWriter) error) ([]RebuiltShard, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writers := make([]*rebuildWriter, len(indices))
	var wg sync.WaitGroup
	for j, i := range indices {
		w := &rebuildWriter{index: i, target: targets[i], in: make(chan []byte, s.cfg.StripesInFlight)}
		writers[j] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.res, w.err = s.writeRebuilt(rctx, v.GetDataId(), p, w)
			if w.err != nil {
				cancel()
			}
		}()
	}
	rerr := feed(rctx, writers)
	for _, w := range writers {
		close(w.in)
	}
	wg.Wait()
	var errs []error
	if rerr != nil {
		errs = append(errs, rerr)
	}
	for _, w := range writers {
		if w.err != nil && !(rerr != nil && errors.Is(w.err, context.Canceled)) {
			errs = append(errs, fmt.Errorf("shard %d to %s/%s: %w", w.index, w.target.GetNodeId(), w.target.GetDriveId(), w.err))
		}
	}
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	if len(errs) > 0 {
		s.dropRebuilt(ctx, v, writers)
		return nil, fmt.Errorf("objio: %s %s: %w", verb, v.GetDataId(), errors.Join(errs...))
	}
	out := make([]RebuiltShard, len(writers))
	for j, w := range writers {
		out[j] = *w.res
	}
	return out, nil
}

// rebuildWriter is one rebuilt shard's stream: blocks arrive on in, each
// the writer's own copy.
type rebuildWriter struct {
	index  int
	target *metapb.ShardPlacement
	in     chan []byte
	res    *RebuiltShard
	err    error
}

// feedRebuild reads the body stripe by stripe from K of sources,
// reconstructs every shard and hands the rebuilt blocks to the writers.
func (s *Store) feedRebuild(ctx context.Context, v *metapb.ObjectVersion, p erasure.Profile, size int64,
	coder *erasure.Coder, sources []int, writers []*rebuildWriter, throttle func(context.Context, int) error,
) error {
	stripes := p.StripeCount(size)
	if stripes == 0 {
		return nil
	}
	g := &get{s: s, v: v, p: p, size: size, last: stripes - 1, depth: s.cfg.StripesInFlight}
	defer g.recycle() // after the readers are done
	defer g.wg.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if len(sources) < p.K {
		return fmt.Errorf("%w: %s: %d shards left to read, need %d", ErrDataUnavailable, v.GetDataId(), len(sources), p.K)
	}
	active := make([]*shardReader, 0, p.K)
	for _, i := range sources[:p.K] {
		active = append(active, g.start(rctx, i, 0))
	}
	next := p.K
	n := p.K + p.M
	// blocks holds the stripe's blocks copied out of their frames into
	// buffers of blockBufs (taken), which go back after the stripe.
	blocks := make([][]byte, n)
	owner := make([]*shardReader, n)
	scratch := make([][]byte, n)
	var taken []*[]byte
	defer func() {
		for _, b := range taken {
			blockBufs.Put(b)
		}
	}()
	for st := int64(0); st < stripes; st++ {
		if throttle != nil {
			if err := throttle(ctx, p.BlockLen(size, st)*p.K); err != nil {
				return err
			}
		}
		clear(blocks)
		clear(owner)
		for {
			var pending []*shardReader
			for _, r := range active {
				if owner[r.idx] == nil {
					pending = append(pending, r)
				}
			}
			if len(pending) == 0 {
				break
			}
			for _, r := range pending {
				var m blockMsg
				select {
				case m = <-r.out:
				case <-ctx.Done():
					return ctx.Err()
				}
				if m.err == nil {
					b := blockBufs.Get(m.refs.Len())
					m.refs.CopyTo(*b)
					m.refs.Free()
					taken = append(taken, b)
					blocks[r.idx], owner[r.idx] = *b, r
					continue
				}
				g.shardFailed(ctx, r.idx, m.err)
				active = remove(active, r)
				if next < len(sources) {
					active = append(active, g.start(rctx, sources[next], st))
					next++
				}
			}
		}
		if len(active) < p.K {
			return fmt.Errorf("%w: %s stripe %d: %d shards failed: %w",
				ErrDataUnavailable, v.GetDataId(), st, len(g.failed), errors.Join(g.failed...))
		}
		// Data blocks first (reconstructed into scratch), then every
		// parity block recomputed from them: a lost parity shard is
		// encoded afresh, exactly as the PUT made it.
		work := make([][]byte, n)
		for i := range p.K {
			if blocks[i] != nil {
				work[i] = blocks[i]
			} else {
				work[i] = scratch[i][:0]
			}
		}
		for i := p.K; i < n; i++ {
			work[i] = blocks[i]
		}
		if err := coder.ReconstructData(work); err != nil {
			return fmt.Errorf("%w: %s stripe %d: %w", ErrDataUnavailable, v.GetDataId(), st, err)
		}
		for i := p.K; i < n; i++ {
			work[i] = scratch[i]
		}
		if _, err := coder.EncodeParity(work); err != nil {
			return fmt.Errorf("objio: rebuild %s stripe %d: %w", v.GetDataId(), st, err)
		}
		for i := range n {
			if i >= p.K || owner[i] == nil {
				scratch[i] = work[i]
			}
		}
		for _, w := range writers {
			select {
			case w.in <- append([]byte(nil), work[w.index]...):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for _, r := range owner {
			if r != nil {
				r.free <- nil // never blocks: free has room for every slot r made
			}
		}
		for i, b := range taken {
			blockBufs.Put(b)
			taken[i] = nil
		}
		taken = taken[:0]
	}
	return nil
}

// writeRebuilt streams one rebuilt shard to its target and commits it, with
// the same stall watchdog and digest check as a PUT's shard streams.
func (s *Store) writeRebuilt(ctx context.Context, dataID string, p erasure.Profile, w *rebuildWriter) (*RebuiltShard, error) {
	c, err := s.client(w.target.GetNodeId())
	if err != nil {
		return nil, err
	}
	sctx, cancelBase := context.WithCancel(ctx)
	sctx, wd := watch(sctx)
	defer func() {
		wd.stop()
		cancelBase()
	}()
	wd.arm(s.cfg.StallTimeout)
	stream, err := c.WriteShard(sctx, grpc.CallContentSubtype(shardcodec.Name), grpc.MaxRetryRPCBufferSize(0))
	wd.disarm()
	if err != nil {
		return nil, wd.check(sctx, err)
	}
	id := ShardID(dataID, w.index)
	ss := &shardStream{
		stream: stream, ctx: sctx, wd: wd, stall: s.cfg.StallTimeout,
		cancel: cancelBase, detach: func() bool { return true }, block: uint32(p.BlockSize),
		ref:    &storagepb.ShardRef{DriveId: w.target.GetDriveId(), ShardId: id},
		where:  placement.Shard{Node: placement.NodeID(w.target.GetNodeId()), Drive: placement.DriveID(w.target.GetDriveId())},
		digest: bitrot.NewDigester(id, p.BlockSize),
	}
	for {
		var b []byte
		var ok bool
		select {
		case b, ok = <-w.in:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !ok {
			break
		}
		if err := ss.send(nil, b, false); err != nil {
			return nil, err
		}
	}
	if ctx.Err() != nil {
		// The feed stopped early: never commit a short shard.
		return nil, ctx.Err()
	}
	if err := ss.send(nil, nil, true); err != nil {
		return nil, err
	}
	wd.arm(s.cfg.CommitTimeout)
	resp, err := ss.stream.CloseAndRecv()
	wd.disarm()
	if err != nil {
		return nil, wd.check(sctx, err)
	}
	if resp.GetSize() != ss.total {
		return nil, fmt.Errorf("storage acknowledged %d bytes, sent %d", resp.GetSize(), ss.total)
	}
	digest := ss.digest.Sum(int64(ss.total))
	if got := resp.GetDigest(); len(got) > 0 && !bytes.Equal(got, digest) {
		return nil, fmt.Errorf("%w: storage acknowledged shard digest %x, the blocks sent have %x", ErrDigestMismatch, got, digest)
	}
	return &RebuiltShard{Index: w.index, Target: w.target, Digest: digest, Size: ss.total}, nil
}

// dropRebuilt deletes, best effort, the new shards of a failed rebuild
// that may have been committed; a shard rewritten in place keeps its name
// and is left alone.
func (s *Store) dropRebuilt(ctx context.Context, v *metapb.ObjectVersion, writers []*rebuildWriter) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CleanupTimeout)
	defer cancel()
	for _, w := range writers {
		cur := v.GetShards()[w.index]
		if cur.GetNodeId() == w.target.GetNodeId() && cur.GetDriveId() == w.target.GetDriveId() {
			continue
		}
		if err := s.deleteShard(ctx, v.GetDataId(), w.index, w.target); err != nil {
			s.log.Warn("delete shard of failed rebuild", "data_id", v.GetDataId(), "shard", w.index, "err", err)
		}
	}
}

// remove drops r from rs, keeping the order of the others.
func remove(rs []*shardReader, r *shardReader) []*shardReader {
	for i, x := range rs {
		if x == r {
			return append(rs[:i], rs[i+1:]...)
		}
	}
	return rs
}
