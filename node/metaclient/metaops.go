package metaclient

import (
	"context"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/proto/metapb"
)

// AddVoter implements metapb.MetaClient. Voter changes get a write's time:
// the leader commits a configuration entry.
func (c *Client) AddVoter(ctx context.Context, in *metapb.AddVoterRequest, opts ...grpc.CallOption) (*metapb.AddVoterResponse, error) {
	return call(ctx, c, c.cfg.ProposeTimeout, c.cfg.ProposeAttemptTimeout, func(ctx context.Context, m metapb.MetaClient) (*metapb.AddVoterResponse, error) {
		return m.AddVoter(ctx, in, opts...)
	})
}

// RemoveVoter implements metapb.MetaClient.
func (c *Client) RemoveVoter(ctx context.Context, in *metapb.RemoveVoterRequest, opts ...grpc.CallOption) (*metapb.RemoveVoterResponse, error) {
	return call(ctx, c, c.cfg.ProposeTimeout, c.cfg.ProposeAttemptTimeout, func(ctx context.Context, m metapb.MetaClient) (*metapb.RemoveVoterResponse, error) {
		return m.RemoveVoter(ctx, in, opts...)
	})
}

// TransferLeader implements metapb.MetaClient.
func (c *Client) TransferLeader(ctx context.Context, in *metapb.TransferLeaderRequest, opts ...grpc.CallOption) (*metapb.TransferLeaderResponse, error) {
	return call(ctx, c, c.cfg.ProposeTimeout, c.cfg.ProposeAttemptTimeout, func(ctx context.Context, m metapb.MetaClient) (*metapb.TransferLeaderResponse, error) {
		return m.TransferLeader(ctx, in, opts...)
	})
}

// Backup implements metapb.MetaClient: it opens the stream on the node
// believed to lead (only the leader serves it; a follower answers
// FailedPrecondition naming the leader). The stream is not retried.
func (c *Client) Backup(ctx context.Context, in *metapb.BackupRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BackupChunk], error) {
	return c.order()[0].client.Backup(ctx, in, opts...)
}
