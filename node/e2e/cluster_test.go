package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/proto/metapb"
)

var cairnBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cairnBin = filepath.Join(dir, "cairn")
	build := exec.Command("go", "build", "-o", cairnBin, "github.com/cairn-io/cairn/cmd/cairn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cairn:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testAccessKey = "CAIRNTESTACCESSKEY01"
	testSecretKey = "cairn-test-secret-key-0123456789abcdefghij"
	// testMasterKey is base64 of 32 bytes.
	testMasterKey = "Y2Fpcm4tZTJlLXRlc3QtbWFzdGVyLWtleS0zMmJ5dGU="
)

// cluster is a running multi-process cluster owned by one test.
type cluster struct {
	t      testing.TB
	layout *devcluster.Layout
	procs  *devcluster.Cluster
	s3     *s3.Client
}

// startCluster starts a cluster owned by t. extraEnv (KEY=value) is given
// to every process, e.g. CAIRN_ORPHAN_GRACE to shorten the orphan sweep's
// grace.
func startCluster(t testing.TB, extraEnv ...string) *cluster {
	t.Helper()
	return startClusterSpec(t, devcluster.Spec{}, extraEnv...)
}

// startClusterSpec is startCluster with the cluster's shape (Meta and
// Storage counts) from spec; its Dir is the test's.
func startClusterSpec(t testing.TB, spec devcluster.Spec, extraEnv ...string) *cluster {
	t.Helper()
	return startClusterOpts(t, spec, devcluster.Options{InsecureInternal: insecureInternal(), S3TLS: s3TLS()}, extraEnv...)
}

// startClusterOpts is startClusterSpec with the devcluster options whose
// Binary and Env (before extraEnv) it sets.
func startClusterOpts(t testing.TB, spec devcluster.Spec, opts devcluster.Options, extraEnv ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	spec.Dir = dir
	layout, err := devcluster.LoadOrCreate(spec)
	require.NoError(t, err)
	keys, err := devcluster.LoadOrCreateKeys(dir)
	require.NoError(t, err)
	opts.Binary = cairnBin
	opts.Env = append([]string{"CAIRN_ACCESS_KEY=" + testAccessKey, "CAIRN_SECRET_KEY=" + testSecretKey, "CAIRN_LOG_LEVEL=debug", "CAIRN_MASTER_KEY=" + testMasterKey}, extraEnv...)
	opts.GatewayEnv = keys.KMSEnv()
	procs, err := devcluster.New(layout, opts)
	require.NoError(t, err)
	c := &cluster{t: t, layout: layout, procs: procs, s3: procs.S3Client(testAccessKey, testSecretKey)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := procs.Stop(ctx); err != nil {
			t.Logf("stop cluster: %v", err)
		}
		if t.Failed() {
			c.dumpLogs()
		}
	})
	require.NoError(t, procs.Start())
	c.waitReady()
	return c
}

// insecureInternal reports whether CAIRN_E2E_INSECURE_INTERNAL asks for
// clusters without mutual TLS between their processes, to measure what
// TLS costs (see BenchmarkThroughput64MiB); by default they use it.
func insecureInternal() bool {
	v, _ := strconv.ParseBool(os.Getenv("CAIRN_E2E_INSECURE_INTERNAL"))
	return v
}

// s3TLS reports whether CAIRN_E2E_S3_TLS asks for gateways that serve S3
// over HTTPS only.
func s3TLS() bool {
	v, _ := strconv.ParseBool(os.Getenv("CAIRN_E2E_S3_TLS"))
	return v
}

// adminEnv is the environment `cairn admin` needs to reach the cluster:
// the admin certificate, or plaintext for an insecure cluster.
func (c *cluster) adminEnv() []string { return c.procEnv(devcluster.AdminCert) }

// procEnv is the environment that gives a process the named certificate
// of the cluster (a process name or devcluster.AdminCert).
func (c *cluster) procEnv(name string) []string {
	if certs := c.procs.Certs(); certs != nil {
		return certs.Env(name)
	}
	return []string{"CAIRN_INSECURE_INTERNAL=true"}
}

func (c *cluster) waitReady() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(c.t, c.procs.WaitReady(ctx, testAccessKey, testSecretKey))
}

// dumpLogs prints the tail of every process log, to explain a failure.
func (c *cluster) dumpLogs() {
	for _, p := range c.layout.Procs {
		b, err := os.ReadFile(filepath.Join(c.procs.LogDir(), p.Name+".log"))
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) > 150 {
			lines = lines[len(lines)-150:]
		}
		c.t.Logf("---- %s ----\n%s", p.Name, strings.Join(lines, "\n"))
	}
}

// metaLeader asks each meta voter for its view and returns the leader's name.
func (c *cluster) metaLeader(ctx context.Context) (string, error) {
	for _, name := range c.layout.Names("meta") {
		if !c.procs.Running(name) {
			continue
		}
		p, _ := c.layout.Proc(name)
		conn, err := c.procs.Dialer().GRPC(p.GRPCAddr)
		if err != nil {
			return "", err
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := metapb.NewMetaClient(conn).Status(sctx, &metapb.StatusRequest{})
		cancel()
		conn.Close()
		if err == nil && st.GetRaftState() == "Leader" {
			return name, nil
		}
	}
	return "", fmt.Errorf("no meta leader")
}

func (c *cluster) waitLeader() string {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		name, err := c.metaLeader(context.Background())
		if err == nil {
			return name
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no meta leader within 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// body returns n deterministic pseudo-random bytes.
func body(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (c *cluster) put(ctx context.Context, bucket, key string, data []byte) error {
	_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	return err
}

func (c *cluster) get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (c *cluster) mustCreateBucket(ctx context.Context, name string) {
	c.t.Helper()
	_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(c.t, err)
}
