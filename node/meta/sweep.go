package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// The orphan sweep reclaims the shards of bodies that never committed: a
// gateway that died mid-PUT, or whose best-effort cleanup of a failed PUT
// did not reach every drive. Such shards belong to no version, no part and
// no GC entry, so nothing else ever deletes them.
//
// A data ID is referenced, or still owned by the GC queue, exactly while
// its commit record exists (metadata.FSM.UnknownData). The leader lists
// every up storage node's shards older than OrphanGrace, asks the FSM
// (linearizably) which of their data IDs have no record, asks again for
// each such ID in a fresh linearizable read immediately before deleting
// its shards, and only then deletes them. Safety rules:
//   - a shard whose data ID has a commit record is never deleted;
//   - a shard modified less than OrphanGrace ago is never deleted (checked
//     here as well as by the storage node);
//   - a shard name that does not parse as "<data_id>.<index>" is skipped;
//   - any failed read (lost leadership included) ends the round for that
//     node before anything more is deleted.
//
// The grace is measured against the leader's clock and compared with the
// storage node's mtimes: it must dwarf clock skew, which its default does.

const (
	// sweepBatch is how many listed shards are checked against the FSM
	// in one read.
	sweepBatch = metadata.MaxUnknownDataIDs
	// sweepListPage is the page asked of ListShards.
	sweepListPage = 1000
	// sweepCallTimeout bounds one FSM read or DeleteShard call.
	sweepCallTimeout = 5 * time.Second
	// sweepRecvTimeout gives up on a listing that sends nothing for this
	// long, so that a hung storage node cannot stall the sweep.
	sweepRecvTimeout = time.Minute
	// maxShardIndex bounds the index part of a shard name: no erasure
	// profile has more shards.
	maxShardIndex = 255
)

// ShardLister is what the orphan sweep needs from a storage node.
// storagepb.StorageClient satisfies it.
type ShardLister interface {
	ShardDeleter
	ListShards(ctx context.Context, in *storagepb.ListShardsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[storagepb.ListShardsResponse], error)
}

// errNoLister is returned when Config.Storage yields a client that cannot
// list shards.
var errNoLister = errors.New("meta: storage client cannot list shards")

// sweepStats counts what one sweep did.
type sweepStats struct {
	nodes   int // storage nodes listed
	listed  int // shards listed older than the grace
	skipped int // names that do not parse, or too young
	deleted int // orphans deleted
}

func (s *sweepStats) add(o sweepStats) {
	s.nodes += o.nodes
	s.listed += o.listed
	s.skipped += o.skipped
	s.deleted += o.deleted
}

// runSweeper runs the orphan sweep every SweepInterval while this node
// leads. It runs until Close.
func (n *Node) runSweeper(ctx context.Context) {
	n.whileLeading(ctx, n.cfg.SweepInterval, func(ctx context.Context) {
		st, err := n.sweep(ctx)
		if err != nil {
			n.log.Warn("orphan sweep incomplete; retrying next round", "err", err,
				"nodes", st.nodes, "listed", st.listed, "deleted", st.deleted)
		} else {
			n.log.Debug("orphan sweep", "nodes", st.nodes, "listed", st.listed, "skipped", st.skipped, "deleted", st.deleted)
		}
	})
}

// sweep runs one round over every up storage node of the cluster map.
// Errors of one node do not stop the others.
func (n *Node) sweep(ctx context.Context) (sweepStats, error) {
	var st sweepStats
	rctx, cancel := context.WithTimeout(ctx, sweepCallTimeout)
	err := n.linearize(rctx)
	cancel()
	if err != nil {
		return st, fmt.Errorf("meta: sweep: %w", err)
	}
	m, err := n.clusterMap()
	if err != nil {
		return st, fmt.Errorf("meta: sweep: cluster map: %w", err)
	}
	cutoff := n.cfg.Now().Add(-n.cfg.OrphanGrace).UnixNano()
	var errs []error
	for _, node := range m.GetNodes() {
		if !node.GetUp() || node.GetAddr() == "" {
			continue
		}
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		ns, err := n.sweepNode(ctx, node, cutoff)
		st.add(ns)
		if err != nil {
			errs = append(errs, fmt.Errorf("meta: sweep node %s: %w", node.GetNodeId(), err))
		}
	}
	return st, errors.Join(errs...)
}

// orphanCandidate is a listed shard old enough to be swept.
type orphanCandidate struct {
	drive, shard, dataID string
}

