package objio_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

type sink struct {
	mu  sync.Mutex
	got []*metapb.ShardReport
}

func (s *sink) ReportShards(_ context.Context, in *metapb.ReportShardsRequest, _ ...grpc.CallOption) (*metapb.ReportShardsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, in.GetShards()...)
	return &metapb.ReportShardsResponse{Queued: uint32(len(in.GetShards()))}, nil
}

func (s *sink) reports() []*metapb.ShardReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*metapb.ShardReport(nil), s.got...)
}

func TestReporterSendsCorruptAndMissingOnly(t *testing.T) {
	s := &sink{}
	r := objio.NewReporter(s, "gateway", nil)
	defer r.Close()
	v := &metapb.ObjectVersion{DataId: "d1", Shards: []*metapb.ShardPlacement{
		{NodeId: "n0", DriveId: "a"}, {NodeId: "n1", DriveId: "b"}, {NodeId: "n2", DriveId: "c"},
	}}
	r.OnReadFailure(v, 0, fmt.Errorf("shard: %w", status.Error(codes.DataLoss, "checksum mismatch")))
	r.OnReadFailure(v, 1, status.Error(codes.Unavailable, "node down"))
	r.OnReadFailure(v, 2, status.Error(codes.NotFound, "no such shard"))
	r.OnReadFailure(v, 7, status.Error(codes.NotFound, "index out of the record"))
	require.Eventually(t, func() bool { return len(s.reports()) == 2 }, 5*time.Second, 10*time.Millisecond)
	got := s.reports()
	require.Equal(t, "d1.0", got[0].GetShardId())
	require.Equal(t, metapb.ShardHealth_SHARD_CORRUPT, got[0].GetHealth())
	require.Equal(t, "n0", got[0].GetNodeId())
	require.Equal(t, "d1.2", got[1].GetShardId())
	require.Equal(t, metapb.ShardHealth_SHARD_MISSING, got[1].GetHealth())
	require.Equal(t, "c", got[1].GetDriveId())
}

func TestReporterUnderSpread(t *testing.T) {
	cases := []struct {
		name   string
		nodes  []string
		report string // shard ID reported, "" for none
		node   string
	}{
		{name: "spread", nodes: []string{"n0", "n1", "n2"}},
		{name: "two on one node", nodes: []string{"n0", "n1", "n0"}, report: "d1.2", node: "n0"},
		{name: "first doubled shard named", nodes: []string{"n0", "n1", "n1", "n0"}, report: "d1.2", node: "n1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			r := objio.NewReporter(s, "gateway", nil)
			var shards []*metapb.ShardPlacement
			for i, n := range tc.nodes {
				shards = append(shards, &metapb.ShardPlacement{NodeId: n, DriveId: fmt.Sprintf("d%d", i)})
			}
			r.OnUnderSpread("d1", shards)
			// A damage report after it: once it arrives, anything queued
			// before it has been sent too.
			r.OnReadFailure(&metapb.ObjectVersion{DataId: "z", Shards: shards}, 0, status.Error(codes.NotFound, "gone"))
			require.Eventually(t, func() bool {
				got := s.reports()
				return len(got) > 0 && got[len(got)-1].GetShardId() == "z.0"
			}, 5*time.Second, 10*time.Millisecond)
			r.Close()
			got := s.reports()
			if tc.report == "" {
				require.Len(t, got, 1)
				return
			}
			require.Len(t, got, 2)
			require.Equal(t, tc.report, got[0].GetShardId())
			require.Equal(t, tc.node, got[0].GetNodeId())
			require.Equal(t, metapb.ShardHealth_SHARD_OK, got[0].GetHealth())
			require.Empty(t, got[0].GetDigest(), "no digest: a request to assess the body, not a verified shard")
		})
	}
}
