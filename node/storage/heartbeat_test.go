package storage

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeMeta records heartbeats; it fails them while down is set.
type fakeMeta struct {
	metapb.UnimplementedMetaServer
	mu struct {
		sync.Mutex
		down  bool
		nodes []*metapb.Node
		// group is the gRPC addresses Status names as voters, and
		// leader the one it names as leader.
		group  []string
		leader string
	}
}

func (f *fakeMeta) Status(context.Context, *metapb.StatusRequest) (*metapb.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.down {
		return nil, status.Error(codes.Unavailable, "down")
	}
	st := &metapb.StatusResponse{LeaderAddr: f.mu.leader}
	for _, a := range f.mu.group {
		st.VoterInfo = append(st.VoterInfo, &metapb.VoterInfo{Id: a, GrpcAddr: a, Suffrage: "Voter"})
	}
	return st, nil
}

func (f *fakeMeta) setLeader(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.leader = addr
}

func (f *fakeMeta) setGroup(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.group = addrs
}

func (f *fakeMeta) Heartbeat(_ context.Context, req *metapb.HeartbeatRequest) (*metapb.HeartbeatResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.down {
		return nil, status.Error(codes.Unavailable, "not leader")
	}
	f.mu.nodes = append(f.mu.nodes, req.GetNode())
	return &metapb.HeartbeatResponse{Epoch: 1}, nil
}

func (f *fakeMeta) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.down = down
}

func (f *fakeMeta) received() []*metapb.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*metapb.Node(nil), f.mu.nodes...)
}

func startFakeMeta(t *testing.T) (*fakeMeta, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeMeta{}
	g := grpc.NewServer(grpc.WaitForHandlers(true))
	metapb.RegisterMetaServer(g, f)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		require.NoError(t, <-served)
	})
	return f, lis.Addr().String()
}

// deadAddr is an address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	return addr
}

func TestHeartbeat(t *testing.T) {
	down, downAddr := startFakeMeta(t)
	down.setDown(true)
	live, liveAddr := startFakeMeta(t)

	e := startServer(t, Config{
		NodeID:            "node-7",
		Addr:              "10.0.0.7:7000",
		FailureDomain:     "rack-2",
		MetaAddrs:         []string{deadAddr(t), downAddr, liveAddr},
		HeartbeatInterval: 5 * time.Millisecond,
	})
	e.srv.Start(t.Context())
	e.srv.Start(t.Context()) // a second Start is a no-op

	require.Eventually(t, func() bool { return len(live.received()) >= 3 }, 20*time.Second, time.Millisecond)
	n := live.received()[0]
	require.Equal(t, "node-7", n.GetNodeId())
	require.Equal(t, "10.0.0.7:7000", n.GetAddr())
	require.Equal(t, "rack-2", n.GetFailureDomain())
	var ids []string
	for _, d := range n.GetDrives() {
		ids = append(ids, d.GetDriveId())
		require.Positive(t, d.GetCapacityBytes())
		require.LessOrEqual(t, d.GetFreeBytes(), d.GetCapacityBytes())
		require.Equal(t, metapb.DriveState_DRIVE_ACTIVE, d.GetState())
	}
	require.Equal(t, e.srv.DriveIDs(), ids)

	// When the meta that answered fails, the next one takes over.
	live.setDown(true)
	down.setDown(false)
	require.Eventually(t, func() bool { return len(down.received()) >= 2 }, 20*time.Second, time.Millisecond)

	require.NoError(t, e.srv.Close())
	require.NoError(t, e.srv.Close(), "Close is idempotent")
}

func TestStartAfterCloseIsNoop(t *testing.T) {
	_, liveAddr := startFakeMeta(t)
	s, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, FormatDrives: true, Drives: []string{t.TempDir()}, MetaAddrs: []string{liveAddr}, Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s.Start(t.Context())
	s.mu.Lock()
	started := s.mu.started
	s.mu.Unlock()
	require.False(t, started)
}

