package gateway

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// actionFor names the IAM action of a request, the name bucket policies
// use. This table is the one place that knows which S3 operation a request
// is: a new operation gets its authorization by being named here.
func actionFor(r *http.Request, bucket, key string) string {
	q := r.URL.Query()
	m := r.Method
	pick := func(get, put, del string) string {
		switch m {
		case http.MethodGet, http.MethodHead:
			return get
		case http.MethodPut, http.MethodPost:
			return put
		case http.MethodDelete:
			return del
		}
		return ""
	}
	versioned := q.Get("versionId") != ""
	switch {
	case bucket == "":
		return "s3:ListAllMyBuckets"
	case key == "":
		switch {
		case q.Has("acl"):
			return pick("s3:GetBucketAcl", "s3:PutBucketAcl", "")
		case q.Has("policy"):
			return pick("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")
		case q.Has("ownershipControls"):
			return pick("s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls", "s3:PutBucketOwnershipControls")
		case q.Has("versioning"):
			return pick("s3:GetBucketVersioning", "s3:PutBucketVersioning", "")
		case q.Has("versions"):
			return "s3:ListBucketVersions"
		case q.Has("uploads"):
			return "s3:ListBucketMultipartUploads"
		case q.Has("location"):
			return "s3:GetBucketLocation"
		case q.Has("encryption"):
			return pick("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:PutEncryptionConfiguration")
		case q.Has("lifecycle"):
			return pick("s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "s3:PutLifecycleConfiguration")
		case q.Has("object-lock"):
			return pick("s3:GetBucketObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration", "")
		case q.Has("tagging"):
			return pick("s3:GetBucketTagging", "s3:PutBucketTagging", "s3:PutBucketTagging")
		case q.Has("delete") && m == http.MethodPost:
			// DeleteObjects: each key is a DeleteObject on the bucket.
			return "s3:DeleteObject"
		}
		return pick("s3:ListBucket", "s3:CreateBucket", "s3:DeleteBucket")
	}
	switch {
	case q.Has("acl"):
		if versioned {
			return pick("s3:GetObjectVersionAcl", "s3:PutObjectVersionAcl", "")
		}
		return pick("s3:GetObjectAcl", "s3:PutObjectAcl", "")
	case q.Has("tagging"):
		if versioned {
			return pick("s3:GetObjectVersionTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectVersionTagging")
		}
		return pick("s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging")
	case q.Has("retention"):
		return pick("s3:GetObjectRetention", "s3:PutObjectRetention", "")
	case q.Has("legal-hold"):
		return pick("s3:GetObjectLegalHold", "s3:PutObjectLegalHold", "")
	case q.Has("attributes"):
		return "s3:GetObjectAttributes"
	case q.Has("uploadId"):
		return pick("s3:ListMultipartUploadParts", "s3:PutObject", "s3:AbortMultipartUpload")
	case q.Has("uploads"):
		return "s3:PutObject"
	}
	if versioned {
		return pick("s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObjectVersion")
	}
	return pick("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
}

// authorize decides whether rq may proceed, before any handler runs.
func (g *Gateway) authorize(ctx context.Context, rq *request) error {
	action := actionFor(rq.r, rq.bucket, rq.key)
	if action == "" {
		// An unknown method: let dispatch answer MethodNotAllowed, but
		// only to callers who could do something here at all.
		if rq.caller.Anonymous {
			return s3err.AccessDenied
		}
		return nil
	}
	return g.authorizeAction(ctx, rq, action, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"))
}

// authorizeAction decides one action on bucket/key for rq's caller. It is
// also what an operation touching a second resource (the source of a copy)
// calls for that resource.
func (g *Gateway) authorizeAction(ctx context.Context, rq *request, action, bucket, key, versionID string) error {
	c := rq.caller
	if c.Root && !c.Anonymous {
		return nil
	}
	switch action {
	case "s3:ListAllMyBuckets", "s3:CreateBucket":
		if c.Anonymous {
			return s3err.AccessDenied
		}
		return nil
	}
	bk, err := g.getBucket(ctx, bucket)
	if err != nil {
		return err
	}
	req := access.Request{
		Action:      action,
		Bucket:      bucket,
		Key:         key,
		Caller:      c,
		BucketOwner: bk.GetOwner(),
		BucketACL:   bk.GetAcl(),
		Ownership:   bk.GetOwnership(),
		Context:     g.conditionContext(rq),
	}
	if doc := bk.GetPolicy(); doc != "" {
		p, err := access.ParsePolicy([]byte(doc), bucket)
		if err != nil {
			// It was validated when stored; refusing is the safe answer.
			g.log.Error("stored bucket policy does not parse", "bucket", bucket, "err", err)
			return s3err.AccessDenied
		}
		req.Policy = p
	}
	if access.ObjectScoped(action, key) {
		obj, err := g.objectForAccess(ctx, bucket, key, versionID)
		if err != nil {
			return err
		}
		req.Object = obj
	}
	switch access.Evaluate(req) {
	case access.Allow:
		return nil
	case access.ExplicitDeny:
		return s3err.AccessDenied
	}
	if req.Object == nil && access.ObjectScoped(action, key) {
		// As in S3: who may list the bucket learns that the key is missing
		// (404 from the handler); others get 403.
		req.Action, req.Key = "s3:ListBucket", ""
		if access.Evaluate(req) == access.Allow {
			return nil
		}
	}
	return s3err.AccessDenied
}

// objectForAccess returns the owner and ACL of the version an action
// acts on, or nil when there is none (or it is a delete marker).
func (g *Gateway) objectForAccess(ctx context.Context, bucket, key, versionID string) (*access.Object, error) {
	resp, err := g.cfg.Meta.GetObject(ctx, &metapb.GetObjectRequest{Bucket: bucket, Key: key, VersionId: versionID})
	if err != nil {
		return nil, err
	}
	switch resp.GetCode() {
	case metapb.ErrorCode_OK:
	case metapb.ErrorCode_NO_SUCH_KEY, metapb.ErrorCode_NO_SUCH_VERSION:
		return nil, nil
	default:
		return nil, &s3err.MetaError{Code: resp.GetCode()}
	}
	v := resp.GetVersion()
	if v == nil || v.GetDeleteMarker() {
		return nil, nil
	}
	return &access.Object{Owner: v.GetOwner(), ACL: v.GetAcl()}, nil
}

// conditionContext gathers the condition keys a bucket policy may test.
func (g *Gateway) conditionContext(rq *request) access.Context {
	r := rq.r
	c := access.Context{}
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c.Set("aws:SourceIp", host)
	c.Set("aws:SecureTransport", strconv.FormatBool(r.TLS != nil))
	now := g.cfg.Now().UTC()
	c.Set("aws:CurrentTime", now.Format("2006-01-02T15:04:05Z"))
	c.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	switch {
	case rq.caller.Anonymous:
		c.Set("aws:PrincipalType", "Anonymous")
	default:
		c.Set("aws:username", rq.caller.Name)
		c.Set("aws:userid", rq.caller.ID)
		c.Set("aws:PrincipalType", "User")
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		c.Set("aws:UserAgent", ua)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		c.Set("aws:Referer", ref)
	}
	q := r.URL.Query()
	for _, k := range []string{"prefix", "delimiter", "max-keys"} {
		if q.Has(k) {
			c.Set("s3:"+k, q.Get(k))
		}
	}
	if v := q.Get("versionId"); v != "" {
		c.Set("s3:VersionId", v)
	}
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && lower != "x-amz-date" && !strings.HasPrefix(lower, "x-amz-meta-") {
			c.Set("s3:"+lower, vals...)
		}
	}
	return c
}
