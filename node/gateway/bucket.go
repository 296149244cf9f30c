package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxXMLBody bounds the request documents the gateway parses.
const maxXMLBody = 1 << 20

// propose runs cmd through the meta group. A non-OK result comes back as
// an *s3err.MetaError, together with the result.
//
// The proposal outlives the client's request: once the shards of a body are
// durable, a client that hangs up must not leave the commit half-decided
// (and the shards orphaned); it is bounded by commitTimeout instead.
func (g *Gateway) propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	memoOf(ctx).forget()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if g.cfg.Buckets != nil && !objectCommand(cmd) {
		// The watch drops the cache a moment after the change applies;
		// dropping it here too, once the command is through, lets this
		// gateway's clients see their own change at once.
		defer g.cfg.Buckets.Invalidate()
	}
	res, err := g.cfg.Meta.Propose(ctx, cmd)
	if err == nil {
		g.reportUnderSpread(cmd)
	}
	return res, err
}

// commitTimeout bounds one metadata commit, including the meta group's
// retries across a leader election.
const commitTimeout = 30 * time.Second

// getBucket reads a bucket from the meta group, once per request (see
// requestMemo); only buckets that exist are remembered.
func (g *Gateway) getBucket(ctx context.Context, name string) (*metapb.Bucket, error) {
	memo := memoOf(ctx)
	if b, ok := memo.get(name); ok {
		return b, nil
	}
	var gen uint64
	if c := g.cfg.Buckets; c != nil {
		var b *metapb.Bucket
		var ok bool
		if b, gen, ok = c.Lookup(name); ok {
			memo.put(name, b)
			return b, nil
		}
	}
	b, err := g.cfg.Meta.Bucket(ctx, name)
	if err != nil {
		return nil, err
	}
	memo.put(name, b)
	if gen != 0 {
		g.cfg.Buckets.Store(name, b, gen)
	}
	return b, nil
}

// objectCommand tells the commands that never change a bucket or a user,
// after which the bucket cache is kept; every other command (and any
// added later) drops it.
func objectCommand(cmd *metapb.Command) bool {
	switch cmd.GetOp().(type) {
	case *metapb.Command_PutObject, *metapb.Command_DeleteObject, *metapb.Command_UpdateObject,
		*metapb.Command_CreateMultipartUpload, *metapb.Command_PutPart,
		*metapb.Command_CompleteMultipartUpload, *metapb.Command_AbortMultipartUpload:
		return true
	}
	return false
}

// writeXML sends a 200 response with an XML document.
func writeXML(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	// Once the status is out an encoding failure can only mean the client
	// left; there is nobody to tell.
	_ = s3xml.Encode(w, v)
	return nil
}

// readXMLBody decodes an optional request document. It reads through the
// authenticated body so that a signed payload is verified; ok is false
// when the body is empty.
func readXMLBody(rq *request, v any) (ok bool, err error) {
	body := rq.auth.Body
	if body == nil {
		return false, nil
	}
	data, err := io.ReadAll(io.LimitReader(body, maxXMLBody+1))
	if err != nil {
		return false, fmt.Errorf("read request body: %w", err)
	}
	if len(data) > maxXMLBody {
		return false, s3err.MalformedXML.WithMessage("The XML you provided was too large.")
	}
	if len(data) == 0 {
		return false, nil
	}
	if err := s3xml.Decode(bytes.NewReader(data), v); err != nil {
		return false, err
	}
	return true, nil
}

func (g *Gateway) createBucket(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if !validBucketName(rq.bucket) {
		return s3err.InvalidBucketName
	}
	var conf s3xml.CreateBucketConfiguration
	found, err := readXMLBody(rq, &conf)
	if err != nil {
		return err
	}
	if found && conf.LocationConstraint != "" && conf.LocationConstraint != g.cfg.Region {
		return s3err.IllegalLocationConstraint
	}
	lock, err := objectLockRequested(rq.r.Header)
	if err != nil {
		return err
	}
	acl, ownership, err := bucketACLForCreate(rq)
	if err != nil {
		return err
	}
	_, err = g.propose(ctx, &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: lock.apply(&metapb.Bucket{
			Name:            rq.bucket,
			CreatedUnixNano: g.cfg.Now().UnixNano(),
			Owner:           rq.owner,
			Acl:             acl,
			Ownership:       ownership,
		}),
	}}})
	if err != nil {
		if !errors.Is(s3err.FromError(err), s3err.BucketAlreadyExists) {
			return err
		}
		b, gerr := g.getBucket(ctx, rq.bucket)
		if gerr == nil && b.GetOwner() == rq.owner {
			if g.cfg.Region != DefaultRegion {
				return s3err.BucketAlreadyOwnedByYou
			}
			// us-east-1 answers a repeated create of one's own bucket
			// with success (a legacy of S3's first region); the bucket is
			// unchanged.
			w.Header().Set("Location", "/"+rq.bucket)
			w.WriteHeader(http.StatusOK)
			return nil
		}
		return err
	}
	w.Header().Set("Location", "/"+rq.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) headBucket(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if _, err := g.getBucket(ctx, rq.bucket); err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", g.cfg.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) deleteBucket(ctx context.Context, w http.ResponseWriter, rq *request) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_DeleteBucket{DeleteBucket: &metapb.DeleteBucket{
		Name: rq.bucket,
	}}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) getBucketLocation(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if _, err := g.getBucket(ctx, rq.bucket); err != nil {
		return err
	}
	loc := g.cfg.Region
	if loc == "us-east-1" {
		// AWS answers an empty constraint for its original region.
		loc = ""
	}
	return writeXML(w, &s3xml.LocationConstraint{Region: loc})
}
