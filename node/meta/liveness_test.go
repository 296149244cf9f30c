package meta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

func drive(id string, st metapb.DriveState, fault string, free uint64) *metapb.Drive {
	return &metapb.Drive{DriveId: id, State: st, Fault: fault, CapacityBytes: 1000, FreeBytes: free}
}

const (
	active   = metapb.DriveState_DRIVE_ACTIVE
	failed   = metapb.DriveState_DRIVE_FAILED
	draining = metapb.DriveState_DRIVE_DRAINING
)

// TestDecide checks the leader's liveness decisions on their own: what a
// heartbeat or the passing of time commits, by the leader's clock.
func TestDecide(t *testing.T) {
	sec := int64(time.Second)
	rules := livenessRules{now: 1000 * sec, since: 900 * sec, nodeTimeout: 6 * sec, downAfter: 60 * sec}
	rec := func(down bool, drives ...*metapb.Drive) *metapb.Node {
		return &metapb.Node{NodeId: "s1", Addr: "a:1", FailureDomain: "r1", Drives: drives, Down: down}
	}
	hb := func(drives ...*metapb.Drive) *metapb.Node {
		return &metapb.Node{NodeId: "s1", Addr: "a:1", FailureDomain: "r1", Drives: drives}
	}
	seenAt := func(at int64, n *metapb.Node) map[string]sighting {
		return map[string]sighting{"s1": {at: at, node: n}}
	}
	record := func(n *metapb.Node, at int64) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_NodeHeartbeat{NodeHeartbeat: &metapb.NodeHeartbeat{Node: n, UnixNano: at}}}
	}
	down := func(d bool) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_SetNodeDown{SetNodeDown: &metapb.SetNodeDown{NodeId: "s1", Down: d, UnixNano: rules.now}}}
	}
	driveState := func(id string, st metapb.DriveState, reason string) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_SetDriveState{SetDriveState: &metapb.SetDriveState{NodeId: "s1", DriveId: id, State: st, Reason: reason}}}
	}
	tests := []struct {
		name    string
		records []*metapb.Node
		seen    map[string]sighting
		rules   livenessRules
		want    []*metapb.Command
	}{
		{
			name: "new node: a pending record without free space",
			seen: seenAt(rules.now, hb(drive("d1", active, "", 500))),
			want: []*metapb.Command{record(&metapb.Node{NodeId: "s1", Addr: "a:1", FailureDomain: "r1", State: metapb.NodeState_NODE_PENDING,
				Drives: []*metapb.Drive{{DriveId: "d1", CapacityBytes: 1000}}}, rules.now)},
		},
		{
			name:  "new node with auto-admit: an active record",
			seen:  seenAt(rules.now, hb(drive("d1", active, "", 500))),
			rules: livenessRules{now: rules.now, since: rules.since, nodeTimeout: rules.nodeTimeout, downAfter: rules.downAfter, autoAdmit: true},
			want: []*metapb.Command{record(&metapb.Node{NodeId: "s1", Addr: "a:1", FailureDomain: "r1",
				Drives: []*metapb.Drive{{DriveId: "d1", CapacityBytes: 1000}}}, rules.now)},
		},
		{
			name:    "steady heartbeat: nothing, whatever the free space",
			records: []*metapb.Node{rec(false, drive("d1", active, "", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", active, "", 123))),
		},
		{
			name:    "address changes: a new record",
			records: []*metapb.Node{rec(false, drive("d1", active, "", 0))},
			seen:    seenAt(rules.now, &metapb.Node{NodeId: "s1", Addr: "a:2", FailureDomain: "r1", Drives: []*metapb.Drive{drive("d1", active, "", 1)}}),
			want: []*metapb.Command{record(&metapb.Node{NodeId: "s1", Addr: "a:2", FailureDomain: "r1",
				Drives: []*metapb.Drive{{DriveId: "d1", CapacityBytes: 1000}}}, rules.now)},
		},
		{
			name:    "drive added: a new record keeps the committed states",
			records: []*metapb.Node{rec(false, drive("d1", draining, "", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", active, "", 1), drive("d2", active, "", 1))),
			want: []*metapb.Command{record(&metapb.Node{NodeId: "s1", Addr: "a:1", FailureDomain: "r1",
				Drives: []*metapb.Drive{{DriveId: "d1", CapacityBytes: 1000, State: draining}, {DriveId: "d2", CapacityBytes: 1000}}}, rules.now)},
		},
		{
			name:    "drive reported failed",
			records: []*metapb.Node{rec(false, drive("d1", active, "", 0), drive("d2", active, "", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", active, "", 1), drive("d2", failed, "write: input/output error", 0))),
			want:    []*metapb.Command{driveState("d2", failed, "write: input/output error")},
		},
		{
			name:    "drive reported failed without a reason",
			records: []*metapb.Node{rec(false, drive("d1", active, "", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", failed, "", 0))),
			want:    []*metapb.Command{driveState("d1", failed, defaultFault)},
		},
		{
			name:    "failed drive, new reason: served, not committed",
			records: []*metapb.Node{rec(false, drive("d1", failed, "old", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", failed, "new", 0))),
		},
		{
			name:    "failed drive recovers",
			records: []*metapb.Node{rec(false, drive("d1", failed, "old", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", active, "", 1))),
			want:    []*metapb.Command{driveState("d1", active, "")},
		},
		{
			name:    "draining drive reported healthy stays draining",
			records: []*metapb.Node{rec(false, drive("d1", draining, "", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", active, "", 1))),
		},
		{
			name:    "silent, within the grace",
			records: []*metapb.Node{rec(false)},
			seen:    seenAt(rules.now-rules.downAfter, hb()),
		},
		{
			name:    "silent past the grace: down",
			records: []*metapb.Node{rec(false)},
			seen:    seenAt(rules.now-rules.downAfter-1, hb()),
			want:    []*metapb.Command{down(true)},
		},
		{
			name:    "never seen by this leader: grace counts from its start",
			records: []*metapb.Node{rec(false)},
			rules:   livenessRules{now: rules.now, since: rules.now - rules.downAfter, nodeTimeout: rules.nodeTimeout, downAfter: rules.downAfter},
		},
		{
			name:    "never seen by this leader, past the grace from its start: down",
			records: []*metapb.Node{rec(false)},
			rules:   livenessRules{now: rules.now, since: rules.now - rules.downAfter - 1, nodeTimeout: rules.nodeTimeout, downAfter: rules.downAfter},
			want:    []*metapb.Command{down(true)},
		},
		{
			name:    "seen before this leader started counts from its start",
			records: []*metapb.Node{rec(false)},
			seen:    seenAt(0, hb()),
			rules:   livenessRules{now: rules.now, since: rules.now - 10*sec, nodeTimeout: rules.nodeTimeout, downAfter: rules.downAfter},
		},
		{
			name:    "down already: nothing more",
			records: []*metapb.Node{rec(true)},
			seen:    seenAt(rules.now-10*rules.downAfter, hb()),
		},
		{
			name:    "down, heartbeats again: back",
			records: []*metapb.Node{rec(true, drive("d1", active, "", 0))},
			seen:    seenAt(rules.now, hb(drive("d1", active, "", 1))),
			want:    []*metapb.Command{down(false)},
		},
		{
			name:    "down, last heartbeat too old to count as up: stays down",
			records: []*metapb.Node{rec(true)},
			seen:    seenAt(rules.now-rules.nodeTimeout, hb()),
		},
		{
			name:    "down, never seen by this leader: stays down",
			records: []*metapb.Node{rec(true)},
			rules:   livenessRules{now: rules.now, since: rules.now, nodeTimeout: rules.nodeTimeout, downAfter: rules.downAfter},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rules
			if r == (livenessRules{}) {
				r = rules
			}
			got := decide(tc.records, tc.seen, r)
			require.Len(t, got, len(tc.want), "got %v", got)
			for i := range got {
				require.True(t, proto.Equal(tc.want[i], got[i]), "command %d: want %v, got %v", i, tc.want[i], got[i])
			}
		})
	}
}

// TestMerge checks the served view of a record: liveness and usage come
// from the soft state, states from the record unless a fault is reported.
func TestMerge(t *testing.T) {
	sec := int64(time.Second)
	r := livenessRules{now: 100 * sec, since: 50 * sec, nodeTimeout: 6 * sec, downAfter: 60 * sec}
	rec := func() *metapb.Node {
		return &metapb.Node{NodeId: "s1", LastHeartbeatUnixNano: 7, Drives: []*metapb.Drive{
			drive("d1", active, "", 999), drive("d2", draining, "", 999), drive("d3", active, "", 999),
		}}
	}
	t.Run("reported", func(t *testing.T) {
		n := rec()
		n.Version = "old"
		merge(n, sighting{at: 99 * sec, node: &metapb.Node{Version: "v2", Drives: []*metapb.Drive{
			drive("d1", active, "", 10), drive("d2", active, "", 20), drive("d3", failed, "io", 0),
		}}}, true, r)
		require.True(t, n.Up)
		require.Equal(t, "v2", n.Version, "the version is served from the last heartbeat")
		require.Equal(t, 99*sec, n.LastHeartbeatUnixNano)
		require.Equal(t, uint64(10), n.Drives[0].FreeBytes)
		require.Equal(t, draining, n.Drives[1].State)
		require.Equal(t, uint64(20), n.Drives[1].FreeBytes)
		require.Equal(t, failed, n.Drives[2].State, "a reported fault is served before it commits")
		require.Equal(t, "io", n.Drives[2].Fault)
	})
	t.Run("silent", func(t *testing.T) {
		n := rec()
		merge(n, sighting{at: 94 * sec, node: &metapb.Node{}}, true, r)
		require.False(t, n.Up)
	})
	t.Run("not seen by this leader, within its first timeout", func(t *testing.T) {
		n := rec()
		n.Version = "committed"
		merge(n, sighting{}, false, livenessRules{now: r.now, since: r.now - 1, nodeTimeout: r.nodeTimeout})
		require.True(t, n.Up)
		require.Equal(t, "committed", n.Version)
		require.Equal(t, int64(7), n.LastHeartbeatUnixNano)
		for _, d := range n.Drives {
			require.Zero(t, d.CapacityBytes, "usage unknown")
			require.Zero(t, d.FreeBytes, "usage unknown")
		}
	})
}

// hbNode is a storage node's heartbeat request.
func hbNode(id string, drives ...*metapb.Drive) *metapb.HeartbeatRequest {
	return &metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: id, Addr: "127.0.0.1:1", Drives: drives}}
}

// TestLivenessSoftState runs the leader's liveness on a real group with an
// injected clock: heartbeats are not Raft entries, a silent node is
// reported down at once and committed down after the grace, and comes back
// with its next heartbeat; a failed drive is committed and recovers.
func TestLivenessSoftState(t *testing.T) {
	clock := newFakeClock()
	const (
		timeout   = 3 * time.Second
		downAfter = 30 * time.Second
	)
	c := newTestCluster(t, 3, 3, func(_ int, cfg *Config) {
		cfg.Now = clock.Now
		cfg.NodeTimeout = timeout
		cfg.NodeDownAfter = downAfter
	})
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 60*time.Second)
	f := c.followers()[0]
	served := func() *metapb.Node {
		t.Helper()
		m, err := f.client.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
		require.NoError(t, err)
		require.Len(t, m.GetMap().GetNodes(), 1)
		return m.GetMap().GetNodes()[0]
	}
	committed := func() *metapb.Node {
		t.Helper()
		m, err := leader.node.fsm.ClusterMap()
		require.NoError(t, err)
		require.Len(t, m.GetNodes(), 1)
		return m.GetNodes()[0]
	}

	_, err := f.client.Heartbeat(ctx, hbNode("s1", drive("d1", active, "", 500)))
	require.NoError(t, err)
	require.Equal(t, uint64(0), committed().GetDrives()[0].GetFreeBytes(), "free space stays out of the log")
	require.Equal(t, uint64(500), served().GetDrives()[0].GetFreeBytes())

	// Heartbeats with new free space: no entry.
	applied := leader.node.fsm.AppliedIndex()
	for i := range 20 {
		_, err := leader.client.Heartbeat(ctx, hbNode("s1", drive("d1", active, "", uint64(400-i))))
		require.NoError(t, err)
		require.NoError(t, leader.node.reconcileLiveness(ctx))
	}
	require.Equal(t, applied, leader.node.fsm.AppliedIndex(), "steady heartbeats must not be Raft entries")
	require.Equal(t, uint64(381), served().GetDrives()[0].GetFreeBytes())

	// Silent: up=false after the node timeout, committed down after the
	// grace, not before.
	clock.Advance(timeout)
	require.False(t, served().GetUp())
	require.NoError(t, leader.node.reconcileLiveness(ctx))
	require.False(t, committed().GetDown())
	clock.Advance(downAfter - timeout + time.Nanosecond)
	require.NoError(t, leader.node.reconcileLiveness(ctx))
	require.True(t, committed().GetDown())
	require.Equal(t, clock.Now().UnixNano(), committed().GetDownSinceUnixNano())
	require.True(t, served().GetDown())

	// Back, and its drive fails.
	_, err = f.client.Heartbeat(ctx, hbNode("s1", drive("d1", failed, "read: input/output error", 0)))
	require.NoError(t, err)
	n := committed()
	require.False(t, n.GetDown())
	require.Zero(t, n.GetDownSinceUnixNano())
	require.Equal(t, failed, n.GetDrives()[0].GetState())
	require.Equal(t, "read: input/output error", n.GetDrives()[0].GetFault())
	require.True(t, served().GetUp())

	// The drive recovers.
	_, err = f.client.Heartbeat(ctx, hbNode("s1", drive("d1", active, "", 100)))
	require.NoError(t, err)
	require.Equal(t, active, committed().GetDrives()[0].GetState())

	// A new leader starts with empty soft state and gives the node one
	// node timeout from its start; the node is not committed down before
	// the grace has passed since then.
	c.stop(leader)
	clock.Advance(time.Hour)
	leader = c.waitLeader()
	f = leader
	require.True(t, served().GetUp(), "one node timeout from the new leader's start")
	require.Zero(t, served().GetDrives()[0].GetFreeBytes(), "usage unknown until the node reports")
	clock.Advance(timeout)
	require.False(t, served().GetUp())
	require.NoError(t, leader.node.reconcileLiveness(ctx))
	require.False(t, committed().GetDown())
	clock.Advance(downAfter)
	require.NoError(t, leader.node.reconcileLiveness(ctx))
	require.True(t, committed().GetDown())
}

// TestLivenessInterval: the liveness round runs a sixtieth of the node-down
// grace apart, never more often than every second nor less than every ten.
func TestLivenessInterval(t *testing.T) {
	tests := []struct {
		downAfter, want time.Duration
	}{
		{6 * time.Second, time.Second},
		{30 * time.Second, time.Second},
		{2 * time.Minute, 2 * time.Second},
		{DefaultNodeDownAfter, 10 * time.Second},
		{time.Hour, 10 * time.Second},
	}
	for _, tc := range tests {
		if got := livenessInterval(tc.downAfter); got != tc.want {
			t.Errorf("livenessInterval(%v) = %v, want %v", tc.downAfter, got, tc.want)
		}
	}
}
