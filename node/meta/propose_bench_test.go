package meta

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// BenchmarkProposePut measures PutObject commits through a three-voter
// group on loopback, 16 proposers at once on the leader: the metadata half
// of a small PUT. "inline-4k" carries a 4 KiB body in the record (see
// README, "Small objects"); "shards" carries a 4+2 placement instead.
// Concurrent proposals share Raft log writes (Config.BatchApplyCh) and
// are applied as one Pebble batch (metadata.FSM.ApplyBatch).
func BenchmarkProposePut(b *testing.B) {
	for _, tc := range []struct {
		name   string
		inline int
	}{{"shards", 0}, {"inline-4k", 4 << 10}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newTestCluster(b, 3, 3, nil)
			leader := c.waitLeader()
			ctx := context.Background()
			if _, err := leader.node.Propose(ctx, createBucketCmd("bench")); err != nil {
				b.Fatal(err)
			}
			var n atomic.Uint64
			body := make([]byte, tc.inline)
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					v := &metapb.ObjectVersion{Bucket: "bench", Key: fmt.Sprintf("k/%08d", i), DataId: fmt.Sprintf("d%016x", i),
						Size: int64(tc.inline), Etag: "e", MtimeUnixNano: 1}
					if tc.inline > 0 {
						v.Inline, v.InlineData = true, body
					} else {
						v.Profile = &metapb.ErasureProfile{DataShards: 4, ParityShards: 2, BlockSize: 1 << 20}
						for s := range 6 {
							v.Shards = append(v.Shards, &metapb.ShardPlacement{NodeId: fmt.Sprintf("n%d", s), DriveId: "d"})
						}
					}
					res, err := leader.node.Propose(ctx, &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: v}}})
					if err != nil || res.GetCode() != metapb.ErrorCode_OK {
						b.Fatalf("propose: %v %v", err, res)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// TestInlineLimitsAgree: no gateway may be configured to send an inline
// body the meta group would refuse.
func TestInlineLimitsAgree(t *testing.T) {
	if objio.MaxInlineBytes > metadata.MaxInlineBytes {
		t.Fatalf("objio.MaxInlineBytes %d above metadata.MaxInlineBytes %d", objio.MaxInlineBytes, metadata.MaxInlineBytes)
	}
}
