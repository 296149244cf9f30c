package observe_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/observe"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeMeta records the request ID each call's context carries on the
// server side.
type fakeMeta struct {
	metapb.UnimplementedMetaServer
	mu  sync.Mutex
	ids []string
	log *slog.Logger
}

func (f *fakeMeta) GetBucket(ctx context.Context, in *metapb.GetBucketRequest) (*metapb.GetBucketResponse, error) {
	f.mu.Lock()
	f.ids = append(f.ids, observe.RequestID(ctx))
	f.mu.Unlock()
	f.log.InfoContext(ctx, "get bucket", "bucket", in.GetName())
	if in.GetName() == "fail" {
		return nil, status.Error(codes.Unavailable, "no leader")
	}
	return &metapb.GetBucketResponse{}, nil
}

func TestRequestIDReachesServer(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(observe.LogHandler(slog.NewTextHandler(&logs, nil)))
	serverReg, clientReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	srvGRPC := observe.NewGRPC(serverReg, "server", nil)
	fake := &fakeMeta{log: logger}
	g := grpc.NewServer(srvGRPC.ServerOptions()...)
	metapb.RegisterMetaServer(g, fake)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- g.Serve(lis) }()
	t.Cleanup(func() {
		g.Stop()
		require.NoError(t, <-served)
	})

	d := dial.Default().With(observe.NewGRPC(clientReg, "client", nil).DialOptions()...)
	cc, err := d.GRPC(lis.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	c := metapb.NewMetaClient(cc)

	tests := []struct {
		name, id, bucket string
		code             codes.Code
	}{
		{"with an ID", "REQ1", "b", codes.OK},
		{"without one", "", "b", codes.OK},
		{"failing call", "REQ2", "fail", codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := observe.WithRequestID(t.Context(), tc.id)
			_, err := c.GetBucket(ctx, &metapb.GetBucketRequest{Name: tc.bucket})
			require.Equal(t, tc.code, status.Code(err))
			fake.mu.Lock()
			got := fake.ids[len(fake.ids)-1]
			fake.mu.Unlock()
			require.Equal(t, tc.id, got)
		})
	}
	require.Contains(t, logs.String(), "request_id=REQ1", "the server's context-aware log lines name the request")
	const method = "/cairn.meta.v1.Meta/GetBucket"
	for _, reg := range []*prometheus.Registry{serverReg, clientReg} {
		side := "server"
		if reg == clientReg {
			side = "client"
		}
		n, err := testutil.GatherAndCount(reg, "cairn_grpc_"+side+"_calls_total")
		require.NoError(t, err)
		require.Equal(t, 2, n, "%s: one series per code", side)
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP cairn_grpc_`+side+`_calls_total gRPC calls finished, by full method and status code.
# TYPE cairn_grpc_`+side+`_calls_total counter
cairn_grpc_`+side+`_calls_total{code="OK",method="`+method+`"} 2
cairn_grpc_`+side+`_calls_total{code="Unavailable",method="`+method+`"} 1
`), "cairn_grpc_"+side+"_calls_total"), side)
	}
}

func TestReadyz(t *testing.T) {
	ok := func(context.Context) error { return nil }
	noLeader := func(context.Context) error { return errors.New("no raft leader known") }
	tests := []struct {
		name     string
		checks   []observe.Check
		code     int
		contains []string
	}{
		{"no roles", nil, http.StatusOK, []string{"ready"}},
		{"gateway ready", []observe.Check{{Role: "gateway", Fn: ok}}, http.StatusOK, []string{"gateway: ready"}},
		{"meta without leader", []observe.Check{{Role: "meta", Fn: noLeader}}, http.StatusServiceUnavailable,
			[]string{"meta: not ready: no raft leader known"}},
		{"one of two roles not ready", []observe.Check{{Role: "storage", Fn: ok}, {Role: "meta", Fn: noLeader}}, http.StatusServiceUnavailable,
			[]string{"storage: ready", "meta: not ready"}},
		{"check that hangs is cut", []observe.Check{{Role: "gateway", Fn: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}}, http.StatusServiceUnavailable, []string{"gateway: not ready: context deadline exceeded"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(observe.Handler(prometheus.NewRegistry(), tc.checks))
			defer srv.Close()
			// Probe is how cairn healthcheck and dev clusters ask.
			addr := strings.TrimPrefix(srv.URL, "http://")
			code, body, err := observe.Probe(context.Background(), addr, "/readyz")
			require.NoError(t, err)
			require.Equal(t, tc.code, code)
			for _, s := range tc.contains {
				require.Contains(t, body, s)
			}
			code, body, err = observe.Probe(context.Background(), addr, "/healthz")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, "alive whatever readiness says")
			require.Equal(t, "ok\n", body)
		})
	}
}

// TestProbeBadAddress: an address that is not host:port is the caller's
// mistake, told apart from a listener that does not answer.
func TestProbeBadAddress(t *testing.T) {
	_, _, err := observe.Probe(context.Background(), "bad host:9100", "/readyz")
	require.ErrorIs(t, err, observe.ErrBadProbe)
	_, _, err = observe.Probe(context.Background(), "127.0.0.1:1", "/readyz")
	require.Error(t, err)
	require.NotErrorIs(t, err, observe.ErrBadProbe)
}

func TestMetricsEndpoint(t *testing.T) {
	reg := observe.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	srv := httptest.NewServer(observe.Handler(reg, nil))
	defer srv.Close()
	code, body := get(t, srv.URL+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "cairn_test_things_total 3")
	require.Contains(t, body, "go_goroutines")
	require.Contains(t, body, "process_start_time_seconds")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