// sweepNode lists one storage node's old shards and deletes the orphans
// among them, sweepBatch shards at a time.
func (n *Node) sweepNode(ctx context.Context, node *metapb.Node, cutoff int64) (sweepStats, error) {
	st := sweepStats{nodes: 1}
	c, err := n.sweepClient(node.GetAddr())
	if err != nil {
		return st, err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The watchdog cancels a listing that stalls; every message resets it.
	var stalled atomic.Bool
	watchdog := time.AfterFunc(sweepRecvTimeout, func() {
		stalled.Store(true)
		cancel()
	})
	defer watchdog.Stop()
	stream, err := c.ListShards(lctx, &storagepb.ListShardsRequest{OlderThanUnixNano: cutoff, PageSize: sweepListPage})
	if err != nil {
		return st, fmt.Errorf("list shards: %w", err)
	}
	var batch []orphanCandidate
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if stalled.Load() {
				return st, fmt.Errorf("list shards: nothing received for %v: %w", sweepRecvTimeout, err)
			}
			return st, fmt.Errorf("list shards: %w", err)
		}
		watchdog.Reset(sweepRecvTimeout)
		for _, sh := range resp.GetShards() {
			st.listed++
			dataID, ok := parseShardID(sh.GetShardId())
			if !ok || sh.GetMtimeUnixNano() >= cutoff || resp.GetDriveId() == "" {
				// Not a name we write, or a storage node that ignored the
				// cutoff: never ours to delete.
				st.skipped++
				continue
			}
			batch = append(batch, orphanCandidate{drive: resp.GetDriveId(), shard: sh.GetShardId(), dataID: dataID})
			if len(batch) < sweepBatch {
				continue
			}
			// Stop the watchdog while deleting: the stream waits on us.
			watchdog.Stop()
			deleted, err := n.sweepBatch(ctx, c, node, batch)
			st.deleted += deleted
			if err != nil {
				return st, err
			}
			batch = batch[:0]
			watchdog.Reset(sweepRecvTimeout)
		}
	}
	watchdog.Stop()
	deleted, err := n.sweepBatch(ctx, c, node, batch)
	st.deleted += deleted
	return st, err
}

// sweepBatch deletes the shards of batch whose data IDs have no commit
// record, re-checking each data ID in a fresh linearizable read right
// before deleting its shards. It returns how many shards it deleted.
func (n *Node) sweepBatch(ctx context.Context, c ShardDeleter, node *metapb.Node, batch []orphanCandidate) (int, error) {
	if len(batch) == 0 {
		return 0, nil
	}
	byID := map[string][]orphanCandidate{}
	var ids []string
	for _, cand := range batch {
		if _, ok := byID[cand.dataID]; !ok {
			ids = append(ids, cand.dataID)
		}
		byID[cand.dataID] = append(byID[cand.dataID], cand)
	}
	unknown, err := n.unknownData(ctx, ids)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, id := range unknown {
		still, err := n.unknownData(ctx, []string{id})
		if err != nil {
			return deleted, err
		}
		if len(still) == 0 {
			continue // committed since the first read
		}
		for _, cand := range byID[id] {
			dctx, cancel := context.WithTimeout(ctx, sweepCallTimeout)
			resp, err := c.DeleteShard(dctx, &storagepb.DeleteShardRequest{
				Ref: &storagepb.ShardRef{DriveId: cand.drive, ShardId: cand.shard},
			})
			cancel()
			if status.Code(err) == codes.NotFound {
				continue
			}
			if err != nil {
				return deleted, fmt.Errorf("delete orphan shard %s on drive %s: %w", cand.shard, cand.drive, err)
			}
			if resp.GetExisted() {
				deleted++
				n.log.Info("orphan sweep: deleted shard", "storage_node", node.GetNodeId(),
					"drive", cand.drive, "shard", cand.shard, "data_id", id)
			}
		}
	}
	return deleted, nil
}

// unknownData is a linearizable FSM read of the data IDs without a commit
// record. It fails on a node that is not the leader.
func (n *Node) unknownData(ctx context.Context, ids []string) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, sweepCallTimeout)
	defer cancel()
	if err := n.linearize(rctx); err != nil {
		return nil, fmt.Errorf("unknown data: %w", err)
	}
	unknown, err := n.fsm.UnknownData(ids)
	if err != nil {
		return nil, fmt.Errorf("unknown data: %w", err)
	}
	return unknown, nil
}

func (n *Node) sweepClient(addr string) (ShardLister, error) {
	if n.cfg.Storage != nil {
		c, err := n.cfg.Storage(addr)
		if err != nil {
			return nil, err
		}
		l, ok := c.(ShardLister)
		if !ok {
			return nil, fmt.Errorf("%w: %s", errNoLister, addr)
		}
		return l, nil
	}
	cc, err := n.cachedConn(addr, true)
	if err != nil {
		return nil, err
	}
	return storagepb.NewStorageClient(cc), nil
}

// parseShardID splits a shard name "<data_id>.<index>" as the gateway
// writes it. It accepts only a non-empty data ID of [A-Za-z0-9_-] and a
// canonical decimal index up to maxShardIndex; anything else is not a
// shard the sweep may touch.
func parseShardID(shardID string) (dataID string, ok bool) {
	i := strings.LastIndexByte(shardID, '.')
	if i <= 0 {
		return "", false
	}
	dataID, idx := shardID[:i], shardID[i+1:]
	if len(idx) == 0 || len(idx) > 3 || (len(idx) > 1 && idx[0] == '0') {
		return "", false
	}
	v := 0
	for j := 0; j < len(idx); j++ {
		c := idx[j]
		if c < '0' || c > '9' {
			return "", false
		}
		v = v*10 + int(c-'0')
	}
	if v > maxShardIndex {
		return "", false
	}
	for j := 0; j < len(dataID); j++ {
		c := dataID[j]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return "", false
		}
	}
	return dataID, true
}
