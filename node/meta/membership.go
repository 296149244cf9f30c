package meta

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/repair"
	"github.com/cairn-io/cairn/proto/metapb"
)

// removeScanPage is the page size of the scan that checks a node to be
// removed holds no shard.
const removeScanPage = 1000

// MembershipStatus reports drains and the rebalance from the leader's
// repairer, with the committed rebalance setting.
func (s *service) MembershipStatus(ctx context.Context, req *metapb.MembershipStatusRequest) (*metapb.MembershipStatusResponse, error) {
	resp, err := onRepairer(ctx, s.n, "membership status",
		func(ctx context.Context, r *repair.Repairer) (*metapb.MembershipStatusResponse, error) {
			st := r.Membership()
			reb, err := s.n.fsm.Rebalance()
			if err != nil {
				return nil, err
			}
			st.Rebalance = reb
			return st, nil
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.MembershipStatusResponse, error) {
			return c.MembershipStatus(ctx, req)
		})
	return resp, toStatus(err)
}

// RemoveNode removes a storage node on the leader (see removeNode).
func (s *service) RemoveNode(ctx context.Context, req *metapb.RemoveNodeRequest) (*metapb.RemoveNodeResponse, error) {
	if req.GetNodeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "meta: remove node: empty node ID")
	}
	var resp *metapb.RemoveNodeResponse
	err := s.n.onLeader(ctx, "remove node",
		func(ctx context.Context) error {
			var err error
			resp, err = s.n.removeNode(ctx, req)
			return err
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			var err error
			resp, err = c.RemoveNode(ctx, req)
			return err
		})
	return resp, toStatus(err)
}

// removeNode removes a node from the map once no body has a shard on it.
// The node must be draining or down; with dead it is made both first, so
// that its shards are rebuilt from the others rather than read from it.
// While shards are left it answers how many, and removes nothing.
func (n *Node) removeNode(ctx context.Context, req *metapb.RemoveNodeRequest) (*metapb.RemoveNodeResponse, error) {
	id := req.GetNodeId()
	if err := n.linearize(ctx); err != nil {
		return nil, err
	}
	if removed, err := n.fsm.NodeRemoved(id); err != nil {
		return nil, err
	} else if removed {
		return &metapb.RemoveNodeResponse{Removed: true, Message: fmt.Sprintf("node %s is removed", id)}, nil
	}
	m, err := n.fsm.ClusterMap()
	if err != nil {
		return nil, err
	}
	var rec *metapb.Node
	for _, x := range m.GetNodes() {
		if x.GetNodeId() == id {
			rec = x
		}
	}
	if rec == nil {
		return nil, status.Errorf(codes.NotFound, "meta: remove node: no storage node %q in the map", id)
	}
	if req.GetDead() {
		var cmds []*metapb.Command
		if rec.GetState() != metapb.NodeState_NODE_DRAINING {
			cmds = append(cmds, &metapb.Command{Op: &metapb.Command_SetNodeState{SetNodeState: &metapb.SetNodeState{NodeId: id, State: metapb.NodeState_NODE_DRAINING}}})
		}
		if !rec.GetDown() {
			cmds = append(cmds, &metapb.Command{Op: &metapb.Command_SetNodeDown{SetNodeDown: &metapb.SetNodeDown{NodeId: id, Down: true, UnixNano: n.cfg.Now().UnixNano()}}})
		}
		if err := n.commitAll(ctx, cmds); err != nil {
			return nil, err
		}
	} else if rec.GetState() != metapb.NodeState_NODE_DRAINING && !rec.GetDown() {
		return nil, status.Errorf(codes.FailedPrecondition,
			"meta: remove node: %s is neither draining nor down: drain it first (cairn admin node drain %s), or give --dead if it is gone for good", id, id)
	}
	left, err := n.shardsOn(ctx, id)
	if err != nil {
		return nil, err
	}
	if left > 0 {
		how := "being moved off (cairn admin node drain status)"
		if req.GetDead() || rec.GetDown() {
			how = "being rebuilt from the other shards (cairn admin node drain status)"
		}
		return &metapb.RemoveNodeResponse{ShardsLeft: left, Message: fmt.Sprintf("node %s still holds %d shards, %s; not removed", id, left, how)}, nil
	}
	if err := n.commitAll(ctx, []*metapb.Command{{Op: &metapb.Command_RemoveNode{RemoveNode: &metapb.RemoveNode{NodeId: id}}}}); err != nil {
		return nil, err
	}
	n.live.forget(id)
	n.log.Info("storage node removed from the map", "node", id)
	return &metapb.RemoveNodeResponse{Removed: true, Message: fmt.Sprintf("node %s removed", id)}, nil
}

// shardsOn counts the shards of live bodies placed on node.
func (n *Node) shardsOn(ctx context.Context, node string) (uint64, error) {
	var cursor []byte
	var count uint64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		bodies, next, err := n.fsm.ScanBodies(cursor, removeScanPage)
		if err != nil {
			return 0, fmt.Errorf("meta: remove node: scan bodies: %w", err)
		}
		for _, b := range bodies {
			for _, sh := range b.Shards {
				if sh.GetNodeId() == node {
					count++
				}
			}
		}
		if next == nil {
			return count, nil
		}
		cursor = next
	}
}
