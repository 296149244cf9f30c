package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func setNodeDown(id string, down bool, unix int64) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_SetNodeDown{SetNodeDown: &metapb.SetNodeDown{NodeId: id, Down: down, UnixNano: unix}}}
}

func setDriveState(node, drive string, st metapb.DriveState, reason string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_SetDriveState{SetDriveState: &metapb.SetDriveState{
		NodeId: node, DriveId: drive, State: st, Reason: reason,
	}}}
}

func mapNode(t *testing.T, f *FSM, id string) (*metapb.Node, uint64) {
	t.Helper()
	m, err := f.ClusterMap()
	require.NoError(t, err)
	for _, n := range m.Nodes {
		if n.NodeId == id {
			return n, m.Epoch
		}
	}
	t.Fatalf("node %q not in the map", id)
	return nil, 0
}

func TestSetNodeDown(t *testing.T) {
	h := newHarness(t)
	h.mustApply(heartbeat("n1", "a:1", "r1", 10, &metapb.Drive{DriveId: "d1"}))
	tests := []struct {
		name      string
		cmd       *metapb.Command
		code      metapb.ErrorCode
		wantDown  bool
		wantSince int64
		wantEpoch uint64
	}{
		{"down past grace", setNodeDown("n1", true, 500), metapb.ErrorCode_OK, true, 500, 2},
		{"retried: keeps the first time", setNodeDown("n1", true, 600), metapb.ErrorCode_OK, true, 500, 2},
		{"a heartbeat record keeps it down", heartbeat("n1", "a:2", "r1", 700, &metapb.Drive{DriveId: "d1"}), metapb.ErrorCode_OK, true, 500, 3},
		{"back", setNodeDown("n1", false, 800), metapb.ErrorCode_OK, false, 0, 4},
		{"back again is a no-op", setNodeDown("n1", false, 900), metapb.ErrorCode_OK, false, 0, 4},
		{"unknown node", setNodeDown("n9", true, 900), metapb.ErrorCode_INVALID_ARGUMENT, false, 0, 4},
		{"empty node ID", setNodeDown("", true, 900), metapb.ErrorCode_INVALID_ARGUMENT, false, 0, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.apply(tc.cmd)
			require.Equal(t, tc.code, res.Code, res.Message)
			n, epoch := mapNode(t, h.f, "n1")
			require.Equal(t, tc.wantDown, n.Down)
			require.Equal(t, tc.wantSince, n.DownSinceUnixNano)
			require.Equal(t, tc.wantEpoch, epoch)
		})
	}
}

func TestSetDriveState(t *testing.T) {
	h := newHarness(t)
	h.mustApply(heartbeat("n1", "a:1", "r1", 10, &metapb.Drive{DriveId: "d1"}, &metapb.Drive{DriveId: "d2"}))
	failed, active, draining := metapb.DriveState_DRIVE_FAILED, metapb.DriveState_DRIVE_ACTIVE, metapb.DriveState_DRIVE_DRAINING
	tests := []struct {
		name      string
		cmd       *metapb.Command
		code      metapb.ErrorCode
		wantState metapb.DriveState
		wantFault string
		wantEpoch uint64
	}{
		{"failed with a reason", setDriveState("n1", "d1", failed, "read: input/output error"), metapb.ErrorCode_OK, failed, "read: input/output error", 2},
		{"same again", setDriveState("n1", "d1", failed, "read: input/output error"), metapb.ErrorCode_OK, failed, "read: input/output error", 2},
		{"new reason only: no new map", setDriveState("n1", "d1", failed, "directory missing"), metapb.ErrorCode_OK, failed, "directory missing", 2},
		{"recovered clears the reason", setDriveState("n1", "d1", active, "stale"), metapb.ErrorCode_OK, active, "", 3},
		{"draining", setDriveState("n1", "d1", draining, ""), metapb.ErrorCode_OK, draining, "", 4},
		{"unknown drive", setDriveState("n1", "d9", failed, "x"), metapb.ErrorCode_INVALID_ARGUMENT, draining, "", 4},
		{"unknown node", setDriveState("n9", "d1", failed, "x"), metapb.ErrorCode_INVALID_ARGUMENT, draining, "", 4},
		{"unknown state", setDriveState("n1", "d1", metapb.DriveState(42), "x"), metapb.ErrorCode_INVALID_ARGUMENT, draining, "", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.apply(tc.cmd)
			require.Equal(t, tc.code, res.Code, res.Message)
			n, epoch := mapNode(t, h.f, "n1")
			require.Equal(t, "d1", n.Drives[0].DriveId)
			require.Equal(t, tc.wantState, n.Drives[0].State)
			require.Equal(t, tc.wantFault, n.Drives[0].Fault)
			require.Equal(t, active, n.Drives[1].State, "the other drive is untouched")
			require.Equal(t, tc.wantEpoch, epoch)
		})
	}
}

func TestAckGCPerShard(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	for _, d := range []string{"d1", "d2", "d3", "d4"} {
		h.mustApply(putObject("b", "k", "null", d)) // each replaces the last
	}
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 3)
	s1, s2, s3 := gc[0].Seq, gc[1].Seq, gc[2].Seq

	// Shards 0 and 2 of the first entry are gone, shard 1's node is out of
	// reach; the second entry is done; indexes out of range and entries
	// already gone are ignored.
	h.mustApply(&metapb.Command{Op: &metapb.Command_AckGc{AckGc: &metapb.AckGC{
		Seqs: []uint64{s2},
		Shards: []*metapb.GCShardAck{
			{Seq: s1, Indexes: []uint32{0, 2, 7}},
			{Seq: 9999, Indexes: []uint32{0}},
		},
	}}})
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 2)
	require.Equal(t, s1, gc[0].Seq)
	require.Equal(t, []*metapb.ShardPlacement{{}, {NodeId: "n2", DriveId: "d1"}, {}}, cloneShards(gc[0].Shards))
	require.Equal(t, s3, gc[1].Seq)

	// Paging resumes after a seq.
	page, err := h.f.PendingGCAfter(s1, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, s3, page[0].Seq)
	page, err = h.f.PendingGCAfter(0, 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, s1, page[0].Seq)
	page, err = h.f.PendingGCAfter(s3, 10)
	require.NoError(t, err)
	require.Empty(t, page)

	// The last shard acknowledged with the entry itself: the body's
	// commit record goes with it, as for a whole ack.
	h.mustApply(&metapb.Command{Op: &metapb.Command_AckGc{AckGc: &metapb.AckGC{
		Seqs:   []uint64{s1},
		Shards: []*metapb.GCShardAck{{Seq: s1, Indexes: []uint32{1}}},
	}}})
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, s3, gc[0].Seq)
}
