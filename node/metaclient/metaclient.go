// Package metaclient is a metapb.MetaClient that spreads over several meta
// nodes. Every meta node forwards writes and linearizable reads to the Raft
// leader, so any reachable node serves any call; the client therefore only
// has to find one that answers. It sticks to the last node that answered and
// moves on to the next one when a call fails at the connection level.
//
// Imports: proto/metapb and gRPC only.
//
// A Propose that fails with Unavailable may have reached the leader before
// the connection broke; retrying it on another node can apply it twice.
// Commands are written so that a replay is harmless (PutObject carries its
// version ID, CreateBucket answers BUCKET_ALREADY_EXISTS), which is why the
// client retries them like reads.
package metaclient

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ErrNoAddrs is returned by Dial when it is given no meta node address.
var ErrNoAddrs = errors.New("metaclient: no meta node addresses")

// Client calls the Meta service of one of several meta nodes, failing over
// between them. It is safe for concurrent use.
type Client struct {
	addrs   []string
	conns   []*grpc.ClientConn
	clients []metapb.MetaClient
	// cur indexes the node that answered last; calls start there.
	cur atomic.Int64
}

var _ metapb.MetaClient = (*Client)(nil)

// Dial prepares connections to every address in addrs with the process's
// dial options (d; nil means dial.Default()). Connections are made lazily by
// gRPC, so Dial succeeds even when some nodes are down.
func Dial(ctx context.Context, addrs []string, d *dial.Dialer) (*Client, error) {
	if len(addrs) == 0 {
		return nil, ErrNoAddrs
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metaclient: dial: %w", err)
	}
	if d == nil {
		d = dial.Default()
	}
	c := &Client{addrs: append([]string(nil), addrs...)}
	for _, addr := range addrs {
		cc, err := d.GRPC(addr)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("metaclient: %w", err)
		}
		c.conns = append(c.conns, cc)
		c.clients = append(c.clients, metapb.NewMetaClient(cc))
	}
	return c, nil
}

// Close closes every connection.
func (c *Client) Close() error {
	var errs []error
	for i, cc := range c.conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("metaclient: close %s: %w", c.addrs[i], err))
		}
	}
	return errors.Join(errs...)
}

// retryable reports whether err says the node could not serve the call, as
// opposed to the call itself failing. A DeadlineExceeded caused by the
// caller's own context is final: another node would not have more time.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// call runs fn against each node in turn, starting with the last good one,
// until one answers or fails with a non-retryable error.
func call[T any](ctx context.Context, c *Client, fn func(metapb.MetaClient) (T, error)) (T, error) {
	n := int64(len(c.clients))
	start := c.cur.Load()
	var (
		zero    T
		lastErr error
	)
	for i := int64(0); i < n; i++ {
		idx := (start + i) % n
		resp, err := fn(c.clients[idx])
		if err == nil {
			if idx != start {
				c.cur.CompareAndSwap(start, idx)
			}
			return resp, nil
		}
		lastErr = err
		if !retryable(ctx, err) {
			return zero, err
		}
	}
	// The gRPC status is returned unwrapped so callers can still read its
	// code with status.Code.
	return zero, lastErr
}

// Propose implements metapb.MetaClient.
func (c *Client) Propose(ctx context.Context, in *metapb.ProposeRequest, opts ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ProposeResponse, error) { return m.Propose(ctx, in, opts...) })
}

// GetBucket implements metapb.MetaClient.
func (c *Client) GetBucket(ctx context.Context, in *metapb.GetBucketRequest, opts ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.GetBucketResponse, error) { return m.GetBucket(ctx, in, opts...) })
}

// ListBuckets implements metapb.MetaClient.
func (c *Client) ListBuckets(ctx context.Context, in *metapb.ListBucketsRequest, opts ...grpc.CallOption) (*metapb.ListBucketsResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ListBucketsResponse, error) { return m.ListBuckets(ctx, in, opts...) })
}

// GetObject implements metapb.MetaClient.
func (c *Client) GetObject(ctx context.Context, in *metapb.GetObjectRequest, opts ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.GetObjectResponse, error) { return m.GetObject(ctx, in, opts...) })
}

