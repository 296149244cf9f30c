package metadata

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// BenchmarkApplyBatch64Puts measures one Raft batch of 64 PutObjects: one
// Pebble commit.
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
		logs = append(logs, h.log(putObject("b", key, "null", "d-"+key)))
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

// BenchmarkListPageAtScale measures one 1,000-entry page of ListObjects and
// of ListObjectVersions out of a bucket of 1,000 live keys and out of one of
// 1,000,000 (each built once per process run): a page is a range scan, so
// the two should cost about the same.
func BenchmarkListPageAtScale(b *testing.B) {
	// scaleVersions leaves 10 of every 11 keys live.
	for _, live := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", live), func(b *testing.B) {
			h := newHarness(b)
			current := fillBucket(b, h, "b", live/10*11)
			require.Len(b, current, live)
			mid := current[len(current)/2]
			for _, tc := range []struct {
				name string
				list func() (proto.Message, error)
			}{
				{"ListObjects", func() (proto.Message, error) {
					return h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b", MaxKeys: 1000})
				}},
				{"ListObjectsFromMiddle", func() (proto.Message, error) {
					return h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b", StartAfter: mid, MaxKeys: 1000})
				}},
				{"ListObjectsDelimiter", func() (proto.Message, error) {
					return h.f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b", Delimiter: "/", MaxKeys: 1000})
				}},
				{"ListObjectVersions", func() (proto.Message, error) {
					return h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b", MaxKeys: 1000})
				}},
				{"ListObjectVersionsFromMiddle", func() (proto.Message, error) {
					return h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b", KeyMarker: mid, MaxKeys: 1000})
				}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					resp, err := tc.list()
					require.NoError(b, err)
					b.SetBytes(int64(proto.Size(resp)))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := tc.list(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkApplyInlinePuts measures batches of 32 PutObjects of new keys
// with 4 KiB inline bodies into a database already holding 20,000 of them
// (80 MiB, most of it in tables rather than the memtable): the lookups of
// keys that do not exist yet are what the tables' bloom filters answer.
func BenchmarkApplyInlinePuts(b *testing.B) {
	h := newHarness(b)
	h.mustApply(createBucket("b", "o", unversioned))
	body := make([]byte, 4<<10)
	for i := range body {
		body[i] = byte(i*7 + i>>8)
	}
	var logs []*raft.Log
	for i := range 20000 {
		logs = append(logs, h.log(putInline("b", fmt.Sprintf("seed/%06d", i), "", fmt.Sprintf("seed-%06d", i), body)))
		if len(logs) == 500 {
			h.f.ApplyBatch(logs)
			logs = logs[:0]
		}
	}
	const perBatch = 32
	batch := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		logs := make([]*raft.Log, perBatch)
		for i := range logs {
			logs[i] = h.log(putInline("b", fmt.Sprintf("new/%08d/%02d", batch, i), "", fmt.Sprintf("new-%d-%d", batch, i), body))
		}
		for _, res := range h.f.ApplyBatch(logs) {
			if r, ok := res.(*metapb.CommandResult); !ok || r.Code != metapb.ErrorCode_OK {
				b.Fatalf("apply: %v", res)
			}
		}
		batch++
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkApplyInline4KiB applies 4 KiB inline PutObjects under random
// keys in batches of 8, as a voter does under many small PUTs, and reports
// the process's CPU time per put: Pebble's flushes and compactions, which
// run on other goroutines, included. Run it with -benchtime of a few
// thousand puts or more, or the compactions it triggers are not reached.
func BenchmarkApplyInline4KiB(b *testing.B) {
	benchApplyInline(b, func(rng *rand.Rand) string { return fmt.Sprintf("obj/%016x", rng.Uint64()) })
}

// BenchmarkApplyInline4KiBOverwrite is BenchmarkApplyInline4KiB over a
// set of 4096 keys, so that nearly every put replaces a null version
// (which then goes to the GC queue).
func BenchmarkApplyInline4KiBOverwrite(b *testing.B) {
	benchApplyInline(b, func(rng *rand.Rand) string { return fmt.Sprintf("obj/%04d", rng.IntN(4096)) })
}

// benchApplyInline applies 4 KiB inline puts under the keys key draws, in
// batches of 8, and reports CPU time per put.
func benchApplyInline(b *testing.B, key func(*rand.Rand) string) {
	h := newHarness(b)
	h.mustApply(createBucket("b", "o", unversioned))
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, 4096)
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	const perBatch = 8
	logs := make([]*raft.Log, 0, perBatch)
	start := cpuTime(b)
	n := 0
	for b.Loop() {
		logs = append(logs, h.log(putInline("b", key(rng), "null", fmt.Sprintf("d-%d", n), body)))
		n++
		if len(logs) == perBatch {
			for _, res := range h.f.ApplyBatch(logs) {
				if r, ok := res.(*metapb.CommandResult); !ok || r.Code != metapb.ErrorCode_OK {
					b.Fatalf("apply: %v", res)
				}
			}
			logs = logs[:0]
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(n), "cpu-µs/op")
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
