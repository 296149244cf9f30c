package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// responseOverrides are the GetObject query parameters that replace a
// stored response header.
var responseOverrides = map[string]string{
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
	"response-content-language":    "Content-Language",
	"response-content-type":        "Content-Type",
	"response-expires":             "Expires",
}

// lookupObject reads a version of the request's key (see object).
func (g *Gateway) lookupObject(ctx context.Context, rq *request, versionID string) (*metapb.ObjectVersion, error) {
	return g.object(ctx, rq.bucket, rq.key, versionID)
}

// object reads a version of bucket/key from the meta group, once per
// request: authorization and the handler share the answer (see
// requestMemo). The version must not be modified.
func (g *Gateway) object(ctx context.Context, bucket, key, versionID string) (*metapb.ObjectVersion, error) {
	ref := objectRef{bucket: bucket, key: key, versionID: versionID}
	memo := memoOf(ctx)
	if l, ok := memo.object(ref); ok {
		return l.v, l.err
	}
	v, err := g.cfg.Meta.Object(ctx, bucket, key, versionID)
	memo.putObject(ref, objectLookup{v: v, err: err})
	return v, err
}

// getObject serves GET and HEAD. Headers are only sent with the first
// body byte, so a read that fails at once still gets a proper error; a
// read that fails later aborts the connection, because a short body with a
// 200 status would look complete to the client.
func (g *Gateway) getObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	r := rq.r
	q := r.URL.Query()
	versionID, err := versionIDParam(r)
	if err != nil {
		return err
	}
	v, err := g.lookupObject(ctx, rq, versionID)
	if versionID == "" && isMetaCode(err, metapb.ErrorCode_NO_SUCH_KEY) {
		return g.noSuchKey(ctx, w, rq)
	}
	if err != nil {
		return err
	}
	if v.GetDeleteMarker() {
		w.Header().Set("x-amz-delete-marker", "true")
		w.Header().Set("x-amz-version-id", v.GetVersionId())
		if versionID != "" {
			return s3err.MethodNotAllowed
		}
		return s3err.NoSuchKey
	}
	dec, err := g.newDecrypter(r.Header, v.GetEncryption())
	if err != nil {
		return err
	}

	h := objectHeaders(v)
	if b, err := g.getBucket(ctx, rq.bucket); err == nil && versionID == "" {
		// Read once already to authorize this request: the memo has it.
		g.setExpiration(h, b, v)
	}
	if versionID != "" {
		// A version asked for by ID is named, "null" included.
		h.Set("x-amz-version-id", v.GetVersionId())
	}
	switch status := preconditions(r.Header, v); status {
	case http.StatusPreconditionFailed:
		return s3err.PreconditionFailed
	case http.StatusNotModified:
		for _, k := range []string{"ETag", "Last-Modified", "x-amz-version-id"} {
			if val := h.Get(k); val != "" {
				w.Header().Set(k, val)
			}
		}
		w.WriteHeader(http.StatusNotModified)
		return nil
	}

	size := v.GetSize()
	rng, partial, err := parseRange(r.Header.Get("Range"), size)
	if q.Has("partNumber") {
		if rng, err = partRange(q, r.Header, v, h); err != nil {
			return err
		}
		partial = true
	}
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		return s3err.InvalidRange
	}
	if !partial {
		rng = byteRange{start: 0, length: size}
	}
	for param, name := range responseOverrides {
		if val := q.Get(param); val != "" {
			if rq.auth.Anonymous {
				return s3err.InvalidRequest.WithMessage("Request specific response headers cannot be used for anonymous GET requests.")
			}
			h.Set(name, val)
		}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.start+rng.length-1, size))
	} else if strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED") {
		// Stored checksums cover the whole object, so a range gets none.
		for alg, val := range v.GetChecksums() {
			if name := checksum.Algorithm(alg).HeaderName(); name != "" {
				h.Set(name, val)
				h.Set("x-amz-checksum-type", checksumType(v))
			}
		}
	}
	h.Set("Content-Length", strconv.FormatInt(rng.length, 10))

	lw := &lazyWriter{w: w, h: h, status: status}
	if r.Method == http.MethodHead || rng.length == 0 {
		lw.start()
		return nil
	}
	if err := g.readBody(ctx, v, dec, rng.start, rng.length, lw); err != nil {
		if !lw.started {
			return unavailable("read body", err)
		}
		g.abort(rq, lw, rng.length, err)
	}
	if lw.written != rng.length {
		if !lw.started {
			return fmt.Errorf("read body: store wrote nothing of %d bytes", rng.length)
		}
		g.abort(rq, lw, rng.length, errors.New("store returned a short body"))
	}
	return nil
}

