package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// objectOwnerAndACL decides who owns an object a PUT creates in bucket and
// which ACL it gets from the request headers (nil: private). It runs before
// the body is read.
func (g *Gateway) objectOwnerAndACL(rq *request, bucket *metapb.Bucket) (string, *metapb.AccessControlList, error) {
	h := rq.r.Header
	bucketOwner := bucket.GetOwner()
	switch bucket.GetOwnership() {
	case access.OwnershipBucketOwnerEnforced:
		if access.HasACLHeaders(h) && !onlyBucketOwnerFullControl(h) {
			return "", nil, s3err.AccessControlListNotSupported
		}
		return bucketOwner, nil, nil
	case access.OwnershipBucketOwnerPreferred:
		if onlyBucketOwnerFullControl(h) {
			acl, err := access.FromHeaders(h, bucketOwner, bucketOwner)
			return bucketOwner, acl, err
		}
	}
	acl, err := access.FromHeaders(h, rq.owner, bucketOwner)
	if err == nil {
		err = blockPublicACL(bucket, acl)
	}
	return rq.owner, acl, err
}

func onlyBucketOwnerFullControl(h http.Header) bool {
	if h.Get("X-Amz-Acl") != access.CannedBucketOwnerFullControl {
		return false
	}
	h2 := h.Clone()
	h2.Del("X-Amz-Acl")
	return !access.HasACLHeaders(h2)
}

// bucketACLForCreate returns the ACL and ownership a CreateBucket asks for.
func bucketACLForCreate(rq *request) (*metapb.AccessControlList, string, error) {
	ownership := rq.r.Header.Get("x-amz-object-ownership")
	if ownership != "" && !access.ValidOwnership(ownership) {
		return nil, "", s3err.InvalidArgument.WithMessage("Invalid x-amz-object-ownership header: " + ownership)
	}
	acl, err := access.FromHeaders(rq.r.Header, rq.owner, rq.owner)
	if err != nil {
		return nil, "", err
	}
	if ownership == access.OwnershipBucketOwnerEnforced && !ownerOnly(acl, rq.owner) {
		return nil, "", s3err.InvalidBucketAclWithObjectOwnership
	}
	return acl, ownership, nil
}

// ownerOnly reports whether acl grants nothing beyond the owner's own
// full control (what "ACLs disabled" allows).
func ownerOnly(acl *metapb.AccessControlList, owner string) bool {
	for _, gr := range acl.GetGrants() {
		if gr.GetGranteeType() != access.GranteeCanonicalUser || gr.GetId() != owner || gr.GetPermission() != access.PermFullControl {
			return false
		}
	}
	return true
}

// aclDocument renders an ACL for GetObjectAcl/GetBucketAcl.
func (g *Gateway) aclDocument(ctx context.Context, acl *metapb.AccessControlList, owner string) *s3xml.AccessControlPolicy {
	doc := &s3xml.AccessControlPolicy{Owner: g.ownerXML(ctx, owner), Grants: []s3xml.Grant{}}
	for _, gr := range access.Effective(acl, owner).GetGrants() {
		ge := s3xml.NewGrantee(gr.GetGranteeType())
		switch gr.GetGranteeType() {
		case access.GranteeCanonicalUser:
			ge.ID = gr.GetId()
			ge.DisplayName = g.ids.displayName(ctx, gr.GetId())
		case access.GranteeGroup:
			ge.URI = gr.GetUri()
		}
		doc.Grants = append(doc.Grants, s3xml.Grant{Grantee: ge, Permission: gr.GetPermission()})
	}
	return doc
}

// ownerXML is the Owner element of a canonical ID.
func (g *Gateway) ownerXML(ctx context.Context, id string) *s3xml.Owner {
	return &s3xml.Owner{ID: id, DisplayName: g.ids.displayName(ctx, id)}
}

