package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

func (g *Gateway) putPublicAccessBlock(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var conf s3xml.PublicAccessBlockConfiguration
	found, err := readXMLBody(rq, &conf)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	if err := g.updatePublicAccessBlock(ctx, rq.bucket, &metapb.PublicAccessBlock{
		BlockPublicAcls:       conf.BlockPublicAcls,
		IgnorePublicAcls:      conf.IgnorePublicAcls,
		BlockPublicPolicy:     conf.BlockPublicPolicy,
		RestrictPublicBuckets: conf.RestrictPublicBuckets,
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) getPublicAccessBlock(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	p := b.GetPublicAccessBlock()
	if p == nil {
		return s3err.NoSuchPublicAccessBlockConfiguration
	}
	return writeXML(w, &s3xml.PublicAccessBlockConfiguration{
		Xmlns:                 s3xml.Namespace,
		BlockPublicAcls:       p.GetBlockPublicAcls(),
		IgnorePublicAcls:      p.GetIgnorePublicAcls(),
		BlockPublicPolicy:     p.GetBlockPublicPolicy(),
		RestrictPublicBuckets: p.GetRestrictPublicBuckets(),
	})
}

func (g *Gateway) deletePublicAccessBlock(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updatePublicAccessBlock(ctx, rq.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) updatePublicAccessBlock(ctx context.Context, bucket string, p *metapb.PublicAccessBlock) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: bucket, PublicAccessBlock: p},
		Fields: []string{"public_access_block"},
	}}})
	return err
}

func (g *Gateway) getBucketPolicyStatus(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if b.GetPolicy() == "" {
		return s3err.NoSuchBucketPolicy
	}
	p, err := access.ParsePolicy([]byte(b.GetPolicy()), rq.bucket)
	if err != nil {
		return fmt.Errorf("stored policy of %q: %w", rq.bucket, err)
	}
	return writeXML(w, &s3xml.PolicyStatus{Xmlns: s3xml.Namespace, IsPublic: p.IsPublic()})
}

// blockPublicACL refuses, under BlockPublicAcls, a request that would set
// a public ACL on the bucket or one of its objects.
func blockPublicACL(b *metapb.Bucket, acl *metapb.AccessControlList) error {
	if b.GetPublicAccessBlock().GetBlockPublicAcls() && access.PublicACL(acl) {
		return s3err.AccessDenied
	}
	return nil
}

// blockPublicPolicy refuses, under BlockPublicPolicy, a public policy.
func blockPublicPolicy(b *metapb.Bucket, p *access.Policy) error {
	if b.GetPublicAccessBlock().GetBlockPublicPolicy() && p.IsPublic() {
		return s3err.AccessDenied
	}
	return nil
}

// applyPublicAccessBlock makes req what the bucket's public access block
// lets count: IgnorePublicAcls drops public grants of the bucket ACL (the
// object ACL is handled by the caller once known), and
// RestrictPublicBuckets holds callers other than the owner to the Deny
// statements of a public policy.
func applyPublicAccessBlock(b *metapb.Bucket, req *access.Request) {
	p := b.GetPublicAccessBlock()
	if p == nil {
		return
	}
	if p.GetIgnorePublicAcls() {
		req.BucketACL = access.WithoutPublicGrants(req.BucketACL)
	}
	if p.GetRestrictPublicBuckets() && req.Policy.IsPublic() && (req.Caller.Anonymous || req.Caller.ID != b.GetOwner()) {
		req.Policy = req.Policy.DenyOnly()
	}
}
