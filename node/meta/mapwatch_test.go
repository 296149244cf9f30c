package meta

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestMapVersion: the version moves with everything placement and the
// clients' view depend on, and stays put when only soft state moves.
func TestMapVersion(t *testing.T) {
	base := &metapb.ClusterMap{Epoch: 7, Nodes: []*metapb.Node{
		{NodeId: "s1", Addr: "a:1", FailureDomain: "r1", Up: true, LastHeartbeatUnixNano: 100, Version: "v1",
			Drives: []*metapb.Drive{{DriveId: "d1", CapacityBytes: 1000, FreeBytes: 500}}},
		{NodeId: "s2", Addr: "a:2", FailureDomain: "r2", Up: true, LastHeartbeatUnixNano: 200,
			Drives: []*metapb.Drive{{DriveId: "d2", CapacityBytes: 1000, FreeBytes: 900}}},
	}}
	tests := []struct {
		name   string
		change func(m *metapb.ClusterMap)
		bumps  bool
	}{
		{"nothing", func(*metapb.ClusterMap) {}, false},
		{"heartbeat time", func(m *metapb.ClusterMap) { m.Nodes[0].LastHeartbeatUnixNano = 999 }, false},
		{"software version", func(m *metapb.ClusterMap) { m.Nodes[1].Version = "v2" }, false},
		{"free bytes", func(m *metapb.ClusterMap) { m.Nodes[0].Drives[0].FreeBytes = 1 }, false},
		{"capacity", func(m *metapb.ClusterMap) { m.Nodes[1].Drives[0].CapacityBytes = 5 }, false},
		{"epoch", func(m *metapb.ClusterMap) { m.Epoch++ }, true},
		{"node goes down (soft)", func(m *metapb.ClusterMap) { m.Nodes[1].Up = false }, true},
		{"node marked down", func(m *metapb.ClusterMap) { m.Nodes[1].Down, m.Nodes[1].DownSinceUnixNano = true, 5 }, true},
		{"state", func(m *metapb.ClusterMap) { m.Nodes[0].State = metapb.NodeState_NODE_DRAINING }, true},
		{"address", func(m *metapb.ClusterMap) { m.Nodes[0].Addr = "a:9" }, true},
		{"failure domain", func(m *metapb.ClusterMap) { m.Nodes[0].FailureDomain = "r9" }, true},
		{"drive state", func(m *metapb.ClusterMap) { m.Nodes[0].Drives[0].State = metapb.DriveState_DRIVE_FAILED }, true},
		{"drive fault", func(m *metapb.ClusterMap) { m.Nodes[0].Drives[0].Fault = "eio" }, true},
		{"drive added", func(m *metapb.ClusterMap) {
			m.Nodes[0].Drives = append(m.Nodes[0].Drives, &metapb.Drive{DriveId: "d3"})
		}, true},
		{"node added", func(m *metapb.ClusterMap) { m.Nodes = append(m.Nodes, &metapb.Node{NodeId: "s3"}) }, true},
		{"node removed", func(m *metapb.ClusterMap) { m.Nodes = m.Nodes[:1] }, true},
	}
	want := mapVersion(base)
	require.NotZero(t, want)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := proto.CloneOf(base)
			tt.change(m)
			got := mapVersion(m)
			require.Equal(t, tt.bumps, got != want, "version %x, base %x", got, want)
		})
	}
	// The soft state of the map itself is left alone.
	require.EqualValues(t, 100, base.Nodes[0].LastHeartbeatUnixNano)
}

// TestWatchClusterMap: the watch opens with the map on the leader and,
// relayed, on a follower; a new node reaches both streams with a new
// version; the streams end when the leader stops, so that a client
// reconnects or polls.
func TestWatchClusterMap(t *testing.T) {
	c := newTestCluster(t, 3, 3, func(_ int, cfg *Config) {
		cfg.WatchProgress = 50 * time.Millisecond
		cfg.MapRefresh = time.Hour
	})
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)

	type stream = interface {
		Recv() (*metapb.ClusterMapEvent, error)
	}
	open := map[string]stream{}
	first := map[string]uint64{}
	for name, tn := range map[string]*testNode{"leader": leader, "follower": c.followers()[0]} {
		st, err := tn.client.WatchClusterMap(ctx, &metapb.WatchClusterMapRequest{})
		require.NoError(t, err)
		ev, err := st.Recv()
		require.NoError(t, err, name)
		require.NotNil(t, ev.GetMap(), name)
		require.Equal(t, uint32(time.Hour.Milliseconds()), ev.GetRefreshIntervalMs(), name)
		require.Equal(t, mapVersion(ev.GetMap()), ev.GetVersion(), name)
		first[name] = ev.GetVersion()
		open[name] = st
	}

	_, err := leader.client.Heartbeat(ctx, &metapb.HeartbeatRequest{Node: &metapb.Node{
		NodeId: "s1", Addr: "127.0.0.1:1", Drives: []*metapb.Drive{{DriveId: "d1"}},
	}})
	require.NoError(t, err)
	for name, st := range open {
		// With an hour between refreshes, the next event is the change.
		ev, err := st.Recv()
		require.NoError(t, err, name)
		require.NotEqual(t, first[name], ev.GetVersion(), name)
		var ids []string
		for _, n := range ev.GetMap().GetNodes() {
			ids = append(ids, n.GetNodeId())
		}
		require.Contains(t, ids, "s1", name)
	}

	c.stop(leader)
	for name, st := range open {
		for {
			_, err := st.Recv()
			if err != nil {
				require.NotEqual(t, codes.OK, status.Code(err), name)
				break
			}
		}
	}
}
