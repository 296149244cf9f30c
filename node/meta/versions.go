package meta

import (
	"context"
	"errors"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ListObjectVersions serves a linearizable version listing. A missing
// bucket is NO_SUCH_BUCKET and a version-id marker that names no version
// of the key marker is INVALID_ARGUMENT, both as response codes.
func (s *service) ListObjectVersions(ctx context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	resp, err := read(ctx, s.n, "list object versions",
		func() (*metapb.ListObjectVersionsResponse, error) {
			r, err := s.n.fsm.ListObjectVersions(req)
			if code, ok := notFoundCode(err); ok {
				return &metapb.ListObjectVersionsResponse{Code: code}, nil
			}
			if errors.Is(err, metadata.ErrBadVersionMarker) {
				return &metapb.ListObjectVersionsResponse{Code: metapb.ErrorCode_INVALID_ARGUMENT}, nil
			}
			return r, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ListObjectVersionsResponse, error) {
			return c.ListObjectVersions(ctx, req)
		})
	return resp, toStatus(err)
}
