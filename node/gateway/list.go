package gateway

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxListKeys is S3's page size limit; larger max-keys values are clamped.
const maxListKeys = 1000

// listParams are the arguments common to both ListObjects versions.
type listParams struct {
	prefix, delimiter string
	startAfter        string
	maxKeys           int
	urlEncode         bool
}

func parseListParams(q url.Values) (listParams, error) {
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: maxListKeys}
	if q.Has("max-keys") {
		n, err := strconv.Atoi(q.Get("max-keys"))
		if err != nil || n < 0 {
			return p, s3err.InvalidArgument.WithMessage("Provided max-keys not an integer or within integer range")
		}
		p.maxKeys = min(n, maxListKeys)
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, s3err.InvalidArgument.WithMessage("Invalid Encoding Method specified in Request")
	}
	return p, nil
}

// list runs one page of a listing against meta.
func (g *Gateway) list(ctx context.Context, bucket string, p listParams) (*metapb.ListObjectsResponse, error) {
	if p.maxKeys == 0 {
		// Meta treats 0 as "default page"; S3 answers an empty page, but
		// still for existing buckets only.
		if _, err := g.getBucket(ctx, bucket); err != nil {
			return nil, err
		}
		return &metapb.ListObjectsResponse{}, nil
	}
	return g.cfg.Meta.ListObjects(ctx, &metapb.ListObjectsRequest{
		Bucket:     bucket,
		Prefix:     p.prefix,
		Delimiter:  p.delimiter,
		StartAfter: p.startAfter,
		MaxKeys:    uint32(p.maxKeys),
	})
}

// encoder returns the key encoding that encoding-type asks for.
func (p listParams) encoder() func(string) string {
	if !p.urlEncode {
		return func(s string) string { return s }
	}
	return urlEncodeKey
}

// urlEncodeKey encodes as S3 does for encoding-type=url: form encoding
// (space as '+'), with '/' left readable.
func urlEncodeKey(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

// listEntries renders a page; owner, when not nil, names each object's
// owner (fetch-owner, and always in version 1).
func listEntries(resp *metapb.ListObjectsResponse, enc func(string) string, owner func(id string) *s3xml.Owner) ([]s3xml.Object, []s3xml.CommonPrefix) {
	objs := make([]s3xml.Object, 0, len(resp.GetObjects()))
	for _, v := range resp.GetObjects() {
		o := s3xml.Object{
			Key:          enc(v.GetKey()),
			LastModified: s3xml.Time(time.Unix(0, v.GetMtimeUnixNano())),
			ETag:         `"` + v.GetEtag() + `"`,
			Size:         v.GetSize(),
			StorageClass: v.GetStorageClass(),
		}
		if o.StorageClass == "" {
			o.StorageClass = storageClassStandard
		}
		for alg := range v.GetChecksums() {
			o.ChecksumAlgorithm = append(o.ChecksumAlgorithm, alg)
		}
		sort.Strings(o.ChecksumAlgorithm)
		if owner != nil {
			o.Owner = owner(v.GetOwner())
		}
		objs = append(objs, o)
	}
	cps := make([]s3xml.CommonPrefix, 0, len(resp.GetCommonPrefixes()))
	for _, cp := range resp.GetCommonPrefixes() {
		cps = append(cps, s3xml.CommonPrefix{Prefix: enc(cp)})
	}
	return objs, cps
}

func (g *Gateway) listObjectsV2(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	token := q.Get("continuation-token")
	if q.Has("continuation-token") {
		after, err := decodeContinuationToken(token)
		if err != nil {
			return err
		}
		p.startAfter = after
	} else {
		p.startAfter = q.Get("start-after")
	}
	resp, err := g.list(ctx, rq.bucket, p)
	if err != nil {
		return err
	}
	enc := p.encoder()
	var owner func(string) *s3xml.Owner
	if q.Get("fetch-owner") == "true" {
		owner = func(id string) *s3xml.Owner { return g.ownerXML(ctx, id) }
	}
	objs, cps := listEntries(resp, enc, owner)
	out := s3xml.ListBucketV2Result{
		Name:              rq.bucket,
		Prefix:            enc(p.prefix),
		Delimiter:         enc(p.delimiter),
		MaxKeys:           p.maxKeys,
		KeyCount:          len(objs) + len(cps),
		IsTruncated:       resp.GetTruncated(),
		ContinuationToken: token,
		StartAfter:        enc(q.Get("start-after")),
		Contents:          objs,
		CommonPrefixes:    cps,
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	if resp.GetTruncated() {
		out.NextContinuationToken = encodeContinuationToken(resp.GetNextStartAfter())
	}
	return writeXML(w, &out)
}

func (g *Gateway) listObjectsV1(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	p.startAfter = q.Get("marker")
	resp, err := g.list(ctx, rq.bucket, p)
	if err != nil {
		return err
	}
	enc := p.encoder()
	objs, cps := listEntries(resp, enc, func(id string) *s3xml.Owner { return g.ownerXML(ctx, id) })
	out := s3xml.ListBucketResult{
		Name:           rq.bucket,
		Prefix:         enc(p.prefix),
		Marker:         enc(p.startAfter),
		MaxKeys:        p.maxKeys,
		Delimiter:      enc(p.delimiter),
		IsTruncated:    resp.GetTruncated(),
		Contents:       objs,
		CommonPrefixes: cps,
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	// AWS sends NextMarker only with a delimiter; without one clients
	// continue from the last key.
	if resp.GetTruncated() && p.delimiter != "" {
		out.NextMarker = enc(resp.GetNextStartAfter())
	}
	return writeXML(w, &out)
}

// encodeContinuationToken makes the opaque V2 continuation token. It is
// the key to continue after, so a token stays valid across gateways and
// restarts.
func encodeContinuationToken(startAfter string) string {
	return base64.StdEncoding.EncodeToString([]byte(startAfter))
}

func decodeContinuationToken(tok string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if tok == "" || err != nil {
		return "", s3err.InvalidArgument.WithMessage("The continuation token provided is incorrect")
	}
	return string(b), nil
}
