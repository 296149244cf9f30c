package clustermap

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeMeta serves a settable map; embedding the interface leaves every other
// method nil, which a test would notice by a panic in the fake only.
type fakeMeta struct {
	metapb.MetaClient
	mu    sync.Mutex
	m     *metapb.ClusterMap
	err   error
	calls int // GetClusterMap calls
	// events feeds WatchClusterMap streams; nil: Unimplemented.
	events  chan *metapb.ClusterMapEvent
	watches int // WatchClusterMap streams opened
}

func (f *fakeMeta) set(m *metapb.ClusterMap, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m, f.err = m, err
}

func (f *fakeMeta) GetClusterMap(context.Context, *metapb.GetClusterMapRequest, ...grpc.CallOption) (*metapb.GetClusterMapResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &metapb.GetClusterMapResponse{Map: f.m}, nil
}

// WatchClusterMap serves the events sent on f.events, one stream at a
// time, or Unimplemented when f.events is nil (a meta group that does not
// serve it: the cache polls).
func (f *fakeMeta) WatchClusterMap(ctx context.Context, _ *metapb.WatchClusterMapRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.ClusterMapEvent], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.events == nil {
		return nil, status.Error(codes.Unimplemented, "fake: no watch")
	}
	f.watches++
	return &fakeWatch{ctx: ctx, events: f.events}, nil
}

// fakeWatch is one stream: Recv returns the next event, the error sent as
// an event's absence (a nil event ends the stream), or the context's end.
type fakeWatch struct {
	grpc.ClientStream
	ctx    context.Context
	events chan *metapb.ClusterMapEvent
}

func (w *fakeWatch) Recv() (*metapb.ClusterMapEvent, error) {
	select {
	case ev := <-w.events:
		if ev == nil {
			return nil, status.Error(codes.Unavailable, "fake: leadership lost")
		}
		return ev, nil
	case <-w.ctx.Done():
		return nil, status.FromContextError(w.ctx.Err()).Err()
	}
}

func (f *fakeMeta) counts() (polls, watches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.watches
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func sampleMap(epoch uint64) *metapb.ClusterMap {
	return &metapb.ClusterMap{Epoch: epoch, Nodes: []*metapb.Node{
		{NodeId: "n1", Addr: "10.0.0.1:7000", FailureDomain: "rack1", Up: true, State: metapb.NodeState_NODE_ACTIVE,
			Drives: []*metapb.Drive{
				{DriveId: "d1", CapacityBytes: 100, FreeBytes: 40, State: metapb.DriveState_DRIVE_ACTIVE},
				{DriveId: "d2", CapacityBytes: 100, FreeBytes: 90, State: metapb.DriveState_DRIVE_FAILED},
				{DriveId: "d3", CapacityBytes: 100, FreeBytes: 90, State: metapb.DriveState_DRIVE_DRAINING},
			}},
		{NodeId: "n2", Addr: "10.0.0.2:7000", FailureDomain: "rack2", Up: false, State: metapb.NodeState_NODE_DRAINING},
		{NodeId: "n3", Addr: "", Up: true},
		{NodeId: "n4", Addr: "10.0.0.4:7000", Up: true, Down: true, DownSinceUnixNano: 5},
	}}
}

func TestConvert(t *testing.T) {
	c := New(Config{Meta: &fakeMeta{m: sampleMap(3)}, Logger: testLogger(t)})
	require.NoError(t, c.Refresh(context.Background()))
	want := placement.Map{Epoch: 3, Reserve: placement.DefaultReserve, Nodes: []placement.Node{
		{ID: "n1", Domain: "rack1", Up: true, Drives: []placement.Drive{
			{ID: "d1", CapacityBytes: 100, FreeBytes: 40, Active: true},
			{ID: "d2", CapacityBytes: 100, FreeBytes: 90},
			{ID: "d3", CapacityBytes: 100, FreeBytes: 90},
		}},
		{ID: "n2", Domain: "rack2", Up: false, Draining: true, Drives: []placement.Drive{}},
		{ID: "n3", Up: true, Drives: []placement.Drive{}},
		{ID: "n4", Up: true, Down: true, Drives: []placement.Drive{}},
	}}
	require.Equal(t, want, c.Map())

	// A reserve set by the operator replaces the default.
	r := placement.Reserve{Bytes: 7}
	c = New(Config{Meta: &fakeMeta{m: sampleMap(3)}, Logger: testLogger(t), Reserve: &r})
	require.NoError(t, c.Refresh(context.Background()))
	require.Equal(t, r, c.Map().Reserve)

	tests := []struct {
		node placement.NodeID
		addr string
		ok   bool
	}{
		{"n1", "10.0.0.1:7000", true},
		{"n2", "10.0.0.2:7000", true},
		{"n3", "", false},
		{"nope", "", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.node), func(t *testing.T) {
			addr, ok := c.Addr(tc.node)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.addr, addr)
		})
	}
}

