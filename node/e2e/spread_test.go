package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestSpreadOnCommit writes bodies under-spread while the leader's map
// has a node for every shard (the gateway keeps a node it failed to reach
// out as suspect for a while), and checks that the repairer spreads them
// once healing resumes, with no map change and long before its periodic
// scan: the gateway reported them when it committed them.
func TestSpreadOnCommit(t *testing.T) {
	c := startCluster(t) // six storage nodes for 4+2
	ctx := ctxT(t, 2*time.Minute)
	storage := c.layout.Names("storage")
	c.waitNodes(ctx, "every storage node up", func(nodes map[string]*metapb.Node) bool {
		for _, name := range storage {
			if n := nodes[name]; n == nil || !n.GetUp() {
				return false
			}
		}
		return true
	})
	c.mustCreateBucket(ctx, "spread")
	// The repairer scans on start and when the map changes: let it settle
	// (no scan for two of its 1 s polls), so that no later scan but the
	// periodic one, minutes away, would find what this test writes.
	var (
		last       string
		quietSince time.Time
	)
	waitUntil(t, 30*time.Second, "the repairer idle after its scans", func() bool {
		st, err := c.healStatus(t, ctx)
		if err != nil || st.Scanning || st.LastScan == nil {
			quietSince = time.Time{}
			return false
		}
		if *st.LastScan != last || quietSince.IsZero() {
			last, quietSince = *st.LastScan, time.Now()
			return false
		}
		return time.Since(quietSince) >= 2*time.Second
	})
	// Paused, the repairer queues what is reported but moves nothing, so
	// the records show the placement the gateway chose.
	_, err := c.healAdmin(ctx, "heal", "pause")
	require.NoError(t, err)

	// The gateway's map still has the victim up: its shard fails, goes
	// to another node, and the gateway suspects the victim for a while.
	victim := storage[2]
	require.NoError(t, c.procs.Kill(victim))
	require.NoError(t, c.put(ctx, "spread", "while-down", body(400, 200<<10+5)))
	require.NoError(t, c.procs.StartProc(victim))
	c.waitNodes(ctx, victim+" up again", func(nodes map[string]*metapb.Node) bool {
		return nodes[victim].GetUp() && !nodes[victim].GetDown()
	})
	// Back in the leader's map, but still suspect at the gateway.
	require.NoError(t, c.put(ctx, "spread", "after", body(401, 200<<10+7)))
	keys := []string{"while-down", "after"}
	for _, k := range keys {
		require.False(t, c.spread("spread", []string{k}), "%s was placed spread: the gateway no longer suspected %s", k, victim)
	}

	_, err = c.healAdmin(ctx, "heal", "resume")
	require.NoError(t, err)
	waitUntil(t, 30*time.Second, "bodies spread", func() bool { return c.spread("spread", keys) })
	c.requireSpread(t, "spread", keys)
	for i, k := range keys {
		got, err := c.get(ctx, "spread", k)
		require.NoError(t, err, k)
		require.Equal(t, body(uint64(400+i), []int{200<<10 + 5, 200<<10 + 7}[i]), got, k)
	}
}
