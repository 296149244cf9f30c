package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// TestIntegrityShardDigests runs a real cluster through the end-to-end
// integrity checks: every shard the storage nodes hold has the digest the
// version record keeps; a shard file replaced by another object's shard of
// the same index (copied under its name) is refused by the digest and read
// around, and the node's scrub finds it; a drive whose directory is removed
// is reported DRIVE_FAILED in the cluster map, and writes go on.
func TestIntegrityShardDigests(t *testing.T) {
	// Scrub passes only on demand, so the one this test starts is the
	// one it sees.
	c := startCluster(t, "CAIRN_SCRUB_INTERVAL=-1s")
	ctx := ctxT(t, 4*time.Minute)
	c.mustCreateBucket(ctx, "integrity")
	a, b := body(11, 3<<20+5), body(12, 3<<20+5)
	require.NoError(t, c.put(ctx, "integrity", "a", a))
	require.NoError(t, c.put(ctx, "integrity", "b", b))
	// A gateway that has just started may not know every storage node
	// yet and put two shards of a body on one node; the repairer spreads
	// them soon after, moving shards. Take the records once every shard
	// has a node of its own, so that the files below are the bodies'.
	var va, vb *metapb.ObjectVersion
	for deadline := time.Now().Add(time.Minute); ; {
		va, vb = c.metaObject(t, "integrity", "a"), c.metaObject(t, "integrity", "b")
		if spreadOut(va) && spreadOut(vb) {
			break
		}
		require.True(t, time.Now().Before(deadline), "the repairer spreads the bodies' shards over the nodes")
		time.Sleep(100 * time.Millisecond)
	}
	require.Len(t, va.GetShardDigests(), len(va.GetShards()))
	require.Len(t, vb.GetShardDigests(), len(vb.GetShards()))

	clients := c.storageClients(t)
	ref := func(v *metapb.ObjectVersion, i int) (storagepb.StorageClient, *storagepb.ShardRef) {
		sp := v.GetShards()[i]
		return clients[sp.GetNodeId()], &storagepb.ShardRef{DriveId: sp.GetDriveId(), ShardId: fmt.Sprintf("%s.%d", v.GetDataId(), i)}
	}
	// What the gateway recorded (computed from the blocks it sent) is what
	// every node computes from the blocks it reads back.
	for _, v := range []*metapb.ObjectVersion{va, vb} {
		for i := range v.GetShards() {
			cl, r := ref(v, i)
			resp, err := cl.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: r, ExpectDigest: v.GetShardDigests()[i]})
			require.NoError(t, err, "shard %s", r.GetShardId())
			require.Equal(t, v.GetShardDigests()[i], resp.GetDigest())
		}
	}

	t.Run("another object's shard under the name", func(t *testing.T) {
		const idx = 1 // a data shard: a GET needs it unless it reads around it
		_, ra := ref(va, idx)
		_, rb := ref(vb, idx)
		pa := c.shardFile(t, va.GetShards()[idx].GetNodeId(), ra.GetShardId())
		pb := c.shardFile(t, vb.GetShards()[idx].GetNodeId(), rb.GetShardId())
		foreign, err := os.ReadFile(pb)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(pa, foreign, 0o644))

		cl, _ := ref(va, idx)
		_, err = cl.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ra, ExpectDigest: va.GetShardDigests()[idx]})
		require.Equal(t, codes.DataLoss, status.Code(err), "%v", err)

		// Every GET reads around the foreign shard. One that asked for
		// it reports it, and the repairer rewrites it in place (a gateway
		// just started may not know its node's address yet, and read
		// around it without asking). Once it has, plant the foreign shard
		// again for the scrub to find: else the scrub could race the
		// repair and find a healthy shard.
		for deadline := time.Now().Add(time.Minute); ; {
			got, err := c.get(ctx, "integrity", "a")
			require.NoError(t, err)
			require.True(t, bytes.Equal(a, got), "the GET read around the foreign shard")
			if _, err := cl.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ra, ExpectDigest: va.GetShardDigests()[idx]}); err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "the repairer rewrote the shard a GET reported")
			time.Sleep(200 * time.Millisecond)
		}
		require.NoError(t, os.WriteFile(pa, foreign, 0o644))

		// The node's scrub finds it too (the shard's name is part of its
		// digest), and says so in its log and its report.
		resp, err := cl.Scrub(ctx, &storagepb.ScrubRequest{})
		require.NoError(t, err)
		require.True(t, resp.GetStarted())
		node := c.procOfNode(t, va.GetShards()[idx].GetNodeId())
		require.Eventually(t, func() bool {
			log, err := os.ReadFile(filepath.Join(c.procs.LogDir(), node+".log"))
			return err == nil && bytes.Contains(log, []byte("scrub: shard damaged")) && bytes.Contains(log, []byte(ra.GetShardId()))
		}, time.Minute, 100*time.Millisecond)
	})

	t.Run("drive directory removed", func(t *testing.T) {
		// The node of a's last parity shard: a stays readable with the
		// foreign shard above and this drive gone (two of six shards).
		var victim *metapb.Node
		last := va.GetShards()[len(va.GetShards())-1]
		require.NotEqual(t, va.GetShards()[1].GetNodeId(), last.GetNodeId())
		for _, n := range c.clusterMap(t, ctx).GetNodes() {
			if n.GetNodeId() == last.GetNodeId() {
				victim = n
			}
		}
		require.NotNil(t, victim)
		p, ok := c.layout.Proc(c.procOfNode(t, victim.GetNodeId()))
		require.True(t, ok)
		require.NoError(t, os.RemoveAll(filepath.Join(c.layout.Dir, p.DataDir, "drive0")))

		driveID := victim.GetDrives()[0].GetDriveId()
		var fault string
		require.Eventually(t, func() bool {
			for _, n := range c.clusterMap(t, ctx).GetNodes() {
				for _, d := range n.GetDrives() {
					if n.GetNodeId() == victim.GetNodeId() && d.GetDriveId() == driveID && d.GetState() == metapb.DriveState_DRIVE_FAILED {
						fault = d.GetFault()
						return true
					}
				}
			}
			return false
		}, time.Minute, 100*time.Millisecond)
		require.Contains(t, fault, "missing")

		// Writes go on (a shard placed there moves to another drive),
		// and everything reads back.
		for i := range 4 {
			data := body(uint64(20+i), 100<<10)
			key := fmt.Sprintf("after-%d", i)
			require.NoError(t, c.put(ctx, "integrity", key, data))
			got, err := c.get(ctx, "integrity", key)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got))
		}
		got, err := c.get(ctx, "integrity", "a")
		require.NoError(t, err)
		require.True(t, bytes.Equal(a, got))
	})
}