// ListObjects implements metapb.MetaClient.
func (c *Client) ListObjects(ctx context.Context, in *metapb.ListObjectsRequest, opts ...grpc.CallOption) (*metapb.ListObjectsResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ListObjectsResponse, error) { return m.ListObjects(ctx, in, opts...) })
}

// GetClusterMap implements metapb.MetaClient.
func (c *Client) GetClusterMap(ctx context.Context, in *metapb.GetClusterMapRequest, opts ...grpc.CallOption) (*metapb.GetClusterMapResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.GetClusterMapResponse, error) {
		return m.GetClusterMap(ctx, in, opts...)
	})
}

// Heartbeat implements metapb.MetaClient.
func (c *Client) Heartbeat(ctx context.Context, in *metapb.HeartbeatRequest, opts ...grpc.CallOption) (*metapb.HeartbeatResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.HeartbeatResponse, error) { return m.Heartbeat(ctx, in, opts...) })
}

// Status implements metapb.MetaClient. It answers for whichever node it
// reaches, which is what tools asking "is any node up" want.
func (c *Client) Status(ctx context.Context, in *metapb.StatusRequest, opts ...grpc.CallOption) (*metapb.StatusResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.StatusResponse, error) { return m.Status(ctx, in, opts...) })
}

// ListObjectVersions implements metapb.MetaClient.
func (c *Client) ListObjectVersions(ctx context.Context, in *metapb.ListObjectVersionsRequest, opts ...grpc.CallOption) (*metapb.ListObjectVersionsResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ListObjectVersionsResponse, error) {
		return m.ListObjectVersions(ctx, in, opts...)
	})
}

// GetUser implements metapb.MetaClient.
func (c *Client) GetUser(ctx context.Context, in *metapb.GetUserRequest, opts ...grpc.CallOption) (*metapb.GetUserResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.GetUserResponse, error) { return m.GetUser(ctx, in, opts...) })
}

// ListUsers implements metapb.MetaClient.
func (c *Client) ListUsers(ctx context.Context, in *metapb.ListUsersRequest, opts ...grpc.CallOption) (*metapb.ListUsersResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ListUsersResponse, error) { return m.ListUsers(ctx, in, opts...) })
}

// GetMultipartUpload implements metapb.MetaClient.
func (c *Client) GetMultipartUpload(ctx context.Context, in *metapb.GetMultipartUploadRequest, opts ...grpc.CallOption) (*metapb.GetMultipartUploadResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.GetMultipartUploadResponse, error) {
		return m.GetMultipartUpload(ctx, in, opts...)
	})
}

// ListMultipartUploads implements metapb.MetaClient.
func (c *Client) ListMultipartUploads(ctx context.Context, in *metapb.ListMultipartUploadsRequest, opts ...grpc.CallOption) (*metapb.ListMultipartUploadsResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ListMultipartUploadsResponse, error) {
		return m.ListMultipartUploads(ctx, in, opts...)
	})
}

// UnknownData implements metapb.MetaClient.
func (c *Client) UnknownData(ctx context.Context, in *metapb.UnknownDataRequest, opts ...grpc.CallOption) (*metapb.UnknownDataResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.UnknownDataResponse, error) {
		return m.UnknownData(ctx, in, opts...)
	})
}

// ReportShards implements metapb.MetaClient.
func (c *Client) ReportShards(ctx context.Context, in *metapb.ReportShardsRequest, opts ...grpc.CallOption) (*metapb.ReportShardsResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ReportShardsResponse, error) {
		return m.ReportShards(ctx, in, opts...)
	})
}

// HealStatus implements metapb.MetaClient.
func (c *Client) HealStatus(ctx context.Context, in *metapb.HealStatusRequest, opts ...grpc.CallOption) (*metapb.HealStatusResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.HealStatusResponse, error) {
		return m.HealStatus(ctx, in, opts...)
	})
}

// Scrub implements metapb.MetaClient.
func (c *Client) Scrub(ctx context.Context, in *metapb.ScrubRequest, opts ...grpc.CallOption) (*metapb.ScrubResponse, error) {
	return call(ctx, c, func(m metapb.MetaClient) (*metapb.ScrubResponse, error) { return m.Scrub(ctx, in, opts...) })
}
