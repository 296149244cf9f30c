package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// waitsBound is the sanity bound of these tests: the gateway promises an
// answer to any request within about 10 s of a node hanging (meta reads 6 s,
// proposals 10 s, shard stalls 5 s, commit acks 10 s), so anything near
// this is a hang.
const waitsBound = 30 * time.Second

// pause stops a process with SIGSTOP (it keeps its sockets, and peers see
// silence, not a refused connection) and resumes it at test end.
func (c *cluster) pause(name string) (resume func()) {
	c.t.Helper()
	pid := c.procs.Pid(name)
	require.Positive(c.t, pid, "no pid for %s", name)
	require.NoError(c.t, syscall.Kill(pid, syscall.SIGSTOP))
	resumed := false
	resume = func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	c.t.Cleanup(resume)
	return resume
}

func noRetries(o *s3.Options) { o.RetryMaxAttempts = 1 }

// httpStatus is the HTTP status of an SDK error, 0 when there is none.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// TestWaitsMetaQuorumLost stops two of three meta voters: HEAD, GET and PUT
// answer 503 within the bound instead of hanging; once the voters resume,
// the service does too.
func TestWaitsMetaQuorumLost(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "waits")
	data := body(1, 100<<10)
	require.NoError(t, c.put(ctx, "waits", "k", data))

	metas := c.layout.Names("meta")
	var resumes []func()
	for _, name := range metas[:2] {
		resumes = append(resumes, c.pause(name))
	}
	ops := []struct {
		name string
		do   func() error
	}{
		{"HEAD", func() error {
			_, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("waits"), Key: aws.String("k")}, noRetries)
			return err
		}},
		{"GET", func() error {
			out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("waits"), Key: aws.String("k")}, noRetries)
			if err == nil {
				_, err = io.ReadAll(out.Body)
				out.Body.Close()
			}
			return err
		}},
		{"PUT", func() error {
			_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("waits"), Key: aws.String("k2"), Body: bytes.NewReader(data)}, noRetries)
			return err
		}},
	}
	// The remaining voter may still lead, legitimately, for up to its
	// leader lease (its followers answered heartbeats sent just before
	// they stopped): requests may succeed until then, never after.
	lease := time.Now().Add(15 * time.Second)
	for ops[0].do() == nil {
		require.True(t, time.Now().Before(lease), "HEAD still served 15 s after the quorum was lost")
		time.Sleep(100 * time.Millisecond)
	}
	for _, op := range ops {
		start := time.Now()
		err := op.do()
		took := time.Since(start)
		t.Logf("%s with 2 of 3 meta voters stopped: %v after %v", op.name, err, took)
		require.Error(t, err, op.name)
		require.Equal(t, http.StatusServiceUnavailable, httpStatus(err), "%s: %v", op.name, err)
		require.Less(t, took, waitsBound, op.name)
	}

	for _, r := range resumes {
		r()
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := c.get(ctx, "waits", "k")
		if err == nil {
			require.True(t, bytes.Equal(data, got))
			break
		}
		require.True(t, time.Now().Before(deadline), "service did not resume: %v", err)
		time.Sleep(200 * time.Millisecond)
	}
	require.NoError(t, putRetrying(ctx, c, "waits", "k3", data))
}

// TestWaitsFirstMetaNodeStopped stops the meta node first in the gateway's
// list: once another voter leads, every PUT succeeds (the client abandons
// the hung node and avoids it).
func TestWaitsFirstMetaNodeStopped(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "waits")
	first := c.layout.Names("meta")[0]
	c.pause(first)

	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := c.metaLeader(ctx)
		if err == nil && l != first {
			t.Logf("%s stopped, %s leads", first, l)
			break
		}
		require.True(t, time.Now().Before(deadline), "no other voter leads")
		time.Sleep(200 * time.Millisecond)
	}
	var took []time.Duration
	for i := range 9 {
		data := body(uint64(10+i), 64<<10)
		start := time.Now()
		require.NoError(t, c.put(ctx, "waits", fmt.Sprintf("k%d", i), data), "put %d", i)
		took = append(took, time.Since(start))
		got, err := c.get(ctx, "waits", fmt.Sprintf("k%d", i))
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got))
	}
	t.Logf("PUT latency with the first meta node stopped: %v", took)
}

