package objio

import (
	"context"
	"fmt"
	"sort"

	"github.com/cairn-io/cairn/proto/metapb"
)

// CopyShards moves shards of the body v describes to new drives by copying
// each from where it lives now, block by block, each block verified as it
// is read: one read per shard written, where RebuildShards reads K. It is
// for shards that are still readable (a drain, a rebalance). targets maps
// each index to move to its new drive; the contract is RebuildShards's:
// it returns once every copy is durable, in index order, and on failure
// (a source unreadable or corrupt included) returns an error and deletes
// the new shards, best effort, so that the caller can fall back to
// RebuildShards. opts.Avoid is ignored; opts.Throttle is called with the
// bytes of every block read.
func (s *Store) CopyShards(ctx context.Context, v *metapb.ObjectVersion, targets map[int]*metapb.ShardPlacement, opts RebuildOptions) ([]RebuiltShard, error) {
	p := ProfileFromProto(v.GetProfile())
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: copy %s: %w", ErrInvalidArgument, v.GetDataId(), err)
	}
	n := p.K + p.M
	if v.GetDataId() == "" || len(v.GetShards()) != n || len(targets) == 0 {
		return nil, fmt.Errorf("%w: copy %q: %d shards, %d targets, profile %s", ErrInvalidArgument, v.GetDataId(), len(v.GetShards()), len(targets), p)
	}
	indices := make([]int, 0, len(targets))
	for i, t := range targets {
		if i < 0 || i >= n || t.GetNodeId() == "" || t.GetDriveId() == "" {
			return nil, fmt.Errorf("%w: copy %s: bad target %d: %v", ErrInvalidArgument, v.GetDataId(), i, t)
		}
		if cur := v.GetShards()[i]; cur.GetNodeId() == t.GetNodeId() && cur.GetDriveId() == t.GetDriveId() {
			return nil, fmt.Errorf("%w: copy %s: shard %d onto its own drive", ErrInvalidArgument, v.GetDataId(), i)
		}
		indices = append(indices, i)
	}
	sort.Ints(indices)
	size := v.GetSize()
	if ss := v.GetStoredSize(); ss > 0 {
		size = ss
	}
	return s.streamRebuilt(ctx, "copy", v, p, indices, targets, func(rctx context.Context, writers []*rebuildWriter) error {
		return s.feedCopy(rctx, v, size, writers, opts.Throttle)
	})
}

// feedCopy reads every writer's shard from its current place, stripe by
// stripe, and hands each block to the writer.
func (s *Store) feedCopy(ctx context.Context, v *metapb.ObjectVersion, size int64, writers []*rebuildWriter, throttle func(context.Context, int) error) error {
	p := ProfileFromProto(v.GetProfile())
	stripes := p.StripeCount(size)
	if stripes == 0 {
		return nil
	}
	g := &get{s: s, v: v, p: p, size: size, last: stripes - 1, depth: s.cfg.StripesInFlight}
	defer g.recycle() // after the readers are done
	defer g.wg.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readers := make([]*shardReader, len(writers))
	for j, w := range writers {
		readers[j] = g.start(rctx, w.index, 0)
	}
	for st := int64(0); st < stripes; st++ {
		if throttle != nil {
			if err := throttle(ctx, p.BlockLen(size, st)*len(writers)); err != nil {
				return err
			}
		}
		for j, r := range readers {
			var m blockMsg
			select {
			case m = <-r.out:
			case <-ctx.Done():
				return ctx.Err()
			}
			if m.err != nil {
				return fmt.Errorf("%w: read shard %d: %w", ErrDataUnavailable, r.idx, m.err)
			}
			// The writer gets its own copy: the frames can go now.
			b := m.refs.Materialize()
			m.refs.Free()
			clear(m.refs)
			select {
			case writers[j].in <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			r.free <- m.refs[:0] // never blocks: free has room for every slot r made
		}
	}
	return nil
}