func TestRefreshKeepsNewestEpoch(t *testing.T) {
	f := &fakeMeta{m: sampleMap(5)}
	c := New(Config{Meta: f, Logger: testLogger(t)})
	require.NoError(t, c.Refresh(context.Background()))

	f.set(&metapb.ClusterMap{Epoch: 4}, nil)
	require.NoError(t, c.Refresh(context.Background()))
	require.EqualValues(t, 5, c.Map().Epoch)
	require.Len(t, c.Map().Nodes, 4)

	// Same epoch, changed liveness: taken, since up is computed when served.
	m := sampleMap(5)
	m.Nodes[0].Up = false
	f.set(m, nil)
	require.NoError(t, c.Refresh(context.Background()))
	require.False(t, c.Map().Nodes[0].Up)

	boom := errors.New("boom")
	f.set(nil, boom)
	require.ErrorIs(t, c.Refresh(context.Background()), boom)
	require.EqualValues(t, 5, c.Map().Epoch, "failed poll keeps the last map")
}

func TestSuspect(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Unix(1000, 0)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }

	c := New(Config{Meta: &fakeMeta{m: sampleMap(1)}, Logger: testLogger(t), Now: clock})
	require.NoError(t, c.Refresh(context.Background()))
	up := func(id placement.NodeID) bool {
		for _, n := range c.Map().Nodes {
			if n.ID == id {
				return n.Up
			}
		}
		t.Fatalf("node %s missing", id)
		return false
	}

	c.Suspect("n1", 10*time.Second)
	c.Suspect("n1", time.Second) // does not shorten
	require.False(t, up("n1"))
	require.True(t, up("n3"))
	advance(9 * time.Second)
	require.False(t, up("n1"))
	advance(time.Second)
	require.True(t, up("n1"))

	// Suspecting a node that the meta group already reports down changes nothing.
	c.Suspect("n2", time.Minute)
	require.False(t, up("n2"))
}

func TestStartPollsUntilClose(t *testing.T) {
	f := &fakeMeta{m: sampleMap(1)}
	c := New(Config{Meta: f, Interval: time.Millisecond, Logger: testLogger(t)})
	require.NoError(t, c.Start(context.Background()))
	require.ErrorIs(t, c.Start(context.Background()), ErrStarted)

	waitFor(t, func() bool { return c.Map().Epoch == 1 })
	f.set(nil, errors.New("meta down"))
	f.set(sampleMap(2), nil)
	waitFor(t, func() bool { return c.Map().Epoch == 2 })

	c.Close()
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	f.set(sampleMap(3), nil)
	// After Close returns the poller has exited, so no further call happens.
	f.mu.Lock()
	require.Equal(t, calls, f.calls)
	f.mu.Unlock()
	require.EqualValues(t, 2, c.Map().Epoch)
}

func TestStartStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Config{Meta: &fakeMeta{m: sampleMap(1)}, Logger: testLogger(t)})
	require.NoError(t, c.Start(ctx))
	cancel()
	c.Close() // returns only once the poller has exited
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Meta: &fakeMeta{}}, true},
		{"no meta", Config{}, false},
		{"negative interval", Config{Meta: &fakeMeta{}, Interval: -time.Second}, false},
		{"no reserve", Config{Meta: &fakeMeta{}, Reserve: &placement.Reserve{}}, true},
		{"reserve of the whole drive", Config{Meta: &fakeMeta{}, Reserve: &placement.Reserve{Percent: 100}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorIs(t, New(tc.cfg).Start(context.Background()), ErrInvalidConfig)
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before deadline")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFreshHeartbeatEndsSuspicion: a node suspected after a failed call is
// used again as soon as a refreshed map shows a heartbeat stamped after the
// suspicion began; a heartbeat from before (the frozen node's last one)
// does not count.
func TestFreshHeartbeatEndsSuspicion(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	f := &fakeMeta{}
	withBeat := func(beat time.Time) *metapb.ClusterMap {
		m := sampleMap(1)
		m.Nodes[0].LastHeartbeatUnixNano = beat.UnixNano()
		return m
	}
	f.set(withBeat(now.Add(-time.Second)), nil)
	c := New(Config{Meta: f, Logger: testLogger(t), Now: clock})
	require.NoError(t, c.Refresh(context.Background()))

	c.Suspect("n1", time.Hour)
	require.False(t, c.Map().Nodes[0].Up)

	// The same old heartbeat, refreshed: still suspected.
	require.NoError(t, c.Refresh(context.Background()))
	require.False(t, c.Map().Nodes[0].Up)

	// A heartbeat from after the suspicion: the node is back.
	f.set(withBeat(now.Add(2*time.Second)), nil)
	require.NoError(t, c.Refresh(context.Background()))
	require.True(t, c.Map().Nodes[0].Up)
}

func TestSuspectDrive(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	c := New(Config{Meta: &fakeMeta{m: sampleMap(1)}, Logger: testLogger(t), Now: clock})
	require.NoError(t, c.Refresh(context.Background()))

	c.SuspectDrive("d1", 10*time.Second)
	m := c.Map()
	require.True(t, m.Nodes[0].Up, "a full drive is not a down node")
	require.False(t, m.Nodes[0].Drives[0].Active)
	// The cached map is not changed by the view.
	c.mu.Lock()
	require.True(t, c.mu.m.Nodes[0].Drives[0].Active)
	c.mu.Unlock()

	now = now.Add(10 * time.Second)
	require.True(t, c.Map().Nodes[0].Drives[0].Active)
}

// TestWatch: a watching cache takes its maps from the stream and does not
// poll; when the stream ends it polls once and reopens it; a stream
// silent for several refresh intervals is reopened too.
func TestWatch(t *testing.T) {
	f := &fakeMeta{m: sampleMap(1), events: make(chan *metapb.ClusterMapEvent)}
	c := New(Config{Meta: f, Interval: time.Millisecond, Logger: testLogger(t)})
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(c.Close)

	hour := uint32(time.Hour.Milliseconds())
	f.events <- &metapb.ClusterMapEvent{Map: sampleMap(5), Version: 1, RefreshIntervalMs: hour}
	waitFor(t, func() bool { return c.Map().Epoch == 5 })
	f.events <- &metapb.ClusterMapEvent{Map: sampleMap(6), Version: 2, RefreshIntervalMs: hour}
	waitFor(t, func() bool { return c.Map().Epoch == 6 })
	polls, watches := f.counts()
	require.Zero(t, polls, "polled while the watch was up")
	require.Equal(t, 1, watches)

	// The leader ends the stream: one poll (an older epoch there changes
	// nothing), then a new stream.
	f.events <- nil
	waitFor(t, func() bool { _, w := f.counts(); return w == 2 })
	polls, _ = f.counts()
	require.Positive(t, polls)
	require.EqualValues(t, 6, c.Map().Epoch, "a poll answered with an older epoch undid the watched map")
	f.events <- &metapb.ClusterMapEvent{Map: sampleMap(7), Version: 3, RefreshIntervalMs: hour}
	waitFor(t, func() bool { return c.Map().Epoch == 7 })

	// A stream that promised an event every millisecond and went silent is
	// given up and reopened.
	f.events <- &metapb.ClusterMapEvent{Map: sampleMap(8), Version: 4, RefreshIntervalMs: 1}
	waitFor(t, func() bool { _, w := f.counts(); return w >= 3 })
}

// TestCaughtUp: the cache has caught up with a served map when it holds
// its epoch (or a later one) and every node served as up is known, at
// the same address, and up; its own suspicions do not count.
func TestCaughtUp(t *testing.T) {
	c := New(Config{Meta: &fakeMeta{m: sampleMap(5)}, Logger: testLogger(t)})
	require.Error(t, c.CaughtUp(sampleMap(5)), "an empty cache is behind")
	require.NoError(t, c.Refresh(context.Background()))

	withNode := func(n *metapb.Node) *metapb.ClusterMap {
		m := sampleMap(5)
		m.Nodes = append(m.Nodes, n)
		return m
	}
	for _, tc := range []struct {
		name   string
		served *metapb.ClusterMap
		behind string // "" when caught up
	}{
		{"same map", sampleMap(5), ""},
		{"older served map", sampleMap(4), ""},
		{"newer epoch", sampleMap(6), "epoch 5"},
		{"a node it does not know", withNode(&metapb.Node{NodeId: "n5", Addr: "10.0.0.5:7000", Up: true}), "n5"},
		{"a node it does not know, down", withNode(&metapb.Node{NodeId: "n5", Addr: "10.0.0.5:7000"}), ""},
		{"a node up again", func() *metapb.ClusterMap { m := sampleMap(5); m.Nodes[1].Up = true; return m }(), "n2"},
		{"a node at a new address", func() *metapb.ClusterMap { m := sampleMap(5); m.Nodes[0].Addr = "10.0.0.9:7000"; return m }(), "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CaughtUp(tc.served)
			if tc.behind == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.behind)
		})
	}

	c.Suspect("n1", time.Minute)
	require.NoError(t, c.CaughtUp(sampleMap(5)), "a local suspicion is not lag")
}
