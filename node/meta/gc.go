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
	gcBatch = 256
	// gcCallTimeout bounds one DeleteShard or AckGC call.
	gcCallTimeout = 5 * time.Second
)

// whileLeading runs round every interval while this node leads, until ctx
// ends (Close): the shape of every background duty of the leader.
func (n *Node) whileLeading(ctx context.Context, every time.Duration, round func(ctx context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
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

// collect runs one GC round: it deletes the shards of up to gcBatch pending
// entries and acknowledges the entries whose shards are all gone. Entries
// with shards that could not be deleted stay queued for the next round.
func (n *Node) collect(ctx context.Context) (int, error) {
	entries, err := n.fsm.PendingGC(gcBatch)
	if err != nil {
		return 0, fmt.Errorf("meta: gc: pending: %w", err)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	m, err := n.fsm.ClusterMap()
	if err != nil {
		return 0, fmt.Errorf("meta: gc: cluster map: %w", err)
	}
	addrs := map[string]string{}
	for _, node := range m.GetNodes() {
		addrs[node.GetNodeId()] = node.GetAddr()
	}
	// Nodes that failed this round are skipped for the rest of it, so one
	// dead node costs one timeout per round, not one per shard.
	failed := map[string]bool{}
	var done []uint64
	for _, e := range entries {
		if ctx.Err() != nil {
			break
		}
		if n.deleteShards(ctx, e, addrs, failed) {
			done = append(done, e.GetSeq())
		}
	}
	if len(done) == 0 {
		return 0, nil
	}
	actx, cancel := context.WithTimeout(ctx, gcCallTimeout)
	defer cancel()
	res, err := n.Propose(actx, &metapb.Command{Op: &metapb.Command_AckGc{AckGc: &metapb.AckGC{Seqs: done}}})
	if err != nil {
		return 0, fmt.Errorf("meta: gc: ack %d entries: %w", len(done), err)
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return 0, fmt.Errorf("meta: gc: ack %d entries: %w: %s: %s", len(done), errRejected, res.GetCode(), res.GetMessage())
	}
	return len(done), nil
}

// deleteShards deletes every shard of e and reports whether all are gone.
func (n *Node) deleteShards(ctx context.Context, e *metapb.GCEntry, addrs map[string]string, failed map[string]bool) bool {
	all := true
	for i, sh := range e.GetShards() {
		if sh.GetNodeId() == "" {
			continue // no shard was placed at this index
		}
		id := fmt.Sprintf("%s.%d", e.GetDataId(), i)
		log := n.log.With("data_id", e.GetDataId(), "shard", id, "storage_node", sh.GetNodeId())
		addr, ok := addrs[sh.GetNodeId()]
		if !ok {
			log.Warn("gc: shard's node is not in the cluster map")
			all = false
			continue
		}
		if failed[addr] {
			all = false
			continue
		}
		c, err := n.storageClient(addr)
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, gcCallTimeout)
			_, err = c.DeleteShard(cctx, &storagepb.DeleteShardRequest{
				Ref: &storagepb.ShardRef{DriveId: sh.GetDriveId(), ShardId: id},
			})
			cancel()
		}
		if err != nil && status.Code(err) != codes.NotFound {
			log.Warn("gc: delete shard failed", "addr", addr, "err", err)
			failed[addr] = true
			all = false
		}
	}
	return all
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
