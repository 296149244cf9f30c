package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// scrape is one /metrics page: every sample's value by its series (name
// and labels as written), and the sample names.
type scrape struct {
	series map[string]float64
	names  map[string]bool
}

// value sums the samples of name whose series contain every one of labels
// (each `k="v"`).
func (s scrape) value(name string, labels ...string) float64 {
	var sum float64
outer:
	for series, v := range s.series {
		n, _, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(series, l) {
				continue outer
			}
		}
		sum += v
	}
	return sum
}

func httpGet(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (c *cluster) scrape(ctx context.Context, name string) scrape {
	c.t.Helper()
	p, ok := c.layout.Proc(name)
	require.True(c.t, ok, name)
	require.NotEmpty(c.t, p.AdminAddr, "%s has no admin listener", name)
	code, body, err := httpGet(ctx, "http://"+p.AdminAddr+"/metrics")
	require.NoError(c.t, err)
	require.Equal(c.t, http.StatusOK, code)
	s := scrape{series: map[string]float64{}, names: map[string]bool{}}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(c.t, i, "sample line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(c.t, err, "sample line %q", line)
		s.series[line[:i]] = v
		n, _, _ := strings.Cut(line[:i], "{")
		s.names[n] = true
	}
	return s
}

// readyz polls name's /readyz until it answers want, and returns the body.
func (c *cluster) readyz(ctx context.Context, name string, want int) string {
	c.t.Helper()
	p, _ := c.layout.Proc(name)
	var last string
	for {
		code, body, err := httpGet(ctx, "http://"+p.AdminAddr+"/readyz")
		if err == nil && code == want {
			return body
		}
		last = fmt.Sprintf("code %d, body %q, err %v", code, body, err)
		select {
		case <-ctx.Done():
			c.t.Fatalf("%s /readyz never answered %d: last %s", name, want, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// dashboardMetrics returns the cairn_ metric names the dashboard's
// queries use.
func dashboardMetrics(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "cairn.json"))
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	require.NotEmpty(t, d.Panels)
	re := regexp.MustCompile(`\bcairn_[a-z0-9_]+`)
	seen := map[string]bool{}
	var out []string
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			for _, n := range re.FindAllString(tg.Expr, -1) {
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// TestObserveCluster scrapes a gateway, the storage nodes and the meta
// voters of a running cluster after some S3 requests: each exports its
// role's series, every metric the Grafana dashboard queries exists, every
// process is ready, and a gateway whose meta group is gone is not.
func TestObserveCluster(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 3*time.Minute)
	c.mustCreateBucket(ctx, "obs")
	data := body(7, 3<<20)
	for i := range 3 {
		require.NoError(t, c.put(ctx, "obs", fmt.Sprintf("k%d", i), data))
	}
	got, err := c.get(ctx, "obs", "k0")
	require.NoError(t, err)
	require.Equal(t, data, got)
	_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("obs"), Key: aws.String("missing")})
	require.Error(t, err)

	all := map[string]bool{}
	merge := func(s scrape) {
		for n := range s.names {
			all[n] = true
		}
	}

	gw := c.scrape(ctx, "gateway")
	merge(gw)
	require.Equal(t, float64(3), gw.value("cairn_s3_requests_total", `op="PutOrCopyObject"`, `code="200"`))
	require.Equal(t, float64(1), gw.value("cairn_s3_requests_total", `op="HeadObject"`, `code="404"`))
	require.GreaterOrEqual(t, gw.value("cairn_s3_received_bytes_total", `op="PutOrCopyObject"`), float64(3*len(data)))
	require.GreaterOrEqual(t, gw.value("cairn_s3_sent_bytes_total", `op="GetObject"`), float64(len(data)))
	require.Equal(t, float64(3), gw.value("cairn_s3_put_phase_duration_seconds_count", `phase="commit"`))
	require.Equal(t, float64(3), gw.value("cairn_objio_write_phase_duration_seconds_count", `phase="durable"`))
	require.Positive(t, gw.value("cairn_grpc_client_calls_total", `method="/cairn.storage.v1.Storage/WriteShard"`, `code="OK"`))
	require.Positive(t, gw.value("go_goroutines"))

	var written float64
	for _, name := range c.layout.Names("storage") {
		s := c.scrape(ctx, name)
		merge(s)
		require.Positive(t, s.value("cairn_storage_drive_capacity_bytes"), name)
		require.Positive(t, s.value("cairn_storage_drive_free_bytes"), name)
		require.Zero(t, s.value("cairn_storage_drive_faulty"), name)
		written += s.value("cairn_storage_shard_written_bytes_total")
	}
	require.GreaterOrEqual(t, written, float64(3*len(data)), "every byte of the three bodies, plus parity, reached a drive")

	leader := c.waitLeader()
	var leaders float64
	for _, name := range c.layout.Names("meta") {
		s := c.scrape(ctx, name)
		merge(s)
		leaders += s.value("cairn_meta_raft_leader")
		require.Positive(t, s.value("cairn_meta_raft_term"), name)
		require.Positive(t, s.value("cairn_meta_raft_applied_index"), name)
		require.Equal(t, float64(1), s.value("cairn_meta_raft_has_leader"), name)
		if name == leader {
			require.Equal(t, float64(1), s.value("cairn_meta_raft_leader"), name)
			require.Positive(t, s.value("cairn_meta_apply_duration_seconds_count"), name)
			require.Positive(t, s.value("cairn_grpc_server_calls_total", `code="OK"`), name)
		}
	}
	require.Equal(t, float64(1), leaders, "one leader")

	t.Run("dashboard", func(t *testing.T) {
		for _, n := range dashboardMetrics(t) {
			require.True(t, all[n], "the dashboard queries %s, which no process exports", n)
		}
	})

	for _, p := range c.layout.Procs {
		body := c.readyz(ctx, p.Name, http.StatusOK)
		require.Contains(t, body, ": ready", p.Name)
		code, alive, err := httpGet(ctx, "http://"+p.AdminAddr+"/healthz")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "ok\n", alive)
	}

	t.Run("admin trace", func(t *testing.T) { testAdminTrace(t, c) })

	t.Run("gateway without meta", func(t *testing.T) {
		for _, name := range c.layout.Names("meta") {
			require.NoError(t, c.procs.StopProc(name, 10*time.Second))
		}
		body := c.readyz(ctx, "gateway", http.StatusServiceUnavailable)
		require.Contains(t, body, "gateway: not ready")
	})
}

// testAdminTrace follows the gateway with `cairn admin trace --json` and
// sees the requests it serves; a wrong secret is refused at once.
func testAdminTrace(t *testing.T, c *cluster) {
	if s3TLS() {
		t.Skip("the trace subtest speaks plain HTTP to the gateway")
	}
	ctx := ctxT(t, time.Minute)
	endpoint := "http://" + c.layout.S3Addr()

	bad := exec.CommandContext(ctx, cairnBin, "admin", "trace", "--endpoint", endpoint,
		"--access-key", testAccessKey, "--secret-key", "wrong")
	out, err := bad.CombinedOutput()
	require.Error(t, err, "a wrong secret must end the trace: %s", out)
	require.Contains(t, string(out), "SignatureDoesNotMatch")

	cmd := exec.CommandContext(ctx, cairnBin, "admin", "trace", "--endpoint", endpoint, "--json", "--bucket", "obs")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecretKey)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	lines := make(chan map[string]any, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				lines <- ev
			}
		}
		close(lines)
	}()

	// The trace subscribes a moment after the process starts: ask until a
	// request shows up, each time under a new key.
	for i := 0; ; i++ {
		require.Less(t, i, 30, "no traced request after 30 tries")
		key := fmt.Sprintf("traced-%d", i)
		_, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("obs"), Key: aws.String(key)})
		require.Error(t, err)
		select {
		case ev, ok := <-lines:
			require.True(t, ok, "the trace ended")
			if ev["key"] != key {
				continue
			}
			require.Equal(t, "HeadObject", ev["op"])
			require.Equal(t, float64(http.StatusNotFound), ev["status"])
			require.Equal(t, testAccessKey, ev["access_key"])
			require.NotEmpty(t, ev["request_id"])
			return
		case <-time.After(time.Second):
		}
	}
}
