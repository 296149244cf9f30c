package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/observe"
	"github.com/cairn-io/cairn/proto/metapb"
)

// lockedBuffer collects JSON log lines from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the decoded log records whose msg is msg.
func (l *lockedBuffer) lines(t *testing.T, msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// idMeta records the request IDs that reach the meta port.
type idMeta struct {
	*fakeMeta
	mu  sync.Mutex
	ids []string
}

func (m *idMeta) Bucket(ctx context.Context, name string) (*metapb.Bucket, error) {
	m.mu.Lock()
	m.ids = append(m.ids, observe.RequestID(ctx))
	m.mu.Unlock()
	return m.fakeMeta.Bucket(ctx, name)
}

func TestRequestMetricsAndAccessLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs lockedBuffer
	var meta *idMeta
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Metrics = reg
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		meta = &idMeta{fakeMeta: c.Meta.(*fakeMeta)}
		c.Meta = meta
	}})
	e.createBucket("photos")
	body := []byte("meow meow")
	e.put("photos", "cat.jpg", body)
	out, err := e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("cat.jpg")})
	require.NoError(t, err)
	_ = out.Body.Close()
	_, err = e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("missing")})
	require.Error(t, err)

	tests := []struct {
		op, code string
		want     float64
	}{
		{"CreateBucket", "200", 1},
		{"PutOrCopyObject", "200", 1},
		{"GetObject", "200", 1},
		{"GetObject", "404", 1},
		{"DeleteObject", "204", 0},
	}
	for _, tc := range tests {
		t.Run(tc.op+"/"+tc.code, func(t *testing.T) {
			require.Equal(t, tc.want, sample(t, reg, "cairn_s3_requests_total", map[string]string{"op": tc.op, "code": tc.code}))
		})
	}
	recs := logs.lines(t, "s3 request")
	require.Len(t, recs, 4, "one access-log line per request")
	put, get, missing := recs[1], recs[2], recs[3]
	require.GreaterOrEqual(t, sample(t, reg, "cairn_s3_received_bytes_total", map[string]string{"op": "PutOrCopyObject"}), float64(len(body)),
		"the PUT body (aws-chunked framing adds a little)")
	require.Equal(t, put["bytes_in"], sample(t, reg, "cairn_s3_received_bytes_total", map[string]string{"op": "PutOrCopyObject"}))
	require.Equal(t, float64(len(body)), get["bytes_out"])
	require.Equal(t, get["bytes_out"].(float64)+missing["bytes_out"].(float64),
		sample(t, reg, "cairn_s3_sent_bytes_total", map[string]string{"op": "GetObject"}))
	require.Equal(t, float64(1), sample(t, reg, "cairn_s3_put_phase_duration_seconds", map[string]string{"phase": "commit"}))
	require.Equal(t, float64(2), sample(t, reg, "cairn_s3_request_duration_seconds", map[string]string{"op": "GetObject"}))

	for _, f := range []string{"request_id", "op", "method", "bucket", "key", "status", "bytes_in", "bytes_out", "duration", "access_key"} {
		require.Contains(t, put, f)
	}
	require.Equal(t, "PutOrCopyObject", put["op"])
	require.Equal(t, "photos", put["bucket"])
	require.Equal(t, "cat.jpg", put["key"])
	require.Equal(t, float64(200), put["status"])
	require.Equal(t, testAccessKey, put["access_key"])
	require.NotEmpty(t, put["request_id"])
	require.Equal(t, float64(404), missing["status"])

	meta.mu.Lock()
	defer meta.mu.Unlock()
	require.NotEmpty(t, meta.ids)
	var logged []string
	for _, r := range recs {
		logged = append(logged, r["request_id"].(string))
	}
	for _, id := range meta.ids {
		require.Contains(t, logged, id, "meta calls carry the ID of the request they serve")
	}
}

func TestAnonymousAccessLog(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	}})
	resp, err := http.Get(e.srv.URL + "/photos/cat.jpg")
	require.NoError(t, err)
	_ = resp.Body.Close()
	recs := logs.lines(t, "s3 request")
	require.Len(t, recs, 1)
	require.Equal(t, "anonymous", recs[0]["access_key"])
	require.Equal(t, "GetObject", recs[0]["op"])
	require.Equal(t, resp.Header.Get("x-amz-request-id"), recs[0]["request_id"])
	require.Equal(t, float64(resp.StatusCode), recs[0]["status"])
}

func TestOpName(t *testing.T) {
	tests := []struct {
		method, target, want string
	}{
		{http.MethodGet, "/b/k", "GetObject"},
		{http.MethodHead, "/b/k", "HeadObject"},
		{http.MethodPut, "/b/k", "PutOrCopyObject"},
		{http.MethodGet, "/b", "ListObjects"},
		{http.MethodHead, "/b", "HeadBucket"},
		{http.MethodGet, "/", "ListBuckets"},
		{http.MethodPost, "/b/k?uploads", "CreateMultipartUpload"},
		{http.MethodPost, "/b?delete", "DeleteObjects"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			r, err := http.NewRequest(tc.method, "http://host"+tc.target, nil)
			require.NoError(t, err)
			g := &Gateway{}
			bucket, key := g.route(r)
			op, err := resolve(r, bucket, key)
			require.NoError(t, err)
			require.Equal(t, tc.want, opName(op, tc.method))
		})
	}
}

func TestReady(t *testing.T) {
	oneNode := &metapb.GetClusterMapResponse{Map: &metapb.ClusterMap{Epoch: 7, Nodes: []*metapb.Node{{NodeId: "s1"}}}}
	lagging := func(served *metapb.ClusterMap) error {
		return fmt.Errorf("map at epoch 6, the meta group's at %d", served.GetEpoch())
	}
	tests := []struct {
		name     string
		resp     *metapb.GetClusterMapResponse
		err      error
		caughtUp func(*metapb.ClusterMap) error
		wantErr  bool
	}{
		{"meta has no leader", nil, status.Error(codes.Unavailable, "no leader"), nil, true},
		{"empty map", &metapb.GetClusterMapResponse{Map: &metapb.ClusterMap{}}, nil, nil, true},
		{"ready", oneNode, nil, nil, false},
		{"own map caught up", oneNode, nil, func(*metapb.ClusterMap) error { return nil }, false},
		{"own map behind", oneNode, nil, lagging, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Config{AccessKey: "a", SecretKey: "s", Meta: NewMetaClient(mapMeta{resp: tc.resp, err: tc.err}), Bodies: newFakeBodies(), Profile: testProfile,
				MapCaughtUp: tc.caughtUp})
			require.NoError(t, err)
			err = g.Ready(context.Background())
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrNotReady)
		})
	}
}

// mapMeta answers cluster-map reads, through the adapter, so that its
// translation of a leaderless group is checked too.
type mapMeta struct {
	metapb.MetaClient // nil: only GetClusterMap is called
	resp              *metapb.GetClusterMapResponse
	err               error
}

func (m mapMeta) GetClusterMap(context.Context, *metapb.GetClusterMapRequest, ...grpc.CallOption) (*metapb.GetClusterMapResponse, error) {
	return m.resp, m.err
}

// sample returns the value of the series name{labels} gathered from reg:
// a counter's value or a histogram's count; 0 when absent.
func sample(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !labelsMatch(m, labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}
