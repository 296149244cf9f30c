package gateway

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Meta is what the gateway needs of the meta group: the reads behind its
// handlers and one way to change state, Propose. It is narrow so that a
// test fake implements only this, not the whole generated client.
//
// Errors: an answer code other than OK comes back as an *s3err.MetaError
// (with the result, for Propose); a failed call comes back wrapped with the
// operation, and, when the group is unreachable, leaderless or shedding
// load, marked with the S3 error a client should see. MetaClient does this
// translation for the generated client in one place.
type Meta interface {
	// Propose runs cmd through Raft.
	Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error)
	// Bucket reads one bucket linearizably.
	Bucket(ctx context.Context, name string) (*metapb.Bucket, error)
	// Buckets lists every bucket.
	Buckets(ctx context.Context) ([]*metapb.Bucket, error)
	// Object reads one version of a key; versionID "" is the current one.
	Object(ctx context.Context, bucket, key, versionID string) (*metapb.ObjectVersion, error)
	ListObjects(ctx context.Context, in *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error)
	ListVersions(ctx context.Context, in *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error)
	// Upload reads a multipart upload with a page of its parts.
	Upload(ctx context.Context, in *metapb.GetMultipartUploadRequest) (*metapb.GetMultipartUploadResponse, error)
	ListUploads(ctx context.Context, in *metapb.ListMultipartUploadsRequest) (*metapb.ListMultipartUploadsResponse, error)
	// ClusterMap reads the cluster map (a linearizable read).
	ClusterMap(ctx context.Context) (*metapb.ClusterMap, error)
	userSource
}

// MetaClient is the gateway's Meta over the generated meta client.
type MetaClient struct {
	c metapb.MetaClient
}

// NewMetaClient adapts c to the gateway's Meta.
func NewMetaClient(c metapb.MetaClient) *MetaClient { return &MetaClient{c: c} }

var _ Meta = (*MetaClient)(nil)

// metaCallError is the one translation of a failed meta call: the group
// unreachable, timed out or without a leader is ServiceUnavailable; a node
// refusing work is SlowDown, which tells a client to ask less often.
// Anything else stays an internal error.
func metaCallError(op string, err error) error {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
			return fmt.Errorf("meta %s: %w: %w", op, s3err.ServiceUnavailable, err)
		case codes.ResourceExhausted:
			return fmt.Errorf("meta %s: %w: %w", op, s3err.SlowDown, err)
		}
	}
	return fmt.Errorf("meta %s: %w", op, err)
}

// codeError is the one translation of the meta service's answer codes.
func codeError(code metapb.ErrorCode, message string) error {
	if code == metapb.ErrorCode_OK {
		return nil
	}
	return &s3err.MetaError{Code: code, Message: message}
}

// Propose implements Meta. A non-OK result comes back with its error.
func (m *MetaClient) Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	resp, err := m.c.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
	if err != nil {
		return nil, metaCallError("propose", err)
	}
	res := resp.GetResult()
	if err := codeError(res.GetCode(), res.GetMessage()); err != nil {
		return res, err
	}
	return res, nil
}

// Bucket implements Meta.
func (m *MetaClient) Bucket(ctx context.Context, name string) (*metapb.Bucket, error) {
	resp, err := m.c.GetBucket(ctx, &metapb.GetBucketRequest{Name: name})
	if err != nil {
		return nil, metaCallError(fmt.Sprintf("get bucket %q", name), err)
	}
	if err := codeError(resp.GetCode(), ""); err != nil {
		return nil, err
	}
	if resp.GetBucket() == nil {
		return nil, fmt.Errorf("meta get bucket %q: empty answer", name)
	}
	return resp.GetBucket(), nil
}

// Buckets implements Meta.
func (m *MetaClient) Buckets(ctx context.Context) ([]*metapb.Bucket, error) {
	resp, err := m.c.ListBuckets(ctx, &metapb.ListBucketsRequest{})
	if err != nil {
		return nil, metaCallError("list buckets", err)
	}
	return resp.GetBuckets(), nil
}

