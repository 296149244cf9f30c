package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFailureModel walks the failure model of DESIGN.md on one cluster:
// storage nodes die, the meta leader dies, then everything restarts, and no
// acknowledged object is ever lost or changed.
func TestFailureModel(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 10*time.Minute)
	c.mustCreateBucket(ctx, "durable")

	written := map[string][]byte{}
	putSome := func(phase string, n int, retry bool) {
		t.Helper()
		for i := 0; i < n; i++ {
			key := fmt.Sprintf("%s/%d", phase, i)
			data := body(uint64(len(written)+1), 1+i*(stripe/3)+len(phase))
			if retry {
				require.NoError(t, putRetrying(ctx, c, "durable", key, data), "put %s", key)
			} else {
				require.NoError(t, c.put(ctx, "durable", key, data), "put %s", key)
			}
			written[key] = data
		}
	}
	verifyAll := func(phase string) {
		t.Helper()
		for key, want := range written {
			got, err := c.get(ctx, "durable", key)
			require.NoError(t, err, "%s: get %s", phase, key)
			require.True(t, bytes.Equal(want, got), "%s: body of %s differs", phase, key)
		}
	}

	putSome("healthy", 6, false)
	verifyAll("healthy")

	// One storage node gone: PUTs keep succeeding (placement skips it, or puts
	// two shards of a stripe on one node, never more than m).
	require.NoError(t, c.procs.Kill("storage-1"))
	putSome("one-down", 6, false)
	verifyAll("one storage node down")

	// A second one gone: every object still reads back identical, degraded.
	require.NoError(t, c.procs.Kill("storage-2"))
	verifyAll("two storage nodes down")

	// The meta leader gone: after re-election PUTs succeed again.
	leader := c.waitLeader()
	require.NoError(t, c.procs.Kill(leader))
	putSome("after-leader-kill", 4, true)
	verifyAll("meta leader killed")
	newLeader := c.waitLeader()
	require.NotEqual(t, leader, newLeader)

	// Restart every process: every object is still there.
	stopCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	require.NoError(t, c.procs.Stop(stopCtx))
	cancel()
	require.NoError(t, c.procs.Start())
	c.waitReady()
	verifyAll("full restart")
	putSome("after-restart", 3, false)
	verifyAll("after restart")
}

// putRetrying retries a PUT for a bounded time, as a client does across a
// meta election (the SDK's own retries give up after three attempts).
func putRetrying(ctx context.Context, c *cluster, bucket, key string, data []byte) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.put(ctx, bucket, key, data)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		c.t.Logf("put %s: %v (retrying)", key, err)
		time.Sleep(500 * time.Millisecond)
	}
}
