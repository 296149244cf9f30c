package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// CORS limits of S3.
const (
	maxCORSRules = 100
	maxCORSBody  = 64 << 10
)

// corsMethods are the methods a CORS rule may allow.
var corsMethods = []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodPost, http.MethodDelete}

// parseCORS decodes and validates a CORS configuration as AWS does:
// 1..100 rules, each with at least one origin and one method, methods among
// GET, PUT, HEAD, POST, DELETE, at most one wildcard in an origin or an
// allowed header, none in an exposed header, MaxAgeSeconds not negative.
func parseCORS(data []byte) (*s3xml.CORSConfiguration, error) {
	if len(data) > maxCORSBody {
		return nil, s3err.MalformedXML.WithMessage("The CORS configuration is larger than 64 KB.")
	}
	var conf s3xml.CORSConfiguration
	if err := s3xml.Decode(bytes.NewReader(data), &conf); err != nil {
		return nil, err
	}
	if len(conf.Rules) == 0 {
		return nil, s3err.MalformedXML
	}
	if len(conf.Rules) > maxCORSRules {
		return nil, s3err.MalformedXML.WithMessage("The number of CORS rules should not exceed allowed limit of 100 rules.")
	}
	for _, r := range conf.Rules {
		if len(r.AllowedOrigins) == 0 || len(r.AllowedMethods) == 0 {
			return nil, s3err.MalformedXML
		}
		if len(r.ID) > 255 {
			return nil, s3err.InvalidArgument.WithMessage("ID length should not exceed allowed limit of 255")
		}
		for _, m := range r.AllowedMethods {
			if !slices.Contains(corsMethods, m) {
				return nil, s3err.InvalidRequest.WithMessage("Found unsupported HTTP method in CORS config. Unsupported method is " + m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if o == "" {
				return nil, s3err.MalformedXML
			}
			if strings.Count(o, "*") > 1 {
				return nil, s3err.InvalidRequest.WithMessage(fmt.Sprintf("AllowedOrigin %q can not have more than one wildcard.", o))
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return nil, s3err.InvalidRequest.WithMessage(fmt.Sprintf("AllowedHeader %q can not have more than one wildcard.", h))
			}
		}
		for _, h := range r.ExposeHeaders {
			if strings.Contains(h, "*") {
				return nil, s3err.InvalidRequest.WithMessage(fmt.Sprintf("ExposeHeader %q contains wildcard. We currently do not support wildcard for ExposeHeader.", h))
			}
		}
		if r.MaxAgeSeconds != nil && *r.MaxAgeSeconds < 0 {
			return nil, s3err.MalformedXML
		}
	}
	return &conf, nil
}

func (g *Gateway) putBucketCors(ctx context.Context, w http.ResponseWriter, rq *request) error {
	data, err := readBody(rq, maxCORSBody)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return s3err.MalformedXML
	}
	if _, err := parseCORS(data); err != nil {
		return err
	}
	if err := g.updateBucketCors(ctx, rq.bucket, string(data)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) getBucketCors(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if b.GetCorsXml() == "" {
		return s3err.NoSuchCORSConfiguration
	}
	conf, err := parseCORS([]byte(b.GetCorsXml()))
	if err != nil {
		return fmt.Errorf("stored CORS configuration of %q: %w", rq.bucket, err)
	}
	conf.Xmlns = s3xml.Namespace
	return writeXML(w, conf)
}

func (g *Gateway) deleteBucketCors(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updateBucketCors(ctx, rq.bucket, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) updateBucketCors(ctx context.Context, bucket, doc string) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: bucket, CorsXml: doc},
		Fields: []string{"cors"},
	}}})
	return err
}

// wildcardMatch matches s against a pattern with at most one "*", which
// stands for any run of characters.
func wildcardMatch(pattern, s string) bool {
	pre, post, ok := strings.Cut(pattern, "*")
	if !ok {
		return pattern == s
	}
	return len(s) >= len(pre)+len(post) && strings.HasPrefix(s, pre) && strings.HasSuffix(s, post)
}

