package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

func (g *Gateway) updateBucket(ctx context.Context, b *metapb.Bucket, field string) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: b,
		Fields: []string{field},
	}}})
	return err
}

func (g *Gateway) putBucketPolicy(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if rq.auth.Body == nil {
		return s3err.MalformedPolicy
	}
	doc, err := io.ReadAll(io.LimitReader(rq.auth.Body, access.MaxPolicySize+1))
	if err != nil {
		return fmt.Errorf("read policy: %w", err)
	}
	if !utf8.Valid(doc) {
		return s3err.MalformedPolicy.WithMessage("Policies must be valid UTF-8 JSON")
	}
	p, err := access.ParsePolicy(doc, rq.bucket)
	if err != nil {
		return s3err.MalformedPolicy.WithMessage(policyMessage(err))
	}
	bk, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if err := blockPublicPolicy(bk, p); err != nil {
		return err
	}
	if err := g.updateBucket(ctx, &metapb.Bucket{Name: rq.bucket, Policy: string(doc)}, "policy"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// policyMessage is the client-facing part of a policy parse error.
func policyMessage(err error) string {
	msg := err.Error()
	const marker = "access: malformed policy: "
	if i := strings.Index(msg, marker); i >= 0 {
		return msg[i+len(marker):]
	}
	return s3err.MalformedPolicy.Message
}

func (g *Gateway) getBucketPolicy(ctx context.Context, w http.ResponseWriter, rq *request) error {
	bk, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if bk.GetPolicy() == "" {
		return s3err.NoSuchBucketPolicy
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, bk.GetPolicy())
	return nil
}

func (g *Gateway) deleteBucketPolicy(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updateBucket(ctx, &metapb.Bucket{Name: rq.bucket}, "policy"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) putOwnershipControls(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var doc s3xml.OwnershipControlsRequest
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found || len(doc.Rules) != 1 || !access.ValidOwnership(doc.Rules[0].ObjectOwnership) {
		return s3err.MalformedXML
	}
	ownership := doc.Rules[0].ObjectOwnership
	if ownership == access.OwnershipBucketOwnerEnforced {
		bk, err := g.getBucket(ctx, rq.bucket)
		if err != nil {
			return err
		}
		if !ownerOnly(bk.GetAcl(), bk.GetOwner()) {
			return s3err.InvalidBucketAclWithObjectOwnership
		}
	}
	if err := g.updateBucket(ctx, &metapb.Bucket{Name: rq.bucket, Ownership: ownership}, "ownership"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) getOwnershipControls(ctx context.Context, w http.ResponseWriter, rq *request) error {
	bk, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if bk.GetOwnership() == "" {
		return s3err.OwnershipControlsNotFoundError
	}
	return writeXML(w, &s3xml.OwnershipControls{Rules: []s3xml.OwnershipControlsRule{{ObjectOwnership: bk.GetOwnership()}}})
}

func (g *Gateway) deleteOwnershipControls(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updateBucket(ctx, &metapb.Bucket{Name: rq.bucket}, "ownership"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