// Object implements Meta.
func (m *MetaClient) Object(ctx context.Context, bucket, key, versionID string) (*metapb.ObjectVersion, error) {
	resp, err := m.c.GetObject(ctx, &metapb.GetObjectRequest{Bucket: bucket, Key: key, VersionId: versionID})
	if err != nil {
		return nil, metaCallError(fmt.Sprintf("get object %q/%q", bucket, key), err)
	}
	if err := codeError(resp.GetCode(), ""); err != nil {
		return nil, err
	}
	if resp.GetVersion() == nil {
		return nil, fmt.Errorf("meta get object %q/%q: empty answer", bucket, key)
	}
	return resp.GetVersion(), nil
}

// ListObjects implements Meta.
func (m *MetaClient) ListObjects(ctx context.Context, in *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	resp, err := m.c.ListObjects(ctx, in)
	if err != nil {
		return nil, metaCallError(fmt.Sprintf("list objects %q", in.GetBucket()), err)
	}
	if err := codeError(resp.GetCode(), ""); err != nil {
		return nil, err
	}
	return resp, nil
}

// ListVersions implements Meta.
func (m *MetaClient) ListVersions(ctx context.Context, in *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	resp, err := m.c.ListObjectVersions(ctx, in)
	if err != nil {
		return nil, metaCallError(fmt.Sprintf("list object versions %q", in.GetBucket()), err)
	}
	if err := codeError(resp.GetCode(), ""); err != nil {
		return nil, err
	}
	return resp, nil
}

// Upload implements Meta.
func (m *MetaClient) Upload(ctx context.Context, in *metapb.GetMultipartUploadRequest) (*metapb.GetMultipartUploadResponse, error) {
	resp, err := m.c.GetMultipartUpload(ctx, in)
	if err != nil {
		return nil, metaCallError(fmt.Sprintf("get upload %q", in.GetUploadId()), err)
	}
	if err := codeError(resp.GetCode(), ""); err != nil {
		return nil, err
	}
	if resp.GetUpload() == nil {
		return nil, fmt.Errorf("meta get upload %q: empty answer", in.GetUploadId())
	}
	return resp, nil
}

// ListUploads implements Meta.
func (m *MetaClient) ListUploads(ctx context.Context, in *metapb.ListMultipartUploadsRequest) (*metapb.ListMultipartUploadsResponse, error) {
	resp, err := m.c.ListMultipartUploads(ctx, in)
	if err != nil {
		return nil, metaCallError("list uploads", err)
	}
	if err := codeError(resp.GetCode(), ""); err != nil {
		return nil, err
	}
	return resp, nil
}

// ClusterMap implements Meta.
func (m *MetaClient) ClusterMap(ctx context.Context) (*metapb.ClusterMap, error) {
	resp, err := m.c.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
	if err != nil {
		return nil, metaCallError("get cluster map", err)
	}
	return resp.GetMap(), nil
}

// GetUser implements Meta; a missing user is not an error.
func (m *MetaClient) GetUser(ctx context.Context, accessKey string) (*metapb.User, bool, error) {
	resp, err := m.c.GetUser(ctx, &metapb.GetUserRequest{AccessKey: accessKey})
	if err != nil {
		return nil, false, metaCallError("get user", err)
	}
	switch resp.GetCode() {
	case metapb.ErrorCode_OK:
		return resp.GetUser(), resp.GetUser() != nil, nil
	case metapb.ErrorCode_NO_SUCH_USER:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("meta get user: %s", resp.GetCode())
}

// ListUsers implements Meta.
func (m *MetaClient) ListUsers(ctx context.Context) ([]*metapb.User, error) {
	resp, err := m.c.ListUsers(ctx, &metapb.ListUsersRequest{})
	if err != nil {
		return nil, metaCallError("list users", err)
	}
	return resp.GetUsers(), nil
}