// matchCORS finds the first rule that allows origin, method and every one
// of the requested headers (case-insensitive), as S3 evaluates them.
func matchCORS(conf *s3xml.CORSConfiguration, origin, method string, headers []string) *s3xml.CORSRule {
	for i := range conf.Rules {
		r := &conf.Rules[i]
		if !slices.Contains(r.AllowedMethods, method) {
			continue
		}
		if !slices.ContainsFunc(r.AllowedOrigins, func(p string) bool { return wildcardMatch(p, origin) }) {
			continue
		}
		allowed := true
		for _, h := range headers {
			if !slices.ContainsFunc(r.AllowedHeaders, func(p string) bool {
				return wildcardMatch(strings.ToLower(p), strings.ToLower(h))
			}) {
				allowed = false
				break
			}
		}
		if allowed {
			return r
		}
	}
	return nil
}

// setCORSHeaders writes the response headers of a matched rule. A rule
// allowing every origin answers "*" without credentials; otherwise the
// origin is echoed and credentials allowed, as S3 does.
func setCORSHeaders(h http.Header, r *s3xml.CORSRule, origin string, requested []string) {
	if slices.Contains(r.AllowedOrigins, "*") {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(requested) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(requested, ", "))
	}
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*r.MaxAgeSeconds))
	}
}

// setVary tells caches that the answer depends on the CORS request headers.
func setVary(h http.Header) {
	h.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
}

// splitHeaderList splits Access-Control-Request-Headers.
func splitHeaderList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// preflight answers an OPTIONS request from the bucket's CORS rules. It
// needs no signature: browsers send preflights without credentials.
func (g *Gateway) preflight(ctx context.Context, w http.ResponseWriter, rq *request) error {
	r := rq.r
	origin := r.Header.Get("Origin")
	if origin == "" {
		return s3err.InvalidRequest.WithMessage("Insufficient information. Origin request header needed.")
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if !slices.Contains(corsMethods, method) {
		return s3err.InvalidRequest.WithMessage("Invalid Access-Control-Request-Method: " + method)
	}
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if b.GetCorsXml() == "" {
		return s3err.CORSForbidden.WithMessage("CORSResponse: CORS is not enabled for this bucket.")
	}
	conf, err := parseCORS([]byte(b.GetCorsXml()))
	if err != nil {
		return fmt.Errorf("stored CORS configuration of %q: %w", rq.bucket, err)
	}
	headers := splitHeaderList(r.Header.Get("Access-Control-Request-Headers"))
	rule := matchCORS(conf, origin, method, headers)
	if rule == nil {
		return s3err.CORSForbidden
	}
	h := w.Header()
	setCORSHeaders(h, rule, origin, headers)
	setVary(h)
	w.WriteHeader(http.StatusOK)
	return nil
}

// corsActual adds the CORS headers of a matching rule to a request that
// carries an Origin, before it is authenticated, so that errors (a 403, a
// 404) reach the browser's script as well. Nothing is added when the
// bucket cannot be read or has no matching rule.
func (g *Gateway) corsActual(ctx context.Context, w http.ResponseWriter, rq *request) {
	origin := rq.r.Header.Get("Origin")
	if origin == "" || rq.bucket == "" {
		return
	}
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil || b.GetCorsXml() == "" {
		return
	}
	conf, err := parseCORS([]byte(b.GetCorsXml()))
	if err != nil {
		return
	}
	h := w.Header()
	setVary(h)
	if rule := matchCORS(conf, origin, rq.r.Method, nil); rule != nil {
		setCORSHeaders(h, rule, origin, nil)
	}
}

// readBody reads a request document through the authenticated body, so
// that a signed payload is verified; a document over limit is
// MalformedXML.
func readBody(rq *request, limit int64) ([]byte, error) {
	if rq.auth.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(rq.auth.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, s3err.MalformedXML.WithMessage("The XML you provided was too large.")
	}
	return data, nil
}