// TestWaitsStorageNodeStopped stops one storage node: every object has a
// shard on it (six nodes, 4+2), and every GET keeps succeeding, served
// around it. The latencies are logged, not asserted.
func TestWaitsStorageNodeStopped(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 8*time.Minute)
	c.mustCreateBucket(ctx, "waits")
	objs := map[string][]byte{}
	for i := range 12 {
		key := fmt.Sprintf("k%d", i)
		objs[key] = body(uint64(100+i), 1+i*(stripe/4))
		require.NoError(t, c.put(ctx, "waits", key, objs[key]))
	}
	resume := c.pause(c.layout.Names("storage")[1])
	stoppedAt := time.Now()

	var gets []time.Duration
	for round := range 3 {
		for key, want := range objs {
			start := time.Now()
			got, err := c.get(ctx, "waits", key)
			gets = append(gets, time.Since(start))
			require.NoError(t, err, "round %d get %s", round, key)
			require.True(t, bytes.Equal(want, got), "round %d body of %s differs", round, key)
		}
	}
	var puts []time.Duration
	for i := range 4 {
		data := body(uint64(200+i), 1+i*(stripe/2))
		start := time.Now()
		require.NoError(t, c.put(ctx, "waits", fmt.Sprintf("p%d", i), data))
		puts = append(puts, time.Since(start))
	}
	elapsed := time.Since(stoppedAt)
	resume()
	t.Logf("one storage node stopped for %v: %d GETs p50 %v p99 %v max %v; PUTs %v",
		elapsed, len(gets), percentile(gets, 50), percentile(gets, 99), percentile(gets, 100), puts)
	require.Less(t, percentile(gets, 100), waitsBound)
}

// TestWaitsStalledBody starts an authenticated PUT, sends more than a
// stripe and then nothing: the gateway answers 400 RequestTimeout, and the
// storage nodes drop the temporary files of its shards.
func TestWaitsStalledBody(t *testing.T) {
	c := startCluster(t, "CAIRN_BODY_STALL_TIMEOUT=3s")
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "waits")

	const size = 16 << 20
	sent := stripe + stripe/2
	req, err := http.NewRequest(http.MethodPut, "http://"+c.layout.S3Addr()+"/waits/stalled", nil)
	require.NoError(t, err)
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	require.NoError(t, v4.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()))

	conn, err := net.Dial("tcp", c.layout.S3Addr())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.Host, size)
	require.NoError(t, err)
	require.NoError(t, req.Header.Write(conn))
	_, err = io.WriteString(conn, "\r\n")
	require.NoError(t, err)
	_, err = conn.Write(body(7, sent))
	require.NoError(t, err)

	// The first stripe went out: its shards are being written.
	require.Eventually(t, func() bool { return c.tempFiles() > 0 }, 10*time.Second, 50*time.Millisecond,
		"no temporary shard files while the PUT is open")

	start := time.Now()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitsBound)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("stalled PUT answered %d after %v more: %s", resp.StatusCode, time.Since(start), msg)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(msg), "<Code>RequestTimeout</Code>")

	require.Eventually(t, func() bool { return c.tempFiles() == 0 }, 20*time.Second, 100*time.Millisecond,
		"temporary shard files left on storage")
	_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("waits"), Key: aws.String("stalled")})
	require.Equal(t, http.StatusNotFound, httpStatus(err), "err: %v", err)
}

// tempFiles counts the temporary shard files of every drive of every
// storage node: named ones in the drives' tmp/ directories, and unnamed
// ones (O_TMPFILE, written in a fan-out directory and linked into place on
// commit), which only a storage process's open descriptors show, as
// "<dir>/#<inode> (deleted)".
func (c *cluster) tempFiles() int {
	n := 0
	for _, name := range c.layout.Names("storage") {
		p, _ := c.layout.Proc(name)
		root := filepath.Join(c.layout.Dir, p.DataDir)
		dirs, _ := filepath.Glob(filepath.Join(root, "drive*", "tmp"))
		for _, d := range dirs {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), "format") {
					n++
				}
			}
		}
		fdDir := fmt.Sprintf("/proc/%d/fd", c.procs.Pid(name))
		fds, _ := os.ReadDir(fdDir)
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err == nil && strings.HasPrefix(target, root+string(filepath.Separator)) &&
				strings.Contains(target, "/#") && strings.HasSuffix(target, " (deleted)") {
				n++
			}
		}
	}
	return n
}
