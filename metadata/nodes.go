package metadata

import (
	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// setNodeDown commits a change of a node's liveness, decided by the leader
// from its soft state: down past the grace, or back. Setting what is
// already set changes nothing, so a retried proposal does not move the
// epoch or the time the node went down.
func (t *txn) setNodeDown(c *metapb.SetNodeDown) (*metapb.CommandResult, error) {
	if c.GetNodeId() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set node down: empty node ID"), nil
	}
	nk := keys.NodeKey(c.NodeId)
	var n metapb.Node
	found, err := getProto(t.b, nk, &n)
	if err != nil {
		return nil, err
	}
	if !found {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set node down: no node %q", c.NodeId), nil
	}
	if n.Down == c.Down {
		return okResult(), nil
	}
	n.Down = c.Down
	n.DownSinceUnixNano = 0
	if c.Down {
		n.DownSinceUnixNano = c.UnixNano
	}
	if err := t.bumpEpoch(); err != nil {
		return nil, err
	}
	return okResult(), t.set(nk, &n)
}

// setDriveState commits a drive's state: DRIVE_FAILED with the reason a
// heartbeat or an operator gave, draining, or active again. The reason is
// kept only for a failed drive.
func (t *txn) setDriveState(c *metapb.SetDriveState) (*metapb.CommandResult, error) {
	if c.GetNodeId() == "" || c.GetDriveId() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set drive state: empty node or drive ID"), nil
	}
	if _, ok := metapb.DriveState_name[int32(c.State)]; !ok {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set drive state: unknown state %d", c.State), nil
	}
	nk := keys.NodeKey(c.NodeId)
	var n metapb.Node
	found, err := getProto(t.b, nk, &n)
	if err != nil {
		return nil, err
	}
	if !found {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set drive state: no node %q", c.NodeId), nil
	}
	var d *metapb.Drive
	for _, x := range n.Drives {
		if x.DriveId == c.DriveId {
			d = x
		}
	}
	if d == nil {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "set drive state: node %q has no drive %q", c.NodeId, c.DriveId), nil
	}
	fault := ""
	if c.State == metapb.DriveState_DRIVE_FAILED {
		fault = c.Reason
	}
	if d.State == c.State && d.Fault == fault {
		return okResult(), nil
	}
	stateChanged := d.State != c.State
	d.State, d.Fault = c.State, fault
	if stateChanged {
		// Only the state matters to placement; a new reason alone is news
		// for operators, not a new map.
		if err := t.bumpEpoch(); err != nil {
			return nil, err
		}
	}
	return okResult(), t.set(nk, &n)
}

// trimGC clears the placements of the shards of one GC entry that are
// deleted: later rounds skip an index without a node. Indexes out of range
// and entries already gone are ignored (a retried or late ack).
func (t *txn) trimGC(a *metapb.GCShardAck) error {
	k := keys.GCKey(a.GetSeq())
	var e metapb.GCEntry
	found, err := getProto(t.b, k, &e)
	if err != nil || !found {
		return err
	}
	changed := false
	for _, i := range a.GetIndexes() {
		if int(i) < len(e.Shards) && e.Shards[i].GetNodeId() != "" {
			e.Shards[i] = &metapb.ShardPlacement{}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return t.set(k, &e)
}
