package meta

import (
	"context"
	"errors"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
)

// GetUser serves a user record, secret still sealed: the meta group never
// holds a secret in the clear. Linearizable, so a deleted user is unknown
// to every read that starts after the deletion committed.
func (s *service) GetUser(ctx context.Context, req *metapb.GetUserRequest) (*metapb.GetUserResponse, error) {
	resp, err := read(ctx, s.n, "get user",
		func() (*metapb.GetUserResponse, error) {
			u, err := s.n.fsm.GetUser(req.GetAccessKey())
			if errors.Is(err, metadata.ErrNoSuchUser) {
				return &metapb.GetUserResponse{Code: metapb.ErrorCode_NO_SUCH_USER}, nil
			}
			return &metapb.GetUserResponse{User: u}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.GetUserResponse, error) {
			return c.GetUser(ctx, req)
		})
	return resp, toStatus(err)
}

// ListUsers serves every user record, secrets sealed.
func (s *service) ListUsers(ctx context.Context, req *metapb.ListUsersRequest) (*metapb.ListUsersResponse, error) {
	resp, err := read(ctx, s.n, "list users",
		func() (*metapb.ListUsersResponse, error) {
			us, err := s.n.fsm.ListUsers()
			return &metapb.ListUsersResponse{Users: us}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ListUsersResponse, error) {
			return c.ListUsers(ctx, req)
		})
	return resp, toStatus(err)
}