// aclFromRequest reads the ACL a PutObjectAcl/PutBucketAcl sets: from the
// x-amz-acl or x-amz-grant-* headers, else from the XML body.
func aclFromRequest(rq *request, owner, bucketOwner string) (*metapb.AccessControlList, error) {
	acl, err := access.FromHeaders(rq.r.Header, owner, bucketOwner)
	if err != nil || acl != nil {
		return acl, err
	}
	var doc s3xml.AccessControlPolicyRequest
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		if errors.Is(s3err.FromError(err), s3err.MalformedXML) {
			return nil, s3err.MalformedACLError
		}
		return nil, err
	}
	if !found {
		return nil, s3err.MalformedACLError.WithMessage("An ACL must be given in the request headers or body.")
	}
	acl = &metapb.AccessControlList{OwnerId: owner}
	for _, gr := range doc.Grants {
		mg := &metapb.Grant{
			GranteeType: gr.Grantee.GranteeType(),
			Id:          gr.Grantee.ID,
			Uri:         gr.Grantee.URI,
			Email:       gr.Grantee.EmailAddress,
			Permission:  gr.Permission,
		}
		if err := access.ValidateGrant(mg); err != nil {
			if errors.Is(err, access.ErrEmailGrant) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", s3err.MalformedACLError, err)
		}
		acl.Grants = append(acl.Grants, mg)
	}
	return acl, nil
}

func (g *Gateway) getBucketACL(ctx context.Context, w http.ResponseWriter, rq *request) error {
	bk, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	acl := bk.GetAcl()
	if bk.GetOwnership() == access.OwnershipBucketOwnerEnforced {
		acl = nil
	}
	return writeXML(w, g.aclDocument(ctx, acl, bk.GetOwner()))
}

func (g *Gateway) putBucketACL(ctx context.Context, w http.ResponseWriter, rq *request) error {
	bk, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	acl, err := aclFromRequest(rq, bk.GetOwner(), bk.GetOwner())
	if err != nil {
		return err
	}
	if err := blockPublicACL(bk, acl); err != nil {
		return err
	}
	if bk.GetOwnership() == access.OwnershipBucketOwnerEnforced && !ownerOnly(acl, bk.GetOwner()) {
		return s3err.AccessControlListNotSupported
	}
	_, err = g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: rq.bucket, Acl: acl},
		Fields: []string{"acl"},
	}}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// aclTarget loads the version an object ACL request addresses.
func (g *Gateway) aclTarget(ctx context.Context, w http.ResponseWriter, rq *request) (*metapb.Bucket, *metapb.ObjectVersion, error) {
	bk, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return nil, nil, err
	}
	versionID := rq.r.URL.Query().Get("versionId")
	v, err := g.lookupObject(ctx, rq, versionID)
	if err != nil {
		return nil, nil, err
	}
	if v.GetDeleteMarker() {
		w.Header().Set("x-amz-delete-marker", "true")
		setVersionHeader(w.Header(), v.GetVersionId())
		if versionID != "" {
			return nil, nil, s3err.MethodNotAllowed
		}
		return nil, nil, s3err.NoSuchKey
	}
	return bk, v, nil
}

func (g *Gateway) getObjectACL(ctx context.Context, w http.ResponseWriter, rq *request) error {
	bk, v, err := g.aclTarget(ctx, w, rq)
	if err != nil {
		return err
	}
	owner, acl := v.GetOwner(), v.GetAcl()
	if bk.GetOwnership() == access.OwnershipBucketOwnerEnforced {
		owner, acl = bk.GetOwner(), nil
	}
	setVersionHeader(w.Header(), v.GetVersionId())
	return writeXML(w, g.aclDocument(ctx, acl, owner))
}

func (g *Gateway) putObjectACL(ctx context.Context, w http.ResponseWriter, rq *request) error {
	bk, v, err := g.aclTarget(ctx, w, rq)
	if err != nil {
		return err
	}
	if bk.GetOwnership() == access.OwnershipBucketOwnerEnforced {
		if !onlyBucketOwnerFullControl(rq.r.Header) {
			return s3err.AccessControlListNotSupported
		}
		setVersionHeader(w.Header(), v.GetVersionId())
		w.WriteHeader(http.StatusOK)
		return nil
	}
	acl, err := aclFromRequest(rq, v.GetOwner(), bk.GetOwner())
	if err != nil {
		return err
	}
	if err := blockPublicACL(bk, acl); err != nil {
		return err
	}
	_, err = g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateObject{UpdateObject: &metapb.UpdateObject{
		Bucket:    rq.bucket,
		Key:       rq.key,
		VersionId: v.GetVersionId(),
		Values:    &metapb.ObjectVersion{Acl: acl},
		Fields:    []string{"acl"},
	}}})
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.GetVersionId())
	w.WriteHeader(http.StatusOK)
	return nil
}