func TestHeartbeatReportsFailedDrive(t *testing.T) {
	live, liveAddr := startFakeMeta(t)
	ffs := faultfs.New(vfs.Default)
	bad := t.TempDir()
	e := startServer(t, Config{Drives: []string{t.TempDir(), bad}, FS: ffs, MetaAddrs: []string{liveAddr}, HeartbeatInterval: time.Millisecond})
	ffs.Inject(faultfs.Rule{Op: faultfs.OpDiskUsage, PathContains: bad})
	e.srv.Start(t.Context())
	require.Eventually(t, func() bool { return len(live.received()) >= 1 }, 20*time.Second, time.Millisecond)
	drives := live.received()[0].GetDrives()
	require.Len(t, drives, 2)
	require.Equal(t, metapb.DriveState_DRIVE_ACTIVE, drives[0].GetState())
	require.Equal(t, metapb.DriveState_DRIVE_FAILED, drives[1].GetState())
	require.Zero(t, drives[1].GetFreeBytes())
}

func TestHeartbeatStopsWithContext(t *testing.T) {
	live, liveAddr := startFakeMeta(t)
	e := startServer(t, Config{MetaAddrs: []string{liveAddr}, HeartbeatInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	e.srv.Start(ctx)
	require.Eventually(t, func() bool { return len(live.received()) >= 1 }, 20*time.Second, time.Millisecond)
	cancel()
	// Close joins the loop, which ended with its context.
	require.NoError(t, e.srv.Close())
}

func TestNoMetaNoHeartbeats(t *testing.T) {
	e := startServer(t, Config{ScrubInterval: -1})
	e.srv.Start(t.Context())
	e.srv.mu.Lock()
	heartbeats := e.srv.mu.heartbeats
	e.srv.mu.Unlock()
	require.False(t, heartbeats)
}

// A storage node learns the group's voters and heartbeats to a learnt one
// once its only configured address is down.
func TestHeartbeatLearnsVoters(t *testing.T) {
	configured, configuredAddr := startFakeMeta(t)
	added, addedAddr := startFakeMeta(t)
	configured.setGroup(configuredAddr, addedAddr)
	added.setGroup(configuredAddr, addedAddr)

	e := startServer(t, Config{MetaAddrs: []string{configuredAddr}, HeartbeatInterval: 5 * time.Millisecond})
	e.srv.Start(t.Context())
	require.Eventually(t, func() bool { return e.srv.metas.count() == 2 }, 20*time.Second, time.Millisecond)
	configured.setDown(true)
	require.Eventually(t, func() bool { return len(added.received()) >= 2 }, 20*time.Second, time.Millisecond)

	// Removed from the group, the learnt voter is forgotten; the
	// configured one never is.
	added.setGroup(configuredAddr)
	configured.setGroup(configuredAddr)
	configured.setDown(false)
	require.Eventually(t, func() bool { return e.srv.metas.count() == 1 }, 20*time.Second, time.Millisecond)
	require.NoError(t, e.srv.Close())
}

// Once it has learnt who leads, a storage node heartbeats to the leader
// rather than to a follower that would forward every beat.
func TestHeartbeatGoesToLeader(t *testing.T) {
	follower, followerAddr := startFakeMeta(t)
	leader, leaderAddr := startFakeMeta(t)
	for _, m := range []*fakeMeta{follower, leader} {
		m.setGroup(followerAddr, leaderAddr)
		m.setLeader(leaderAddr)
	}
	e := startServer(t, Config{MetaAddrs: []string{followerAddr, leaderAddr}, HeartbeatInterval: 5 * time.Millisecond})
	e.srv.Start(t.Context())
	require.Eventually(t, func() bool { return len(leader.received()) >= 3 }, 20*time.Second, time.Millisecond)
	// The first beat went to the first configured address; after the
	// lookup that follows it, none did.
	n := len(follower.received())
	require.Eventually(t, func() bool { return len(leader.received()) >= 10 }, 20*time.Second, time.Millisecond)
	require.Equal(t, n, len(follower.received()))
	require.LessOrEqual(t, n, 1)
	require.NoError(t, e.srv.Close())
}
