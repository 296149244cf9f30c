package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/proto/metapb"
)

// repairEnv makes the meta group commit a lost storage node down within
// seconds (--node-down-after may not be shorter than the 6 s node
// timeout); the repairer acts on that committed state.
var repairEnv = []string{"CAIRN_NODE_DOWN_AFTER=6s"}

// healStatus is what `cairn admin heal status --json` prints.
type healStatus struct {
	Paused         bool    `json:"paused"`
	Scanning       bool    `json:"scanning"`
	BodiesAtRisk   uint64  `json:"bodies_at_risk"`
	BytesToRebuild uint64  `json:"bytes_to_rebuild"`
	BytesRebuilt   uint64  `json:"bytes_rebuilt"`
	ShardsRebuilt  uint64  `json:"shards_rebuilt"`
	Failures       uint64  `json:"repair_failures"`
	Rate           float64 `json:"rate_bytes_per_second"`
	ETA            float64 `json:"eta_seconds"`
	LastScan       *string `json:"last_scan"`
}

// healAdmin runs `cairn admin args...` against the cluster.
func (c *cluster) healAdmin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cairnBin, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), "CAIRN_META_ADDRS="+strings.Join(c.layout.MetaAddrs(), ","))
	cmd.Env = append(cmd.Env, c.adminEnv()...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("cairn admin %v: %w: %s", args, err, errOut.String())
	}
	return out.String(), nil
}

func (c *cluster) healStatus(t *testing.T, ctx context.Context) (healStatus, error) {
	out, err := c.healAdmin(ctx, "heal", "status", "--json", "--timeout", "5s")
	if err != nil {
		return healStatus{}, err
	}
	var st healStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	return st, nil
}

