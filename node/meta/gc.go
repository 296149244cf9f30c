package meta

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

const (
	// gcBatch is the page of the GC queue read and acknowledged at once.
	gcBatch = 256
	// gcPagesPerRound bounds one round, so that a queue filling as fast
	// as it drains cannot keep a round (and its ctx) going forever; the
	// next round resumes at the cursor.
	gcPagesPerRound = 64
	// gcCallTimeout bounds one DeleteShard or AckGC call.
	gcCallTimeout = 5 * time.Second
)

// whileLeading runs round every interval while this node leads, until ctx
// ends (Close): the shape of every background duty of the leader. A
// follower's duty sleeps until Raft notifies it of leadership.
func (n *Node) whileLeading(ctx context.Context, every time.Duration, round func(ctx context.Context)) {
	for {
		leading, changed := n.leading.state()
		if leading {
			if !n.roundsUntil(ctx, changed, every, round) {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// roundsUntil runs round every interval until leadership changes (true)
// or ctx ends (false). Raft's own state is checked before each round: the
// notification of a lost leadership may come a moment after the loss.
func (n *Node) roundsUntil(ctx context.Context, changed <-chan struct{}, every time.Duration, round func(ctx context.Context)) bool {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-changed:
			return true
		case <-t.C:
		}
		if n.isLeader() {
			round(ctx)
		}
	}
}

// runCollector deletes the shards of GC entries while this node leads.
// It runs until Close.
func (n *Node) runCollector(ctx context.Context) {
	n.whileLeading(ctx, n.cfg.GCInterval, func(ctx context.Context) {
		if acked, err := n.collect(ctx); err != nil {
			n.log.Warn("gc round failed; retrying next round", "err", err, "acked", acked)
		} else if acked > 0 {
			n.log.Debug("gc round", "acked", acked)
		}
	})
}

// collect runs one GC round. It pages through the queue from the cursor
// the last round stopped at, wrapping to the start once it reaches the end,
// so that entries it cannot finish never hide the ones behind them. It
// deletes the shards on nodes that are up and not down, and acknowledges
// per shard: a whole entry once all its shards are gone, otherwise the
// shards deleted so far, so that when a node comes back only its own
// shards are left to collect. It returns the number of entries finished.
func (n *Node) collect(ctx context.Context) (int, error) {
	n.gcMu.Lock()
	defer n.gcMu.Unlock()
	if err := n.ensureReady(ctx); err != nil {
		return 0, fmt.Errorf("meta: gc: %w", err)
	}
	m, err := n.clusterMap()
	if err != nil {
		return 0, fmt.Errorf("meta: gc: cluster map: %w", err)
	}
	nodes := map[string]gcNode{}
	for _, node := range m.GetNodes() {
		nodes[node.GetNodeId()] = gcNode{addr: node.GetAddr(), reachable: node.GetUp() && !node.GetDown()}
	}
	// Nodes that failed this round are skipped for the rest of it, so one
	// dead node costs one timeout per round, not one per shard.
	failed := map[string]bool{}
	done := 0
	for range gcPagesPerRound {
		page, err := n.fsm.PendingGCAfter(n.gcCursor, gcBatch)
		if err != nil {
			return done, fmt.Errorf("meta: gc: pending: %w", err)
		}
		if len(page) == 0 {
			n.gcCursor = 0
			return done, nil
		}
		ack := &metapb.AckGC{}
		for _, e := range page {
			if ctx.Err() != nil {
				break
			}
			deleted, all := n.deleteShards(ctx, e, nodes, failed)
			switch {
			case all:
				ack.Seqs = append(ack.Seqs, e.GetSeq())
			case len(deleted) > 0:
				ack.Shards = append(ack.Shards, &metapb.GCShardAck{Seq: e.GetSeq(), Indexes: deleted})
			}
		}
		if err := n.ackGC(ctx, ack); err != nil {
			// The cursor stays: the page is retried next round.
			return done, err
		}
		done += len(ack.Seqs)
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		n.gcCursor = page[len(page)-1].GetSeq()
		if len(page) < gcBatch {
			n.gcCursor = 0
			return done, nil
		}
	}
	return done, nil
}

// gcNode is what a GC round knows of a storage node.
type gcNode struct {
	addr      string
	reachable bool // up and not down: worth a call
}

func (n *Node) ackGC(ctx context.Context, ack *metapb.AckGC) error {
	if len(ack.Seqs) == 0 && len(ack.Shards) == 0 {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, gcCallTimeout)
	defer cancel()
	res, err := n.Propose(actx, &metapb.Command{Op: &metapb.Command_AckGc{AckGc: ack}})
	if err != nil {
		return fmt.Errorf("meta: gc: ack %d entries, %d partly: %w", len(ack.Seqs), len(ack.Shards), err)
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return fmt.Errorf("meta: gc: ack %d entries: %w: %s: %s", len(ack.Seqs), errRejected, res.GetCode(), res.GetMessage())
	}
	return nil
}

// deleteShards deletes the shards of e it can reach. It returns the
// indexes it deleted and whether every shard of e is now gone.
func (n *Node) deleteShards(ctx context.Context, e *metapb.GCEntry, nodes map[string]gcNode, failed map[string]bool) ([]uint32, bool) {
	all := true
	var deleted []uint32
	for i, sh := range e.GetShards() {
		if sh.GetNodeId() == "" {
			continue // no shard was placed at this index, or it is deleted
		}
		id := fmt.Sprintf("%s.%d", e.GetDataId(), i)
		log := n.log.With("data_id", e.GetDataId(), "shard", id, "storage_node", sh.GetNodeId())
		node, ok := nodes[sh.GetNodeId()]
		if !ok {
			log.Warn("gc: shard's node is not in the cluster map")
			all = false
			continue
		}
		if !node.reachable || failed[node.addr] {
			all = false
			continue
		}
		c, err := n.storageClient(node.addr)
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, gcCallTimeout)
			// A shard written after the entry was queued is a new one of
			// the same name (a repair moved the shard back to this drive):
			// the node keeps it.
			_, err = c.DeleteShard(cctx, &storagepb.DeleteShardRequest{
				Ref:                     &storagepb.ShardRef{DriveId: sh.GetDriveId(), ShardId: id},
				UnlessNewerThanUnixNano: e.GetEnqueuedUnixNano(),
			})
			cancel()
		}
		if err != nil && status.Code(err) != codes.NotFound {
			log.Warn("gc: delete shard failed", "addr", node.addr, "err", err)
			failed[node.addr] = true
			all = false
			continue
		}
		deleted = append(deleted, uint32(i))
	}
	return deleted, all
}

func (n *Node) storageClient(addr string) (ShardDeleter, error) {
	if n.cfg.Storage != nil {
		return n.cfg.Storage(addr)
	}
	cc, err := n.cachedConn(addr, true)
	if err != nil {
		return nil, err
	}
	return storagepb.NewStorageClient(cc), nil
}
