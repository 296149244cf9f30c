package meta

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
)

// UnknownData serves a linearizable read of the requested data IDs that
// have no commit record. More than metadata.MaxUnknownDataIDs IDs is an
// InvalidArgument status.
func (s *service) UnknownData(ctx context.Context, req *metapb.UnknownDataRequest) (*metapb.UnknownDataResponse, error) {
	if n := len(req.GetDataIds()); n > metadata.MaxUnknownDataIDs {
		return nil, status.Errorf(codes.InvalidArgument, "unknown data: %d data IDs, at most %d", n, metadata.MaxUnknownDataIDs)
	}
	resp, err := read(ctx, s.n, "unknown data",
		func() (*metapb.UnknownDataResponse, error) {
			unknown, err := s.n.fsm.UnknownData(req.GetDataIds())
			return &metapb.UnknownDataResponse{Unknown: unknown}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.UnknownDataResponse, error) {
			return c.UnknownData(ctx, req)
		})
	return resp, toStatus(err)
}
