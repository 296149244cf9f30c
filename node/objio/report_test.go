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
