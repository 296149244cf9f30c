package metaclient

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeMeta answers Status with its name, or fails every call with err.
type fakeMeta struct {
	metapb.UnimplementedMetaServer
	name  string
	calls atomic.Int64
	mu    sync.Mutex
	err   error
	// group, when set, is the gRPC addresses Status names as voters.
	group []string
}

func (f *fakeMeta) setGroup(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.group = addrs
}

func (f *fakeMeta) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeMeta) Status(context.Context, *metapb.StatusRequest) (*metapb.StatusResponse, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	st := &metapb.StatusResponse{NodeId: f.name}
	for _, a := range f.group {
		st.VoterInfo = append(st.VoterInfo, &metapb.VoterInfo{Id: a, GrpcAddr: a, Suffrage: "Voter"})
	}
	return st, nil
}

func (f *fakeMeta) GetClusterMap(context.Context, *metapb.GetClusterMapRequest) (*metapb.GetClusterMapResponse, error) {
	f.calls.Add(1)
	return &metapb.GetClusterMapResponse{Map: &metapb.ClusterMap{Epoch: 7}}, nil
}

func startFake(t *testing.T, name string) (*fakeMeta, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	f := &fakeMeta{name: name}
	metapb.RegisterMetaServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return f, lis.Addr().String()
}

// deadAddr returns an address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	return addr
}

func newClient(t *testing.T, addrs ...string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addrs, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestDialNoAddrs(t *testing.T) {
	_, err := Dial(context.Background(), nil, nil)
	require.ErrorIs(t, err, ErrNoAddrs)
}

func TestFailover(t *testing.T) {
	a, addrA := startFake(t, "a")
	b, addrB := startFake(t, "b")
	dead := deadAddr(t)

	tests := []struct {
		name  string
		addrs []string
		want  string
	}{
		{"first up", []string{addrA, addrB}, "a"},
		{"first down", []string{dead, addrB}, "b"},
		{"two down", []string{dead, deadAddr(t), addrA}, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.addrs...)
			for i := 0; i < 3; i++ {
				resp, err := c.Status(context.Background(), &metapb.StatusRequest{})
				require.NoError(t, err)
				require.Equal(t, tc.want, resp.NodeId)
			}
			m, err := c.GetClusterMap(context.Background(), &metapb.GetClusterMapRequest{})
			require.NoError(t, err)
			require.EqualValues(t, 7, m.Map.Epoch)
		})
	}
	_ = a
	_ = b
}

func TestRemembersLastGood(t *testing.T) {
	a, addrA := startFake(t, "a")
	_, addrB := startFake(t, "b")
	c := newClient(t, addrA, addrB)

	a.setErr(status.Error(codes.Unavailable, "no leader"))
	resp, err := c.Status(context.Background(), &metapb.StatusRequest{})
	require.NoError(t, err)
	require.Equal(t, "b", resp.NodeId)

	// Once a recovers, calls still go to b first (Status names no
	// leader, so the node that answered last is preferred).
	a.setErr(nil)
	for i := 0; i < 5; i++ {
		resp, err = c.Status(context.Background(), &metapb.StatusRequest{})
		require.NoError(t, err)
		require.Equal(t, "b", resp.NodeId)
	}
}

func TestNoFailoverOnCallErrors(t *testing.T) {
	a, addrA := startFake(t, "a")
	b, addrB := startFake(t, "b")
	c := newClient(t, addrA, addrB)

	a.setErr(status.Error(codes.InvalidArgument, "bad"))
	_, err := c.Status(context.Background(), &metapb.StatusRequest{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Zero(t, b.calls.Load())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Status(ctx, &metapb.StatusRequest{})
	require.Equal(t, codes.Canceled, status.Code(err))
	require.Zero(t, b.calls.Load())
}

func TestAllDown(t *testing.T) {
	c := newClient(t, deadAddr(t), deadAddr(t))
	_, err := c.Status(context.Background(), &metapb.StatusRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err))
}

// A learning client adds the voters Status names, keeps serving through
// them once every configured address is gone, and forgets learnt voters
// that left (never configured ones).
func TestLearnsVoters(t *testing.T) {
	a, addrA := startFake(t, "a")
	b, addrB := startFake(t, "b")
	_, addrC := startFake(t, "c")
	a.setGroup(addrA, addrB)
	b.setGroup(addrA, addrB)

	c, err := New(context.Background(), Config{Addrs: []string{addrA}, Learn: true, LeaderRefresh: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.Eventually(t, func() bool { return slices.Equal(c.Addrs(), []string{addrA, addrB}) }, 10*time.Second, 5*time.Millisecond)

	a.setErr(status.Error(codes.Unavailable, "gone"))
	resp, err := c.Status(context.Background(), &metapb.StatusRequest{})
	require.NoError(t, err)
	require.Equal(t, "b", resp.NodeId, "served by the learnt voter")

	b.setGroup(addrC) // b now says the group is c alone
	require.Eventually(t, func() bool { return slices.Equal(c.Addrs(), []string{addrA, addrC}) }, 10*time.Second, 5*time.Millisecond,
		"b forgotten, the configured a kept, c learnt")

	static, err := New(context.Background(), Config{Addrs: []string{addrA}, LeaderRefresh: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = static.Close() })
	a.setErr(nil)
	static.refreshLeader(context.Background()) // a names a and b
	require.Equal(t, []string{addrA}, static.Addrs(), "without Learn the addresses stay as configured")
}
