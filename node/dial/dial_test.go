package dial_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/dial"
)

func serve(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(dial.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// recorder is a NetDialer that records where it dialed and can refuse.
type recorder struct {
	mu     sync.Mutex
	addrs  []string
	refuse bool
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.addrs = append(r.addrs, addr)
	refuse := r.refuse
	r.mu.Unlock()
	if refuse {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError("refused by test")}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (r *recorder) dialed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.addrs...)
}

func TestGRPCDialsThroughNetSeam(t *testing.T) {
	addr := serve(t)
	rec := &recorder{}
	d := dial.New(dial.Config{Net: rec.dial})
	cc, err := d.GRPC(addr)
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Contains(t, rec.dialed(), addr)
}

func TestRefusingSeamFailsCallsUnavailable(t *testing.T) {
	addr := serve(t)
	rec := &recorder{refuse: true}
	cc, err := dial.New(dial.Config{Net: rec.dial}).GRPC(addr)
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err), "err: %v", err)
}

func TestRawDialUsesSeam(t *testing.T) {
	addr := serve(t)
	rec := &recorder{}
	d := dial.New(dial.Config{Net: rec.dial})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.Equal(t, []string{addr}, rec.dialed())
}

// A peer restarted on the same address is used again within moments.
func TestReconnectAfterPeerRestart(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	srv := grpc.NewServer(dial.ServerOptions()...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()

	cc, err := dial.New(dial.Config{MaxBackoff: 300 * time.Millisecond}).GRPC(addr)
	require.NoError(t, err)
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	check := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	require.NoError(t, check())
	srv.Stop()
	require.Error(t, check())
	time.Sleep(2 * time.Second)
	lis2, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv2 := grpc.NewServer(dial.ServerOptions()...)
	healthpb.RegisterHealthServer(srv2, health.NewServer())
	go func() { _ = srv2.Serve(lis2) }()
	defer srv2.Stop()
	require.Eventually(t, func() bool { return check() == nil }, 1500*time.Millisecond, 20*time.Millisecond)
}
