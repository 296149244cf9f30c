package metadata

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// BenchmarkApplyBatch64Puts measures one Raft batch of 64 PutObjects: one
// synced Pebble commit.
func BenchmarkApplyBatch64Puts(b *testing.B) {
	h := newHarness(b)
	h.mustApply(createBucket("b", "o", unversioned))
	const perBatch = 64
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		logs := make([]*raft.Log, perBatch)
		size := 0
		for i := range logs {
			logs[i] = h.log(putObject("b", fmt.Sprintf("obj/%08d/%02d", batch, i), "null", fmt.Sprintf("data-%d-%d", batch, i)))
			size += len(logs[i].Data)
		}
		b.SetBytes(int64(size))
		for _, res := range h.f.ApplyBatch(logs) {
			if r, ok := res.(*metapb.CommandResult); !ok || r.Code != metapb.ErrorCode_OK {
				b.Fatalf("apply: %v", res)
			}
		}
		batch++
	}
}

// BenchmarkListObjectsPage measures one 1000-key page in a bucket of 20,000
// keys, with and without a delimiter that rolls up most of the bucket.
func BenchmarkListObjectsPage(b *testing.B) {
	h := newHarness(b)
	h.mustApply(createBucket("b", "o", unversioned))
	var logs []*raft.Log
	for i := range 20000 {
		key := fmt.Sprintf("flat/%06d", i)
		if i%2 == 0 {
			key = fmt.Sprintf("dir%03d/%06d", i%300, i)
		}
		logs = append(logs, h.log(putObject("b", key, "null", "d")))
		if len(logs) == 1000 {
			h.f.ApplyBatch(logs)
			logs = logs[:0]
		}
	}
	for _, tc := range []struct {
		name string
		req  *metapb.ListObjectsRequest
	}{
		{"flat", &metapb.ListObjectsRequest{Bucket: "b", Prefix: "flat/"}},
		{"delimiter", &metapb.ListObjectsRequest{Bucket: "b", Delimiter: "/"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			resp, err := h.f.ListObjects(tc.req)
			require.NoError(b, err)
			b.SetBytes(int64(proto.Size(resp)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.f.ListObjects(tc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
