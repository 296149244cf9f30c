package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// TestRepairBitFlipsAndLostDrive flips bits inside shard files, which a
// degraded GET reports and the storage scrub (started by `cairn admin
// scrub`) finds, and the repairer rewrites in place until the files verify
// again; then removes a storage
// node's drive directory, which the node reports faulty and the repairer
// answers by rebuilding that drive's shards on other nodes. Every object
// reads back byte-identical at the end.
func TestRepairBitFlipsAndLostDrive(t *testing.T) {
	c := startClusterSpec(t, devcluster.Spec{Storage: 7}, repairEnv...)
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "rot")
	data := map[string][]byte{"a": body(400, 5<<20+3), "b": body(401, 300<<10), "c": body(402, 9<<20+17)}
	keys := []string{"a", "b", "c"}
	for _, k := range keys {
		require.NoError(t, c.put(ctx, "rot", k, data[k]))
	}
	deadline := time.Now().Add(time.Minute)
	for !c.spread("rot", keys) {
		require.True(t, time.Now().Before(deadline), "bodies not spread within a minute")
		time.Sleep(200 * time.Millisecond)
	}
	storage := c.storageClients(t)

	// verifies reports whether shard i of key verifies, where its record
	// says it is, against the digest the record holds.
	verifies := func(key string, i int) bool {
		v := c.metaObject(t, "rot", key)
		sh := v.GetShards()[i]
		cl, ok := storage[sh.GetNodeId()]
		if !ok {
			return false
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := cl.VerifyShard(cctx, &storagepb.VerifyShardRequest{
			Ref:          &storagepb.ShardRef{DriveId: sh.GetDriveId(), ShardId: fmt.Sprintf("%s.%d", v.GetDataId(), i)},
			ExpectDigest: v.GetShardDigests()[i],
		})
		return err == nil
	}

	// flip flips a bit inside shard i of key (the header is 16 bytes, so
	// byte 100 is in the first block's data) and returns where it is.
	flip := func(key string, i int) *metapb.ShardPlacement {
		v := c.metaObject(t, "rot", key)
		sh := v.GetShards()[i]
		path, ok := c.findShardFile(t, sh.GetNodeId(), fmt.Sprintf("%s.%d", v.GetDataId(), i))
		require.True(t, ok)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[100] ^= 0x10
		require.NoError(t, os.WriteFile(path, b, 0o600))
		require.False(t, verifies(key, i), "a flipped bit must fail verification")
		return sh
	}

	// A GET that reads around a corrupt data shard reports it, and the
	// repairer rewrites it without waiting for a scrub.
	was := flip("b", 0)
	got, err := c.get(ctx, "rot", "b")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data["b"], got))
	deadline = time.Now().Add(time.Minute)
	for !verifies("b", 0) {
		require.True(t, time.Now().Before(deadline), "shard 0 of b, reported by a degraded read, not repaired")
		time.Sleep(250 * time.Millisecond)
	}
	require.Equal(t, was.GetNodeId(), c.metaObject(t, "rot", "b").GetShards()[0].GetNodeId())

	// Bit flips in a data shard of a and a parity shard of b, found by a
	// scrub.
	flipped := []struct {
		key   string
		index int
		was   *metapb.ShardPlacement
	}{{key: "a", index: 1}, {key: "b", index: 4}}
	for i, f := range flipped {
		flipped[i].was = flip(f.key, f.index)
	}
	_, err = c.healAdmin(ctx, "scrub")
	require.NoError(t, err)
	for _, f := range flipped {
		deadline := time.Now().Add(2 * time.Minute)
		for !verifies(f.key, f.index) {
			require.True(t, time.Now().Before(deadline), "%s shard %d not repaired", f.key, f.index)
			time.Sleep(250 * time.Millisecond)
		}
		now := c.metaObject(t, "rot", f.key).GetShards()[f.index]
		require.Equal(t, f.was.GetNodeId(), now.GetNodeId(), "a corrupt shard on a healthy drive is rewritten in place")
	}

	// A lost drive: the node holding shard 0 of c loses its drive directory.
	v := c.metaObject(t, "rot", "c")
	lost := v.GetShards()[0]
	p, ok := c.layout.Proc(c.procOfNode(t, lost.GetNodeId()))
	require.True(t, ok)
	require.NoError(t, os.RemoveAll(filepath.Join(c.layout.Dir, p.DataDir, "drive0")))
	deadline = time.Now().Add(2 * time.Minute)
	for {
		now := c.metaObject(t, "rot", "c").GetShards()[0]
		if now.GetNodeId() != lost.GetNodeId() && verifies("c", 0) {
			break
		}
		require.True(t, time.Now().Before(deadline), "shard 0 of c not rebuilt off the lost drive")
		time.Sleep(250 * time.Millisecond)
	}
	c.requireSpread(t, "rot", []string{"c"}, lost.GetNodeId())

	for _, k := range keys {
		got, err := c.get(ctx, "rot", k)
		require.NoError(t, err, k)
		require.True(t, bytes.Equal(data[k], got), k)
	}
}
