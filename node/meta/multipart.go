package meta

import (
	"context"
	"errors"
	"time"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	// uploadExpiryInterval is how often the leader looks for multipart
	// uploads that a bucket's lifecycle rules say to abort.
	uploadExpiryInterval = time.Minute
	// uploadExpiryBatch bounds the aborts proposed per round.
	uploadExpiryBatch = 100
)

func (s *service) GetMultipartUpload(ctx context.Context, req *metapb.GetMultipartUploadRequest) (*metapb.GetMultipartUploadResponse, error) {
	resp, err := read(ctx, s.n, "get multipart upload",
		func() (*metapb.GetMultipartUploadResponse, error) {
			r, err := s.n.fsm.GetMultipartUpload(req)
			if code, ok := uploadNotFoundCode(err); ok {
				return &metapb.GetMultipartUploadResponse{Code: code}, nil
			}
			return r, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.GetMultipartUploadResponse, error) {
			return c.GetMultipartUpload(ctx, req)
		})
	return resp, toStatus(err)
}

func (s *service) ListMultipartUploads(ctx context.Context, req *metapb.ListMultipartUploadsRequest) (*metapb.ListMultipartUploadsResponse, error) {
	resp, err := read(ctx, s.n, "list multipart uploads",
		func() (*metapb.ListMultipartUploadsResponse, error) {
			r, err := s.n.fsm.ListMultipartUploads(req)
			if code, ok := uploadNotFoundCode(err); ok {
				return &metapb.ListMultipartUploadsResponse{Code: code}, nil
			}
			return r, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ListMultipartUploadsResponse, error) {
			return c.ListMultipartUploads(ctx, req)
		})
	return resp, toStatus(err)
}

func uploadNotFoundCode(err error) (metapb.ErrorCode, bool) {
	if errors.Is(err, metadata.ErrNoSuchUpload) {
		return metapb.ErrorCode_NO_SUCH_UPLOAD, true
	}
	return notFoundCode(err)
}

// runUploadExpiry aborts, while this node leads, the multipart uploads
// that a bucket's AbortIncompleteMultipartUpload rule has expired. It runs
// until ctx ends (Close).
func (n *Node) runUploadExpiry(ctx context.Context, every time.Duration) {
	n.whileLeading(ctx, every, func(ctx context.Context) {
		if aborted, err := n.expireUploads(ctx); err != nil {
			n.log.Warn("multipart expiry round failed; retrying next round", "err", err, "aborted", aborted)
		} else if aborted > 0 {
			n.log.Info("aborted expired multipart uploads", "count", aborted)
		}
	})
}

// expireUploads runs one round: the FSM picks the expired uploads by the
// leader's clock, and each is aborted through Raft like a client's abort.
func (n *Node) expireUploads(ctx context.Context) (int, error) {
	expired, err := n.fsm.ExpiredUploads(n.cfg.Now().UnixNano(), uploadExpiryBatch)
	if err != nil {
		return 0, err
	}
	aborted := 0
	for _, a := range expired {
		res, err := n.Propose(ctx, &metapb.Command{Op: &metapb.Command_AbortMultipartUpload{AbortMultipartUpload: a}})
		if err != nil {
			return aborted, err
		}
		// NO_SUCH_UPLOAD: completed or aborted since the scan.
		if c := res.GetCode(); c == metapb.ErrorCode_OK {
			aborted++
		}
	}
	return aborted, nil
}