// waitHealed waits until at least shards shards were rebuilt and a full
// scan has found nothing at risk, and returns the last status.
func (c *cluster) waitHealed(t *testing.T, ctx context.Context, within time.Duration, shards int, onStatus func(healStatus)) healStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := c.healStatus(t, ctx)
		if err == nil {
			if onStatus != nil {
				onStatus(st)
			}
			if !st.Scanning && st.LastScan != nil && st.BodiesAtRisk == 0 && st.ShardsRebuilt >= uint64(shards) {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healed within %v: last status %+v, err %v", within, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *cluster) metaClient(t *testing.T) metapb.MetaClient {
	t.Helper()
	p, ok := c.layout.Proc(c.layout.Names("meta")[0])
	require.True(t, ok)
	conn, err := c.procs.Dialer().GRPC(p.GRPCAddr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return metapb.NewMetaClient(conn)
}

// bodiesOf lists the bodies of a version: its own or its parts'.
func bodiesOf(v *metapb.ObjectVersion) map[string][]*metapb.ShardPlacement {
	out := map[string][]*metapb.ShardPlacement{}
	if v.GetDataId() != "" {
		out[v.GetDataId()] = v.GetShards()
	}
	for _, p := range v.GetParts() {
		out[p.GetDataId()] = p.GetShards()
	}
	return out
}

// findShardFile finds the file of shard id on a storage node's drives.
func (c *cluster) findShardFile(t *testing.T, node, id string) (string, bool) {
	t.Helper()
	p, ok := c.layout.Proc(node)
	require.True(t, ok)
	var found string
	_ = filepath.WalkDir(filepath.Join(c.layout.Dir, p.DataDir), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == id {
			found = path
			return filepath.SkipAll
		}
		return nil
	})
	return found, found != ""
}

// spread reports whether every body of the listed keys has each shard on
// its own node.
func (c *cluster) spread(bucket string, keys []string) bool {
	for _, k := range keys {
		for _, shards := range bodiesOf(c.metaObject(c.t.(*testing.T), bucket, k)) {
			seen := map[string]bool{}
			for _, sh := range shards {
				if seen[sh.GetNodeId()] {
					return false
				}
				seen[sh.GetNodeId()] = true
			}
		}
	}
	return true
}

// requireSpread checks that every body of the listed keys has each shard
// on its own node, none on excluded nodes, and each shard file on disk.
func (c *cluster) requireSpread(t *testing.T, bucket string, keys []string, excluded ...string) {
	t.Helper()
	for _, k := range keys {
		for dataID, shards := range bodiesOf(c.metaObject(t, bucket, k)) {
			seen := map[string]bool{}
			for i, sh := range shards {
				require.NotContains(t, excluded, sh.GetNodeId(), "%s/%s shard %d", bucket, k, i)
				require.False(t, seen[sh.GetNodeId()], "%s/%s: two shards on %s", bucket, k, sh.GetNodeId())
				seen[sh.GetNodeId()] = true
				_, ok := c.findShardFile(t, sh.GetNodeId(), fmt.Sprintf("%s.%d", dataID, i))
				require.True(t, ok, "%s/%s: shard %d has no file on %s", bucket, k, i, sh.GetNodeId())
			}
		}
	}
}

// TestRepairNodeLoss kills a storage node of a 7-node cluster (one more
// than 4+2 needs) and checks that every shard it held is rebuilt on the
// others, spread on distinct nodes again; that after two more nodes die
// every object still reads back byte-identical; and that the repairer
// heals those too (under-spread: four nodes are left for six shards).
// It logs the repair rate and the ETA predicted against the time taken.
func TestRepairNodeLoss(t *testing.T) {
	// The bandwidth cap (16 MiB/s of reads) makes the repair last long
	// enough to compare the ETA with the time it took.
	c := startClusterSpec(t, devcluster.Spec{Storage: 7}, append(repairEnv, "CAIRN_REPAIR_BANDWIDTH=16777216")...)
	ctx := ctxT(t, 8*time.Minute)
	c.mustCreateBucket(ctx, "heal")

	objects := map[string][]byte{}
	sizes := []int{100, 300 << 10, 9<<20 + 17, 4 << 20, 6 << 20, 6<<20 + 1, 7 << 20, 5 << 20, 8 << 20, 3 << 20, 2<<20 + 5, 10 << 20}
	var keys []string
	for i, n := range sizes {
		k := fmt.Sprintf("obj-%02d", i)
		objects[k] = body(uint64(100+i), n)
		require.NoError(t, c.put(ctx, "heal", k, objects[k]), k)
		keys = append(keys, k)
	}
	partA, partB := body(200, 5<<20), body(201, 1000)
	id, parts := c.uploadParts(ctx, t, "heal", "mp", [][]byte{partA, partB})
	_, err := c.complete(ctx, "heal", "mp", id, parts)
	require.NoError(t, err)
	objects["mp"] = append(append([]byte(nil), partA...), partB...)
	keys = append(keys, "mp")
	pendingID, pendingParts := c.uploadParts(ctx, t, "heal", "pending", [][]byte{body(202, 5<<20)})
	// Bodies written before the gateway saw all seven nodes may be
	// under-spread: the repairer spreads them first.
	deadline := time.Now().Add(time.Minute)
	for !c.spread("heal", keys) {
		require.True(t, time.Now().Before(deadline), "bodies not spread within a minute")
		time.Sleep(200 * time.Millisecond)
	}
	st := c.waitHealed(t, ctx, time.Minute, 0, nil)
	base, baseBytes := int(st.ShardsRebuilt), st.BytesRebuilt

	heldBy := func(nodes ...string) int {
		held := 0
		for _, k := range keys {
			for _, shards := range bodiesOf(c.metaObject(t, "heal", k)) {
				for _, sh := range shards {
					if slices.Contains(nodes, sh.GetNodeId()) {
						held++
					}
				}
			}
		}
		return held
	}
	held := heldBy("storage-1")
	require.Positive(t, held)
	require.NoError(t, c.procs.Kill("storage-1"))
	killed := time.Now()

	// Watch the repair: the first ETA the repairer predicts, and when the
	// last body was healed.
	var (
		predicted   float64
		predictedAt time.Time
		firstRate   float64
		lastRebuilt uint64
	)
	st = c.waitHealed(t, ctx, 3*time.Minute, base+held, func(s healStatus) {
		if predictedAt.IsZero() && s.BytesToRebuild > 0 && s.ETA > 0 {
			predicted, predictedAt, firstRate = s.ETA, time.Now(), s.Rate
			t.Logf("after %v: %d bodies at risk, %d bytes to rebuild, rate %.1f MiB/s, ETA %.1fs",
				time.Since(killed).Round(time.Millisecond), s.BodiesAtRisk, s.BytesToRebuild, s.Rate/(1<<20), s.ETA)
		}
		lastRebuilt = s.BytesRebuilt
	})
	healed := time.Now()
	require.Zero(t, st.Failures)
	require.GreaterOrEqual(t, st.ShardsRebuilt, uint64(base+held), "every shard storage-1 held was rebuilt")
	if !predictedAt.IsZero() {
		actual := healed.Sub(predictedAt).Seconds()
		rebuilt := float64(lastRebuilt-baseBytes) / (1 << 20)
		t.Logf("repair of %d shards (%.1f MiB): first rate %.1f MiB/s; ETA predicted %.1fs, took %.1fs after the prediction (ratio %.2f); %.1f MiB/s from the first prediction to the end",
			int(st.ShardsRebuilt)-base, rebuilt, firstRate/(1<<20), predicted, actual, predicted/actual, rebuilt/healed.Sub(predictedAt).Seconds())
	}
	c.requireSpread(t, "heal", keys, "storage-1")

	// Two more nodes gone: four of six shards are left of every body.
	held2 := heldBy("storage-2", "storage-3")
	require.NoError(t, c.procs.Kill("storage-2"))
	require.NoError(t, c.procs.Kill("storage-3"))
	for _, k := range keys {
		got, err := c.get(ctx, "heal", k)
		require.NoError(t, err, k)
		require.True(t, bytes.Equal(objects[k], got), "%s differs with three storage nodes down", k)
	}
	// And they heal too, two shards per node at most.
	st = c.waitHealed(t, ctx, 3*time.Minute, int(st.ShardsRebuilt)+held2, nil)
	require.Zero(t, st.BodiesAtRisk)
	for _, k := range keys {
		for _, shards := range bodiesOf(c.metaObject(t, "heal", k)) {
			per := map[string]int{}
			for _, sh := range shards {
				require.NotContains(t, []string{"storage-1", "storage-2", "storage-3"}, sh.GetNodeId())
				per[sh.GetNodeId()]++
				require.LessOrEqual(t, per[sh.GetNodeId()], 2, k)
			}
		}
		got, err := c.get(ctx, "heal", k)
		require.NoError(t, err, k)
		require.True(t, bytes.Equal(objects[k], got), "%s differs after healing", k)
	}
	// The upload in progress kept its part through it all.
	_, err = c.complete(ctx, "heal", "pending", pendingID, pendingParts)
	require.NoError(t, err)
	got, err := c.get(ctx, "heal", "pending")
	require.NoError(t, err)
	require.True(t, bytes.Equal(body(202, 5<<20), got))
	out, err := c.healAdmin(ctx, "heal", "status")
	require.NoError(t, err)
	t.Logf("cairn admin heal status:\n%s", out)
	require.Contains(t, out, "Bodies at risk: none")
	c.logRepairFailures(t)
}

// logRepairFailures logs the meta nodes' repair failures, which are
// retried and so do not fail a test, but explain a slow repair.
func (c *cluster) logRepairFailures(t *testing.T) {
	for _, name := range c.layout.Names("meta") {
		b, err := os.ReadFile(filepath.Join(c.procs.LogDir(), name+".log"))
		if err != nil {
			continue
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "repair:") && strings.Contains(line, "failed") && n < 10 {
				t.Logf("%s: %s", name, line)
				n++
			}
		}
	}
}

