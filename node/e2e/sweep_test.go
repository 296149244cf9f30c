package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// TestOrphanSweep plants shards no version references on every storage
// node, as a gateway dying mid-PUT leaves them, and checks that the meta
// leader's sweep deletes them once they are older than the grace while
// every shard of committed objects, of an upload still in progress and
// of names the gateway never writes survives.
func TestOrphanSweep(t *testing.T) {
	// The grace is short for the test, yet long enough that no PUT of the
	// test takes longer from its shards' rename to its commit.
	c := startCluster(t, "CAIRN_ORPHAN_GRACE=8s", "CAIRN_SWEEP_INTERVAL=500ms")
	ctx := ctxT(t, 4*time.Minute)
	c.mustCreateBucket(ctx, "sweep")

	objects := map[string][]byte{
		"small":    body(1, 100),
		"stripe":   body(2, 300<<10),
		"multi":    body(3, 9<<20+17),
		"replaced": body(4, 64<<10),
	}
	require.NoError(t, c.put(ctx, "sweep", "replaced", body(5, 64<<10)))
	for k, v := range objects {
		require.NoError(t, c.put(ctx, "sweep", k, v))
	}
	partA, partB := body(6, 5<<20), body(7, 1000)
	completedID, completedParts := c.uploadParts(ctx, t, "sweep", "mp", [][]byte{partA, partB})
	_, err := c.complete(ctx, "sweep", "mp", completedID, completedParts)
	require.NoError(t, err)
	objects["mp"] = append(append([]byte(nil), partA...), partB...)
	pendingID, pendingParts := c.uploadParts(ctx, t, "sweep", "pending", [][]byte{partB})

	// Plant, after everything real, a shard with a name the gateway never
	// writes and then one orphan shard on every storage node.
	m := c.clusterMap(t, ctx)
	var nodes []*metapb.Node
	for _, n := range m.GetNodes() {
		if n.GetAddr() != "" && len(n.GetDrives()) > 0 {
			nodes = append(nodes, n)
		}
	}
	require.Len(t, nodes, len(c.layout.Names("storage")))
	clients := map[string]storagepb.StorageClient{}
	for _, n := range nodes {
		conn, err := c.procs.Dialer().GRPC(n.GetAddr())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		clients[n.GetNodeId()] = storagepb.NewStorageClient(conn)
	}
	junk := &storagepb.ShardRef{DriveId: nodes[0].GetDrives()[0].GetDriveId(), ShardId: "not-a-shard"}
	plantShard(t, ctx, clients[nodes[0].GetNodeId()], junk)
	type planted struct {
		node string
		ref  *storagepb.ShardRef
	}
	var orphans []planted
	for i, n := range nodes {
		ref := &storagepb.ShardRef{DriveId: n.GetDrives()[0].GetDriveId(), ShardId: fmt.Sprintf("%s.%d", newDataID(t), i%6)}
		plantShard(t, ctx, clients[n.GetNodeId()], ref)
		orphans = append(orphans, planted{node: n.GetNodeId(), ref: ref})
	}

	// Every node's listing that deletes its orphan also saw all of its
	// real shards older than the grace.
	deadline := time.Now().Add(2 * time.Minute)
	for _, o := range orphans {
		for {
			_, err := clients[o.node].StatShard(ctx, &storagepb.StatShardRequest{Ref: o.ref})
			if status.Code(err) == codes.NotFound {
				break
			}
			require.NoError(t, err)
			if time.Now().After(deadline) {
				t.Fatalf("orphan %s on %s still there after the deadline", o.ref.GetShardId(), o.node)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	_, err = clients[nodes[0].GetNodeId()].StatShard(ctx, &storagepb.StatShardRequest{Ref: junk})
	require.NoError(t, err, "a shard whose name does not parse is never deleted")

	// The upload in progress kept its part: it completes and reads back.
	_, err = c.complete(ctx, "sweep", "pending", pendingID, pendingParts)
	require.NoError(t, err)
	objects["pending"] = partB

	for k, want := range objects {
		// Every shard is still on its drive (a degraded read would hide
		// a lost one) and the object reads back byte-identical.
		v := c.metaObject(t, "sweep", k)
		requireShards(t, ctx, clients, v.GetDataId(), v.GetShards())
		for _, p := range v.GetParts() {
			requireShards(t, ctx, clients, p.GetDataId(), p.GetShards())
		}
		got, err := c.get(ctx, "sweep", k)
		require.NoError(t, err, k)
		require.True(t, bytes.Equal(want, got), "object %s differs after the sweep", k)
	}
	out, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sweep")})
	require.NoError(t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	require.ElementsMatch(t, []string{"small", "stripe", "multi", "replaced", "mp", "pending"}, keys)
}

func (c *cluster) clusterMap(t *testing.T, ctx context.Context) *metapb.ClusterMap {
	t.Helper()
	p, ok := c.layout.Proc(c.layout.Names("meta")[0])
	require.True(t, ok)
	conn, err := c.procs.Dialer().GRPC(p.GRPCAddr)
	require.NoError(t, err)
	defer conn.Close()
	resp, err := metapb.NewMetaClient(conn).GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
	require.NoError(t, err)
	return resp.GetMap()
}

// plantShard writes a small shard straight to a storage node, bypassing
// the gateway and the meta group.
func plantShard(t *testing.T, ctx context.Context, c storagepb.StorageClient, ref *storagepb.ShardRef) {
	t.Helper()
	data := body(99, 10000)
	stream, err := c.WriteShard(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&storagepb.WriteShardRequest{
		Ref: ref, BlockSize: 4096, Data: data, DataCrc32C: crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)),
		Commit: true, TotalSize: uint64(len(data)),
	}))
	_, err = stream.CloseAndRecv()
	require.NoError(t, err)
}

func newDataID(t *testing.T) string {
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// requireShards checks that every placed shard of a body exists.
func requireShards(t *testing.T, ctx context.Context, clients map[string]storagepb.StorageClient, dataID string, shards []*metapb.ShardPlacement) {
	t.Helper()
	for i, sh := range shards {
		if sh.GetNodeId() == "" {
			continue
		}
		ref := &storagepb.ShardRef{DriveId: sh.GetDriveId(), ShardId: fmt.Sprintf("%s.%d", dataID, i)}
		_, err := clients[sh.GetNodeId()].StatShard(ctx, &storagepb.StatShardRequest{Ref: ref})
		require.NoError(t, err, "shard %s on %s/%s", ref.GetShardId(), sh.GetNodeId(), sh.GetDriveId())
	}
}