// abort ends a response whose body cannot be completed. Closing the
// connection without the final bytes is the only way HTTP/1.1 and HTTP/2
// clients learn that the body is incomplete.
func (g *Gateway) abort(rq *request, lw *lazyWriter, want int64, err error) {
	if rq.r.Context().Err() == nil {
		g.log.Error("get object failed mid-body", "request_id", rq.id, "bucket", rq.bucket, "key", rq.key,
			"written", lw.written, "want", want, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// lazyWriter sends the status and headers with the first body byte.
type lazyWriter struct {
	w       http.ResponseWriter
	h       http.Header
	status  int
	started bool
	written int64
}

func (l *lazyWriter) start() {
	if l.started {
		return
	}
	l.started = true
	dst := l.w.Header()
	for k, v := range l.h {
		dst[k] = v
	}
	l.w.WriteHeader(l.status)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l.start()
	n, err := l.w.Write(p)
	l.written += int64(n)
	return n, err
}

// objectHeaders are the headers GET and HEAD return for v.
func objectHeaders(v *metapb.ObjectVersion) http.Header {
	h := http.Header{}
	h.Set("ETag", `"`+v.GetEtag()+`"`)
	h.Set("Last-Modified", time.Unix(0, v.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
	ct := v.GetContentType()
	if ct == "" {
		ct = defaultContentType
	}
	h.Set("Content-Type", ct)
	h.Set("Accept-Ranges", "bytes")
	for _, name := range storedHeaders {
		if val := v.GetHeaders()[name]; val != "" {
			h.Set(name, val)
		}
	}
	for k, val := range v.GetUserMetadata() {
		// Lower case as S3 sends them: Set would canonicalize to
		// X-Amz-Meta-Color, and boto3 and the AWS CLI keep the case they see.
		h["x-amz-meta-"+k] = []string{encodeMetaValue(val)}
	}
	if sc := v.GetStorageClass(); sc != "" && sc != storageClassStandard {
		h.Set("x-amz-storage-class", sc)
	}
	setObjectExtraHeaders(h, v)
	setVersionHeader(h, v.GetVersionId())
	setEncryptionHeaders(h, v.GetEncryption())
	return h
}

// setVersionHeader names the version only when versioning produced it, as
// AWS omits the header in buckets that never had versioning.
func setVersionHeader(h http.Header, id string) {
	if id != "" && id != nullVersion {
		h.Set("x-amz-version-id", id)
	}
}

// preconditions evaluates the conditional headers as S3 does: If-Match
// takes precedence over If-Unmodified-Since (412), and If-None-Match over
// If-Modified-Since (304). It returns 0 when the request may proceed.
func preconditions(h http.Header, v *metapb.ObjectVersion) int {
	mtime := time.Unix(0, v.GetMtimeUnixNano()).UTC().Truncate(time.Second)
	if im := h.Get("If-Match"); im != "" {
		if !etagMatches(im, v.GetEtag()) {
			return http.StatusPreconditionFailed
		}
	} else if t, ok := httpTime(h.Get("If-Unmodified-Since")); ok && mtime.After(t) {
		return http.StatusPreconditionFailed
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagMatches(inm, v.GetEtag()) {
			return http.StatusNotModified
		}
	} else if t, ok := httpTime(h.Get("If-Modified-Since")); ok && !mtime.After(t) {
		return http.StatusNotModified
	}
	return 0
}

func httpTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	return t, err == nil
}

// etagMatches reports whether a list of entity tags names etag.
func etagMatches(list, etag string) bool {
	for _, tag := range strings.Split(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		tag = strings.TrimPrefix(tag, "W/")
		if strings.Trim(tag, `"`) == etag {
			return true
		}
	}
	return false
}

// deleteObject answers 204 also when the key does not exist, as S3 does.
func (g *Gateway) deleteObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	versionID, err := versionIDParam(rq.r)
	if err != nil {
		return err
	}
	bypass, err := parseBypassGovernance(rq.r.Header)
	if err != nil {
		return err
	}
	if bypass, err = g.mayBypassGovernance(ctx, rq, bypass, rq.key, versionID); err != nil {
		return err
	}
	// The state machine decides from the bucket's versioning state at
	// commit whether a marker is made and whether its ID is this one or
	// "null".
	cmd := &metapb.DeleteObject{
		Bucket:           rq.bucket,
		Key:              rq.key,
		VersionId:        versionID,
		MtimeUnixNano:    g.cfg.Now().UnixNano(),
		MarkerVersionId:  newVersionID(g.cfg.Now()),
		IfMatch:          unquoteETag(rq.r.Header.Get("If-Match")),
		BypassGovernance: bypass,
	}
	res, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: cmd}})
	if err != nil {
		var me *s3err.MetaError
		if !errors.As(err, &me) || (me.Code != metapb.ErrorCode_NO_SUCH_KEY && me.Code != metapb.ErrorCode_NO_SUCH_VERSION) {
			return err
		}
	}
	if m := res.GetVersion(); m.GetDeleteMarker() {
		w.Header().Set("x-amz-delete-marker", "true")
		w.Header().Set("x-amz-version-id", m.GetVersionId())
	} else if versionID != "" {
		w.Header().Set("x-amz-version-id", versionID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// unavailable wraps a failed body read for the client. An error the S3
// table knows (data unavailable, a stalled node, a cancelled request) keeps
// its own code and message; anything else is still the service's fault of
// the moment, so it says ServiceUnavailable rather than InternalError.
func unavailable(op string, err error) error {
	if s3err.FromError(err) == s3err.InternalError {
		return fmt.Errorf("%w: %s: %w", s3err.ServiceUnavailable, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