// TestRepairDeletedParityShard deletes parity shard files on disk and
// checks that a report (as a gateway read or a storage scrub sends) and a
// bucket scrub each get the shard rebuilt in place; heal pause and resume
// round-trip through the committed flag.
func TestRepairDeletedParityShard(t *testing.T) {
	c := startClusterSpec(t, devcluster.Spec{Storage: 7}, repairEnv...)
	ctx := ctxT(t, 4*time.Minute)
	c.mustCreateBucket(ctx, "rot")
	data := map[string][]byte{"reported": body(300, 9<<20+17), "scrubbed": body(301, 1<<20+3)}
	// Bodies written before the gateway saw all seven nodes may be
	// under-spread, and the repairer then spreads them (on the gateway's
	// report, or at a scan), moving shards under this test. It is about
	// shards rebuilt in place, so write them again until the gateway's
	// map has every node.
	deadline := time.Now().Add(time.Minute)
	for {
		for k, v := range data {
			require.NoError(t, c.put(ctx, "rot", k, v))
		}
		if c.spread("rot", []string{"reported", "scrubbed"}) {
			break
		}
		require.True(t, time.Now().Before(deadline), "bodies not spread within a minute")
		time.Sleep(500 * time.Millisecond)
	}
	mc := c.metaClient(t)

	_, err := c.healAdmin(ctx, "heal", "pause")
	require.NoError(t, err)
	st, err := c.healStatus(t, ctx)
	require.NoError(t, err)
	require.True(t, st.Paused)
	_, err = c.healAdmin(ctx, "heal", "resume")
	require.NoError(t, err)
	st, err = c.healStatus(t, ctx)
	require.NoError(t, err)
	require.False(t, st.Paused)

	// removeShard deletes the file of shard i of key and returns where
	// it was.
	removeShard := func(key string, i int) (*metapb.ShardPlacement, string) {
		v := c.metaObject(t, "rot", key)
		sh := v.GetShards()[i]
		id := fmt.Sprintf("%s.%d", v.GetDataId(), i)
		path, ok := c.findShardFile(t, sh.GetNodeId(), id)
		require.True(t, ok, "shard %s on %s", id, sh.GetNodeId())
		require.NoError(t, os.Remove(path))
		return sh, id
	}
	waitBack := func(key string, i int, was *metapb.ShardPlacement, id string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			if _, ok := c.findShardFile(t, was.GetNodeId(), id); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard %s not rebuilt on %s", id, was.GetNodeId())
			}
			time.Sleep(200 * time.Millisecond)
		}
		sh := c.metaObject(t, "rot", key).GetShards()[i]
		require.Equal(t, was.GetNodeId(), sh.GetNodeId(), "rewritten in place")
	}

	// A report of the missing parity shard.
	was, id := removeShard("reported", 4)
	resp, err := mc.ReportShards(ctx, &metapb.ReportShardsRequest{Reporter: "e2e", Shards: []*metapb.ShardReport{{
		NodeId: was.GetNodeId(), DriveId: was.GetDriveId(), ShardId: id, Health: metapb.ShardHealth_SHARD_MISSING,
	}}})
	require.NoError(t, err)
	require.EqualValues(t, 1, resp.GetQueued())
	waitBack("reported", 4, was, id)

	// A bucket scrub finds the other.
	was2, id2 := removeShard("scrubbed", 5)
	out, err := c.healAdmin(ctx, "scrub", "--bucket", "rot")
	require.NoError(t, err)
	require.Contains(t, out, "2 bodies")
	waitBack("scrubbed", 5, was2, id2)

	// The rebuilt parity is right: with two data shards gone, the object
	// is read from the rebuilt parity and the rest.
	v := c.metaObject(t, "rot", "reported")
	for i := range 2 {
		path, ok := c.findShardFile(t, v.GetShards()[i].GetNodeId(), fmt.Sprintf("%s.%d", v.GetDataId(), i))
		require.True(t, ok)
		require.NoError(t, os.Remove(path))
	}
	got, err := c.get(ctx, "rot", "reported")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data["reported"], got))

	_, err = c.healAdmin(ctx, "scrub", "--bucket", "nosuch")
	require.ErrorContains(t, err, "no such bucket")
	_, err = c.healAdmin(ctx, "heal", "bogus")
	require.ErrorContains(t, err, "exit status 2")
}
