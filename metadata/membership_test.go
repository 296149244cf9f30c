package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

func setNodeState(id string, st metapb.NodeState) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_SetNodeState{SetNodeState: &metapb.SetNodeState{NodeId: id, State: st}}}
}

func removeNode(id string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_RemoveNode{RemoveNode: &metapb.RemoveNode{NodeId: id}}}
}

// TestNodeLifecycle walks a node through admission, drain, removal and an
// attempt to come back, checking each command's answer, the state and the
// map epoch.
func TestNodeLifecycle(t *testing.T) {
	h := newHarness(t)
	pending := heartbeat("n1", "a:1", "r1", 10, &metapb.Drive{DriveId: "d1"})
	pending.GetNodeHeartbeat().Node.State = metapb.NodeState_NODE_PENDING
	h.mustApply(pending)
	h.mustApply(heartbeat("n2", "a:2", "r1", 10, &metapb.Drive{DriveId: "d1"}))
	tests := []struct {
		name      string
		cmd       *metapb.Command
		code      metapb.ErrorCode
		wantState metapb.NodeState
		gone      bool
		wantEpoch uint64
	}{
		{"a new node's record keeps the state it was proposed with", nil, metapb.ErrorCode_OK, metapb.NodeState_NODE_PENDING, false, 2},
		{"a heartbeat keeps the admin state", heartbeat("n1", "a:9", "r1", 20, &metapb.Drive{DriveId: "d1"}), metapb.ErrorCode_OK, metapb.NodeState_NODE_PENDING, false, 3},
		{"remove a node neither draining nor down", removeNode("n1"), metapb.ErrorCode_PRECONDITION_FAILED, metapb.NodeState_NODE_PENDING, false, 3},
		{"admit", setNodeState("n1", metapb.NodeState_NODE_ACTIVE), metapb.ErrorCode_OK, metapb.NodeState_NODE_ACTIVE, false, 4},
		{"admit again is a no-op", setNodeState("n1", metapb.NodeState_NODE_ACTIVE), metapb.ErrorCode_OK, metapb.NodeState_NODE_ACTIVE, false, 4},
		{"drain", setNodeState("n1", metapb.NodeState_NODE_DRAINING), metapb.ErrorCode_OK, metapb.NodeState_NODE_DRAINING, false, 5},
		{"unknown state", setNodeState("n1", 77), metapb.ErrorCode_INVALID_ARGUMENT, metapb.NodeState_NODE_DRAINING, false, 5},
		{"unknown node", setNodeState("n9", metapb.NodeState_NODE_DRAINING), metapb.ErrorCode_INVALID_ARGUMENT, metapb.NodeState_NODE_DRAINING, false, 5},
		{"remove the drained node", removeNode("n1"), metapb.ErrorCode_OK, 0, true, 6},
		{"remove again is a no-op", removeNode("n1"), metapb.ErrorCode_OK, 0, true, 6},
		{"a removed node's heartbeat is refused", heartbeat("n1", "a:1", "r1", 30, &metapb.Drive{DriveId: "d1"}), metapb.ErrorCode_PRECONDITION_FAILED, 0, true, 6},
		{"remove an unknown node", removeNode("n9"), metapb.ErrorCode_INVALID_ARGUMENT, 0, true, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cmd != nil {
				res := h.apply(tc.cmd)
				require.Equal(t, tc.code, res.Code, res.Message)
			}
			m, err := h.f.ClusterMap()
			require.NoError(t, err)
			require.Equal(t, tc.wantEpoch, m.Epoch)
			removed, err := h.f.NodeRemoved("n1")
			require.NoError(t, err)
			require.Equal(t, tc.gone, removed)
			var n1 *metapb.Node
			for _, n := range m.Nodes {
				if n.NodeId == "n1" {
					n1 = n
				}
			}
			// The heartbeat's point read agrees with the whole map.
			rec, recRemoved, recEpoch, err := h.f.NodeRecord("n1")
			require.NoError(t, err)
			require.Equal(t, tc.gone, recRemoved)
			require.Equal(t, tc.wantEpoch, recEpoch)
			require.True(t, proto.Equal(n1, rec), "record %v, map has %v", rec, n1)
			if tc.gone {
				require.Nil(t, n1)
				require.Len(t, m.Nodes, 1)
				return
			}
			require.NotNil(t, n1)
			require.Equal(t, tc.wantState, n1.State)
		})
	}
}

// TestRebalanceSetting checks the committed rebalance setting.
func TestRebalanceSetting(t *testing.T) {
	h := newHarness(t)
	st, err := h.f.Rebalance()
	require.NoError(t, err)
	require.False(t, st.Running, "none committed: stopped")
	tests := []struct {
		name    string
		running bool
		band    float64
		code    metapb.ErrorCode
		want    *metapb.RebalanceState
	}{
		{"start", true, 5, metapb.ErrorCode_OK, &metapb.RebalanceState{Running: true, BandPercent: 5}},
		{"band out of range", true, 100, metapb.ErrorCode_INVALID_ARGUMENT, &metapb.RebalanceState{Running: true, BandPercent: 5}},
		{"negative band", true, -1, metapb.ErrorCode_INVALID_ARGUMENT, &metapb.RebalanceState{Running: true, BandPercent: 5}},
		{"stop", false, 5, metapb.ErrorCode_OK, &metapb.RebalanceState{BandPercent: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.apply(&metapb.Command{Op: &metapb.Command_SetRebalance{SetRebalance: &metapb.SetRebalance{Running: tc.running, BandPercent: tc.band}}})
			require.Equal(t, tc.code, res.Code, res.Message)
			st, err := h.f.Rebalance()
			require.NoError(t, err)
			require.Equal(t, tc.want.Running, st.Running)
			require.Equal(t, tc.want.BandPercent, st.BandPercent)
		})
	}
}
