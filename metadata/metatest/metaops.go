package metatest

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// AddVoter, RemoveVoter, TransferLeader and Backup are Raft's: the
// in-process FSM has none.

// AddVoter implements metapb.MetaClient: Unimplemented.
func (c *Client) AddVoter(context.Context, *metapb.AddVoterRequest, ...grpc.CallOption) (*metapb.AddVoterResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no raft")
}

// RemoveVoter implements metapb.MetaClient: Unimplemented.
func (c *Client) RemoveVoter(context.Context, *metapb.RemoveVoterRequest, ...grpc.CallOption) (*metapb.RemoveVoterResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no raft")
}

// TransferLeader implements metapb.MetaClient: Unimplemented.
func (c *Client) TransferLeader(context.Context, *metapb.TransferLeaderRequest, ...grpc.CallOption) (*metapb.TransferLeaderResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no raft")
}

// Backup implements metapb.MetaClient: Unimplemented.
func (c *Client) Backup(context.Context, *metapb.BackupRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BackupChunk], error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no raft")
}
