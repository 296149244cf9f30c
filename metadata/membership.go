package metadata

import (
	"fmt"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// System key names of membership (see keys.SystemKey).
const (
	// sysRebalance holds the committed RebalanceState.
	sysRebalance = "rebalance"
	// sysRemovedNode prefixes the ID of every node removed from the map;
	// its value is empty. A removed node's heartbeats are refused.
	sysRemovedNode = "removed_node/"
)

// setNodeState commits a node's admin state. Only ACTIVE, DRAINING and
// PENDING exist; setting what is set changes nothing.
func (t *txn) setNodeState(c *metapb.SetNodeState) (*metapb.CommandResult, error) {
	if c.GetNodeId() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set node state: empty node ID"), nil
	}
	if _, ok := metapb.NodeState_name[int32(c.GetState())]; !ok {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set node state: unknown state %d", c.GetState()), nil
	}
	nk := keys.NodeKey(c.NodeId)
	var n metapb.Node
	found, err := getProto(t.b, nk, &n)
	if err != nil {
		return nil, err
	}
	if !found {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set node state: no node %q", c.NodeId), nil
	}
	if n.State == c.State {
		return okResult(), nil
	}
	n.State = c.State
	if err := t.bumpEpoch(); err != nil {
		return nil, err
	}
	return okResult(), t.set(nk, &n)
}

// removeNode deletes a draining or down node's record and remembers its
// ID as removed. Whether shards are left on it is the proposer's check
// (it needs a scan of every body); a shard committed there afterwards is
// on a node the map lacks, which the repairer treats as lost. Removing a
// removed node is a no-op, so a retry is safe.
func (t *txn) removeNode(c *metapb.RemoveNode) (*metapb.CommandResult, error) {
	if c.GetNodeId() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "remove node: empty node ID"), nil
	}
	rk := keys.SystemKey(sysRemovedNode + c.NodeId)
	_, removed, err := getRaw(t.b, rk)
	if err != nil {
		return nil, err
	}
	nk := keys.NodeKey(c.NodeId)
	var n metapb.Node
	found, err := getProto(t.b, nk, &n)
	if err != nil {
		return nil, err
	}
	if !found {
		if removed {
			return okResult(), nil
		}
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "remove node: no node %q", c.NodeId), nil
	}
	if n.State != metapb.NodeState_NODE_DRAINING && !n.Down {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "remove node: %q is neither draining nor down; drain it first", c.NodeId), nil
	}
	if err := t.b.Delete(nk, nil); err != nil {
		return nil, err
	}
	if err := t.b.Set(rk, nil, nil); err != nil {
		return nil, err
	}
	return okResult(), t.bumpEpoch()
}

// setRebalance records the rebalance setting.
func (t *txn) setRebalance(c *metapb.SetRebalance) (*metapb.CommandResult, error) {
	if c.GetBandPercent() < 0 || c.GetBandPercent() >= 100 {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "rebalance: band %v%% out of [0, 100)", c.GetBandPercent()), nil
	}
	return okResult(), t.set(keys.SystemKey(sysRebalance), &metapb.RebalanceState{Running: c.GetRunning(), BandPercent: c.GetBandPercent()})
}

// nodeRemoved reports whether id was removed from the map.
func nodeRemoved(r reader, id string) (bool, error) {
	_, found, err := getRaw(r, keys.SystemKey(sysRemovedNode+id))
	return found, err
}

// NodeRemoved reports whether the node was removed from the map (RemoveNode).
func (f *FSM) NodeRemoved(id string) (bool, error) {
	db, err := f.acquire()
	if err != nil {
		return false, err
	}
	defer f.mu.RUnlock()
	removed, err := nodeRemoved(db, id)
	if err != nil {
		return false, fmt.Errorf("metadata: read removed node %q: %w", id, err)
	}
	return removed, nil
}

// Rebalance returns the committed rebalance setting (not running if none).
func (f *FSM) Rebalance() (*metapb.RebalanceState, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	st := &metapb.RebalanceState{}
	if _, err := getProto(db, keys.SystemKey(sysRebalance), st); err != nil {
		return nil, fmt.Errorf("metadata: read rebalance: %w", err)
	}
	return st, nil
}