// spreadOut reports whether every shard of v is on a node of its own.
func spreadOut(v *metapb.ObjectVersion) bool {
	nodes := map[string]bool{}
	for _, sh := range v.GetShards() {
		nodes[sh.GetNodeId()] = true
	}
	return len(nodes) == len(v.GetShards())
}

// storageClients connects to every storage node of the cluster map.
func (c *cluster) storageClients(t *testing.T) map[string]storagepb.StorageClient {
	t.Helper()
	out := map[string]storagepb.StorageClient{}
	for _, n := range c.clusterMap(t, ctxT(t, 10*time.Second)).GetNodes() {
		if n.GetAddr() == "" {
			continue
		}
		conn, err := c.procs.Dialer().GRPC(n.GetAddr())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		out[n.GetNodeId()] = storagepb.NewStorageClient(conn)
	}
	return out
}

// procOfNode names the process of a storage node.
func (c *cluster) procOfNode(t *testing.T, nodeID string) string {
	t.Helper()
	for _, name := range c.layout.Names("storage") {
		if p, ok := c.layout.Proc(name); ok && p.NodeID == nodeID {
			return name
		}
	}
	t.Fatalf("no process for node %s", nodeID)
	return ""
}

// shardFile finds a shard's file on a storage node's drives.
func (c *cluster) shardFile(t *testing.T, nodeID, shardID string) string {
	t.Helper()
	p, ok := c.layout.Proc(c.procOfNode(t, nodeID))
	require.True(t, ok)
	var found string
	err := filepath.WalkDir(filepath.Join(c.layout.Dir, p.DataDir), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == shardID && strings.Contains(path, string(filepath.Separator)+"shards"+string(filepath.Separator)) {
			found = path
		}
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, found, "shard %s on %s", shardID, nodeID)
	return found
}
