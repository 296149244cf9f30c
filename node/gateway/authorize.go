package gateway

import (
	"context"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// authorize decides whether rq may perform op, before its handler runs.
// An operation without an action is refused to everyone: nothing is served
// that the route table did not pair with the action that authorizes it.
func (g *Gateway) authorize(ctx context.Context, rq *request, op operation) error {
	q := rq.r.URL.Query()
	action := op.actionFor(q)
	if action == "" {
		return s3err.AccessDenied
	}
	return g.authorizeAction(ctx, rq, action, rq.bucket, rq.key, q.Get("versionId"))
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
	req, err := g.accessRequest(ctx, rq, action, bucket, key)
	if err != nil {
		return err
	}
	if access.ObjectScoped(action, key) {
		obj, tags, err := g.objectForAccess(ctx, bucket, key, versionID)
		if err != nil {
			return err
		}
		if bk, err := g.getBucket(ctx, bucket); err == nil && obj != nil && bk.GetPublicAccessBlock().GetIgnorePublicAcls() {
			obj.ACL = access.WithoutPublicGrants(obj.ACL)
		}
		req.Object = obj
		setExistingTags(req.Context, tags)
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

// accessRequest gathers what evaluating action on bucket/key needs but
// the object: the bucket's owner, ACL, ownership and policy, and the
// condition context.
func (g *Gateway) accessRequest(ctx context.Context, rq *request, action, bucket, key string) (access.Request, error) {
	bk, err := g.getBucket(ctx, bucket)
	if err != nil {
		return access.Request{}, err
	}
	req := access.Request{
		Action:      action,
		Bucket:      bucket,
		Key:         key,
		Caller:      rq.caller,
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
			return access.Request{}, s3err.AccessDenied
		}
		req.Policy = p
	}
	applyPublicAccessBlock(bk, &req)
	return req, nil
}

// authorizeOnNewObject decides action on the object rq creates at its
// bucket and key, which owner will own. What the caller could do to that
// object right after, it may ask for when creating it; a bucket policy
// can still deny it.
func (g *Gateway) authorizeOnNewObject(ctx context.Context, rq *request, action, owner string) error {
	c := rq.caller
	if c.Root && !c.Anonymous {
		return nil
	}
	req, err := g.accessRequest(ctx, rq, action, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	req.Object = &access.Object{Owner: owner}
	if access.Evaluate(req) == access.Allow {
		return nil
	}
	return s3err.AccessDenied
}

// objectForAccess returns the owner and ACL of the version an action
// acts on, or nil when there is none (or it is a delete marker), and its
// tags for s3:ExistingObjectTag.
func (g *Gateway) objectForAccess(ctx context.Context, bucket, key, versionID string) (*access.Object, map[string]string, error) {
	v, err := g.object(ctx, bucket, key, versionID)
	if isMetaCode(err, metapb.ErrorCode_NO_SUCH_KEY) || isMetaCode(err, metapb.ErrorCode_NO_SUCH_VERSION) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if v.GetDeleteMarker() {
		return nil, nil, nil
	}
	return &access.Object{Owner: v.GetOwner(), ACL: v.GetAcl()}, v.GetTags(), nil
}

// setExistingTags sets s3:ExistingObjectTag/<key> for each tag of the
// object acted on.
func setExistingTags(c access.Context, tags map[string]string) {
	for k, v := range tags {
		c.Set("s3:ExistingObjectTag/"+k, v)
	}
}

// setRequestTags sets s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys
// from the tags a request asks for in x-amz-tagging. A header that does
// not parse sets nothing: the handler refuses it.
func setRequestTags(c access.Context, h http.Header) {
	v, ok := h["X-Amz-Tagging"]
	if !ok {
		return
	}
	tags, err := parseTaggingHeader(strings.Join(v, ""))
	if err != nil {
		return
	}
	keys := make([]string, 0, len(tags))
	for k, val := range tags {
		c.Set("s3:RequestObjectTag/"+k, val)
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c.Set("s3:RequestObjectTagKeys", keys...)
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
	setRequestTags(c, r.Header)
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && lower != "x-amz-date" && !strings.HasPrefix(lower, "x-amz-meta-") {
			c.Set("s3:"+lower, vals...)
		}
	}
	return c
}
