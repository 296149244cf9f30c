package gateway

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cairn-io/cairn/node/gateway/s3err"
)

// maxHeaderSection bounds the request headers, as S3 does (8 KiB).
const maxHeaderSection = 8 << 10

// opPreflight labels CORS preflight requests in metrics and logs.
const opPreflight = "PreflightCORS"

// checkEdge refuses, before anything is looked up or stored, what S3
// refuses by the request's shape: a header section over 8 KiB, text that
// is not UTF-8 where it would be stored or compared (the key, query
// parameters, content and x-amz-* headers other than user metadata, which
// is decoded to UTF-8 as S3 decodes it; the metadata records are
// protobuf strings, which must be UTF-8), and x-amz-server-side-encryption
// on a GET or HEAD, which only writes take.
func checkEdge(rq *request) error {
	r := rq.r
	size := 0
	for name, vals := range r.Header {
		for _, v := range vals {
			size += len(name) + len(v) + 4 // ": " and CRLF
		}
	}
	if size > maxHeaderSection {
		return s3err.RequestHeaderSectionTooLarge
	}
	if !utf8.ValidString(rq.bucket) || !utf8.ValidString(rq.key) {
		return s3err.InvalidArgument.WithMessage("Object key or bucket name is not valid UTF-8.")
	}
	for name, vals := range r.URL.Query() {
		if !utf8.ValidString(name) {
			return s3err.InvalidArgument.WithMessage("A query parameter is not valid UTF-8.")
		}
		for _, v := range vals {
			if !utf8.ValidString(v) {
				return s3err.InvalidArgument.WithMessage("The value of query parameter " + name + " is not valid UTF-8.")
			}
		}
	}
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-amz-") && !strings.HasPrefix(lower, "content-") &&
			lower != "cache-control" && lower != "expires" {
			continue
		}
		if strings.HasPrefix(lower, "x-amz-meta-") {
			// Any bytes: user metadata is read as ISO-8859-1 and RFC
			// 2047, as S3 reads it (decodeMetaValue).
			continue
		}
		for _, v := range vals {
			if !utf8.ValidString(v) {
				return s3err.InvalidArgument.WithMessage("The value of header " + name + " is not valid UTF-8.")
			}
		}
	}
	if rq.key != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		r.Header.Get("x-amz-server-side-encryption") != "" {
		return s3err.InvalidArgument.WithMessage("x-amz-server-side-encryption header is not supported for this operation.")
	}
	return nil
}

// checkExpectedOwner answers 403 AccessDenied when the request names an
// expected bucket owner (x-amz-expected-bucket-owner) that does not own
// the bucket. Cairn has no AWS account IDs: the owner is named by its
// canonical ID.
func (g *Gateway) checkExpectedOwner(ctx context.Context, rq *request) error {
	want := rq.r.Header.Get("x-amz-expected-bucket-owner")
	if want == "" || rq.bucket == "" {
		return nil
	}
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		// The operation reports a missing bucket its own way (a
		// CreateBucket expects none).
		return nil
	}
	if b.GetOwner() != want {
		return s3err.AccessDenied
	}
	return nil
}
