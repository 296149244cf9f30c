// Package metatest is test-only: Client is a metapb.MetaClient served
// in-process by a real metadata.FSM (no Raft, no network), so that the
// gateway's tests exercise the state machine's own decisions. It must only
// be imported from _test.go files.
package metatest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Client applies proposals to an FSM in order and serves reads from it.
type Client struct {
	FSM *metadata.FSM

	mu    sync.Mutex
	index uint64
}

// New opens an FSM in a temporary directory, closed when tb ends.
func New(tb testing.TB) *Client {
	tb.Helper()
	f, err := metadata.Open(tb.TempDir(), metadata.Options{})
	if err != nil {
		tb.Fatalf("metatest: open fsm: %v", err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return &Client{FSM: f}
}

func code(err error) (metapb.ErrorCode, error) {
	switch {
	case err == nil:
		return metapb.ErrorCode_OK, nil
	case errors.Is(err, metadata.ErrNoSuchBucket):
		return metapb.ErrorCode_NO_SUCH_BUCKET, nil
	case errors.Is(err, metadata.ErrNoSuchKey):
		return metapb.ErrorCode_NO_SUCH_KEY, nil
	case errors.Is(err, metadata.ErrNoSuchVersion):
		return metapb.ErrorCode_NO_SUCH_VERSION, nil
	case errors.Is(err, metadata.ErrNoSuchUpload):
		return metapb.ErrorCode_NO_SUCH_UPLOAD, nil
	}
	return 0, status.Error(codes.Internal, err.Error())
}

// Propose implements metapb.MetaClient.
func (c *Client) Propose(_ context.Context, in *metapb.ProposeRequest, _ ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	data, err := proto.Marshal(in.GetCommand())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	c.mu.Lock()
	c.index++
	out := c.FSM.Apply(&raft.Log{Index: c.index, Term: 1, Type: raft.LogCommand, Data: data})
	c.mu.Unlock()
	res, ok := out.(*metapb.CommandResult)
	if !ok {
		return nil, status.Errorf(codes.Internal, "metatest: apply: %v", out)
	}
	return &metapb.ProposeResponse{Result: res}, nil
}

// GetBucket implements metapb.MetaClient.
func (c *Client) GetBucket(_ context.Context, in *metapb.GetBucketRequest, _ ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	b, err := c.FSM.GetBucket(in.GetName())
	cd, err := code(err)
	return &metapb.GetBucketResponse{Code: cd, Bucket: b}, err
}

// ListBuckets implements metapb.MetaClient.
func (c *Client) ListBuckets(context.Context, *metapb.ListBucketsRequest, ...grpc.CallOption) (*metapb.ListBucketsResponse, error) {
	bs, err := c.FSM.ListBuckets()
	if _, err := code(err); err != nil {
		return nil, err
	}
	return &metapb.ListBucketsResponse{Buckets: bs}, nil
}

// GetObject implements metapb.MetaClient.
func (c *Client) GetObject(_ context.Context, in *metapb.GetObjectRequest, _ ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	v, err := c.FSM.GetObject(in.GetBucket(), in.GetKey(), in.GetVersionId())
	cd, err := code(err)
	return &metapb.GetObjectResponse{Code: cd, Version: v}, err
}

// ListObjects implements metapb.MetaClient.
func (c *Client) ListObjects(_ context.Context, in *metapb.ListObjectsRequest, _ ...grpc.CallOption) (*metapb.ListObjectsResponse, error) {
	resp, err := c.FSM.ListObjects(in)
	cd, err := code(err)
	if err != nil || cd != metapb.ErrorCode_OK {
		return &metapb.ListObjectsResponse{Code: cd}, err
	}
	return resp, nil
}

// GetMultipartUpload implements metapb.MetaClient.
func (c *Client) GetMultipartUpload(_ context.Context, in *metapb.GetMultipartUploadRequest, _ ...grpc.CallOption) (*metapb.GetMultipartUploadResponse, error) {
	resp, err := c.FSM.GetMultipartUpload(in)
	cd, err := code(err)
	if err != nil || cd != metapb.ErrorCode_OK {
		return &metapb.GetMultipartUploadResponse{Code: cd}, err
	}
	return resp, nil
}

// ListMultipartUploads implements metapb.MetaClient.
func (c *Client) ListMultipartUploads(_ context.Context, in *metapb.ListMultipartUploadsRequest, _ ...grpc.CallOption) (*metapb.ListMultipartUploadsResponse, error) {
	resp, err := c.FSM.ListMultipartUploads(in)
	cd, err := code(err)
	if err != nil || cd != metapb.ErrorCode_OK {
		return &metapb.ListMultipartUploadsResponse{Code: cd}, err
	}
	return resp, nil
}

// GetClusterMap implements metapb.MetaClient.
func (c *Client) GetClusterMap(context.Context, *metapb.GetClusterMapRequest, ...grpc.CallOption) (*metapb.GetClusterMapResponse, error) {
	m, err := c.FSM.ClusterMap()
	if _, err := code(err); err != nil {
		return nil, err
	}
	return &metapb.GetClusterMapResponse{Map: m}, nil
}

// Heartbeat implements metapb.MetaClient; the in-process FSM has no nodes.
func (c *Client) Heartbeat(context.Context, *metapb.HeartbeatRequest, ...grpc.CallOption) (*metapb.HeartbeatResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: Heartbeat")
}

// Status implements metapb.MetaClient.
func (c *Client) Status(context.Context, *metapb.StatusRequest, ...grpc.CallOption) (*metapb.StatusResponse, error) {
	return &metapb.StatusResponse{NodeId: "metatest", RaftState: "Leader", AppliedIndex: c.FSM.AppliedIndex()}, nil
}

// ListObjectVersions implements metapb.MetaClient.
func (c *Client) ListObjectVersions(context.Context, *metapb.ListObjectVersionsRequest, ...grpc.CallOption) (*metapb.ListObjectVersionsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: ListObjectVersions")
}

// GetUser implements metapb.MetaClient.
func (c *Client) GetUser(context.Context, *metapb.GetUserRequest, ...grpc.CallOption) (*metapb.GetUserResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: GetUser")
}

// ListUsers implements metapb.MetaClient.
func (c *Client) ListUsers(context.Context, *metapb.ListUsersRequest, ...grpc.CallOption) (*metapb.ListUsersResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: ListUsers")
}

// UnknownData implements metapb.MetaClient.
func (c *Client) UnknownData(_ context.Context, in *metapb.UnknownDataRequest, _ ...grpc.CallOption) (*metapb.UnknownDataResponse, error) {
	unknown, err := c.FSM.UnknownData(in.GetDataIds())
	if errors.Is(err, metadata.ErrTooManyDataIDs) {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if _, err := code(err); err != nil {
		return nil, err
	}
	return &metapb.UnknownDataResponse{Unknown: unknown}, nil
}

// ReportShards, HealStatus and Scrub are the leader's repairer's; the FSM
// alone has none.

// ReportShards implements metapb.MetaClient: Unimplemented.
func (c *Client) ReportShards(context.Context, *metapb.ReportShardsRequest, ...grpc.CallOption) (*metapb.ReportShardsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no repairer")
}

// HealStatus implements metapb.MetaClient: Unimplemented.
func (c *Client) HealStatus(context.Context, *metapb.HealStatusRequest, ...grpc.CallOption) (*metapb.HealStatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no repairer")
}

// Scrub implements metapb.MetaClient: Unimplemented.
func (c *Client) Scrub(context.Context, *metapb.ScrubRequest, ...grpc.CallOption) (*metapb.ScrubResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no repairer")
}

// MembershipStatus implements metapb.MetaClient: Unimplemented.
func (c *Client) MembershipStatus(context.Context, *metapb.MembershipStatusRequest, ...grpc.CallOption) (*metapb.MembershipStatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no repairer")
}

// RemoveNode implements metapb.MetaClient: Unimplemented.
func (c *Client) RemoveNode(context.Context, *metapb.RemoveNodeRequest, ...grpc.CallOption) (*metapb.RemoveNodeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no repairer")
}

// WatchBuckets implements metapb.MetaClient: Unimplemented (callers then
// read every bucket linearizably).
func (c *Client) WatchBuckets(context.Context, *metapb.WatchBucketsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BucketsEvent], error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no watch")
}

// WatchClusterMap implements metapb.MetaClient: Unimplemented (callers
// then poll GetClusterMap).
func (c *Client) WatchClusterMap(context.Context, *metapb.WatchClusterMapRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.ClusterMapEvent], error) {
	return nil, status.Error(codes.Unimplemented, "metatest: no watch")
}

var _ metapb.MetaClient = (*Client)(nil)
