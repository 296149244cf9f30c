package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	// maxUserMetadata is S3's limit on the x-amz-meta-* names and values.
	maxUserMetadata = 2 << 10
	// defaultContentType is what S3 stores when a PUT names none.
	defaultContentType   = "binary/octet-stream"
	storageClassStandard = "STANDARD"
	nullVersion          = "null"
	// cleanupTimeout bounds deleting the shards of a failed PUT; it runs
	// even when the client is gone. The orphan sweep catches what it misses.
	cleanupTimeout = 30 * time.Second
)

// storedHeaders are the standard headers a PUT stores and a GET returns.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires", "X-Amz-Website-Redirect-Location"}

// errBodyLength marks a body whose length differs from the declared one.
var errBodyLength = errors.New("gateway: body length differs from the declared length")

// sentChecksum is an x-amz-checksum-* value sent as a request header.
type sentChecksum struct {
	alg   checksum.Algorithm
	value string
}

// putObject runs the PUT phases. Parse: check everything knowable from
// the headers, without touching the body, so Expect: 100-continue is never
// answered for a doomed request. Write: stream the body into durable
// shards and verify it, or delete them. Commit: propose the version
// through meta. A failure after shards exist deletes them: nothing
// uncommitted is left visible. POST Object runs these same phases.
func (g *Gateway) putObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	p, err := g.parsePut(ctx, rq)
	if err != nil {
		return err
	}
	phaseStart := time.Now()
	stored, err := g.writeVerified(ctx, rq, p.bodyWrite(rq, g.cfg.InlineMaxBytes, &phaseStart))
	if err != nil {
		return err
	}
	v := p.version(rq, stored, g.cfg.Now())
	g.metrics.phase(phaseVerify, &phaseStart)
	res, err := g.commitVersion(ctx, rq, &metapb.PutObject{
		Version: v, IfMatch: p.ifMatch, IfNoneMatch: p.ifNoneMatch, BypassGovernance: p.extras.bypass,
	}, stored.Body)
	if isMetaCode(err, metapb.ErrorCode_NO_SUCH_KEY) {
		return g.noSuchKey(ctx, w, rq)
	}
	if err != nil {
		return err
	}
	g.metrics.phase(phaseCommit, &phaseStart)
	p.respond(g, w, v, res.GetVersion().GetVersionId())
	return nil
}

// putRequest is everything a PutObject needs, parsed from its headers
// and checked against its bucket before any body byte is read.
type putRequest struct {
	// size is the declared length; -1 for a POST form's file, whose
	// length is known at its end.
	size int64
	// wantMD5 and sent are the declared digests (Content-MD5 and an
	// x-amz-checksum-* header), nil when absent.
	wantMD5 []byte
	sent    *sentChecksum
	// contentType, headers and userMeta are stored with the object.
	contentType string
	headers     map[string]string
	userMeta    map[string]string
	// ifMatch and ifNoneMatch are the conditions of a conditional write.
	ifMatch     string
	ifNoneMatch bool
	bucket      *metapb.Bucket
	enc         *encrypter
	owner       string
	acl         *metapb.AccessControlList
	// extras: storage class, tags, Object Lock and governance bypass.
	extras *putExtras
}

// parsePut is the PUT's parse phase. The order of its checks is the
// order of the errors a client sees.
func (g *Gateway) parsePut(ctx context.Context, rq *request) (*putRequest, error) {
	r := rq.r
	p := &putRequest{size: -1, contentType: contentType(r.Header), headers: standardHeaders(r.Header)}
	var err error
	if rq.post == nil {
		if p.size, err = requestSize(r); err != nil {
			return nil, err
		}
	}
	if p.size > g.cfg.MaxPutSize {
		return nil, s3err.EntityTooLarge
	}
	if p.wantMD5, err = contentMD5(r.Header); err != nil {
		return nil, err
	}
	if p.sent, err = headerChecksum(r.Header); err != nil {
		return nil, err
	}
	if p.userMeta, err = userMetadata(r.Header); err != nil {
		return nil, err
	}
	if err := checkSDKChecksumAlgorithm(r.Header, p.sent, rq.auth.ChecksumAlgorithm); err != nil {
		return nil, err
	}
	if p.ifMatch, p.ifNoneMatch, err = writeConditions(r.Header); err != nil {
		return nil, err
	}
	if p.bucket, err = g.getBucket(ctx, rq.bucket); err != nil {
		return nil, err
	}
	if p.enc, err = g.newEncrypter(r.Header, p.bucket); err != nil {
		return nil, err
	}
	if p.owner, p.acl, err = g.objectOwnerAndACL(rq, p.bucket); err != nil {
		return nil, err
	}
	hasDigest := p.wantMD5 != nil || p.sent != nil || rq.auth.ChecksumAlgorithm != ""
	if p.extras, err = g.parsePutExtras(r.Header, p.bucket, hasDigest); err != nil {
		return nil, err
	}
	if err := g.authorizeObjectLock(ctx, rq, p.extras.lock, p.owner); err != nil {
		return nil, err
	}
	if p.extras.bypass, err = g.mayBypassGovernance(ctx, rq, p.extras.bypass, rq.key, ""); err != nil {
		return nil, err
	}
	return p, nil
}

// bodyWrite is what the write phase stores and checks.
func (p *putRequest) bodyWrite(rq *request, inlineMax int64, phaseStart *time.Time) bodyWrite {
	return bodyWrite{
		src:        &exactReader{r: rq.auth.Body, remaining: p.size},
		size:       p.size,
		post:       rq.post,
		profile:    p.extras.profile,
		inlineMax:  inlineMax,
		enc:        p.enc,
		wantMD5:    p.wantMD5,
		sent:       p.sent,
		phaseStart: phaseStart,
	}
}

// version is the record the commit phase proposes for the stored body.
// Every PUT carries a fresh version ID; the state machine replaces it
// with "null" unless versioning is enabled when the PUT commits, so a
// concurrent PutBucketVersioning cannot make this one fail.
func (p *putRequest) version(rq *request, stored *hashedBody, now time.Time) *metapb.ObjectVersion {
	v := &metapb.ObjectVersion{
		Bucket:        rq.bucket,
		Key:           rq.key,
		VersionId:     newVersionID(now),
		MtimeUnixNano: now.UnixNano(),
		Size:          stored.size,
		Etag:          hex.EncodeToString(stored.plainMD5),
		ContentType:   p.contentType,
		Headers:       p.headers,
		UserMetadata:  p.userMeta,
		Checksums:     declaredSums(map[string]string{}, p.sent, rq),
		Owner:         p.owner,
		Acl:           p.acl,
		Encryption:    p.enc.record(),
	}
	setBody(v, stored.Body)
	if p.enc != nil {
		v.StoredSize = stored.Size
	}
	p.extras.apply(v)
	return v
}

// respond answers a committed PUT.
func (p *putRequest) respond(g *Gateway, w http.ResponseWriter, v *metapb.ObjectVersion, versionID string) {
	h := w.Header()
	h.Set("ETag", `"`+v.Etag+`"`)
	for alg, val := range v.Checksums {
		h.Set(checksum.Algorithm(alg).HeaderName(), val)
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	if versionID != nullVersion || p.bucket.GetVersioning() != metapb.VersioningState_VERSIONING_UNVERSIONED {
		h.Set("x-amz-version-id", versionID)
	}
	p.enc.setPutHeaders(h)
	g.setExpiration(h, p.bucket, v)
	w.WriteHeader(http.StatusOK)
}

// requestSize is the object size a PUT declares: the decoded length of an
// aws-chunked body, else Content-Length.
func requestSize(r *http.Request) (int64, error) {
	if v := r.Header.Get("x-amz-decoded-content-length"); v != "" {
		n, ok := parseDigits(v)
		if !ok {
			return 0, s3err.InvalidArgument.WithMessage("x-amz-decoded-content-length is not a valid length.")
		}
		return n, nil
	}
	if r.ContentLength < 0 || strings.HasPrefix(r.Header.Get("x-amz-content-sha256"), "STREAMING-") {
		return 0, s3err.MissingContentLength
	}
	return r.ContentLength, nil
}

// contentMD5 returns the digest of a Content-MD5 header, or nil without one.
func contentMD5(h http.Header) ([]byte, error) {
	vals, ok := h["Content-Md5"]
	if !ok {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.Join(vals, "")))
	if err != nil || len(sum) != 16 {
		return nil, s3err.InvalidDigest
	}
	return sum, nil
}

// headerChecksum returns the one x-amz-checksum-<alg> header a PUT may
// carry, or nil without one.
func headerChecksum(h http.Header) (*sentChecksum, error) {
	var sent *sentChecksum
	for name, vals := range h {
		alg, ok := checksum.FromHeaderName(name)
		if !ok {
			continue
		}
		if sent != nil {
			return nil, s3err.InvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		value := strings.TrimSpace(strings.Join(vals, ""))
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(raw) != alg.New().Size() {
			return nil, s3err.InvalidRequest.WithMessage(fmt.Sprintf("Value for %s header is invalid.", alg.HeaderName()))
		}
		sent = &sentChecksum{alg: alg, value: value}
	}
	return sent, nil
}

// userMetadata collects x-amz-meta-* headers under their lower-case suffix,
// decoded as S3 decodes them (decodeMetaValue). The limit counts the UTF-8
// bytes of the names and decoded values, as S3's does.
func userMetadata(h http.Header) (map[string]string, error) {
	md := map[string]string{}
	total := 0
	for name, vals := range h {
		suffix, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok || suffix == "" {
			continue
		}
		v, err := decodeMetaValue(suffix, strings.Join(vals, ","))
		if err != nil {
			return nil, err
		}
		total += len(suffix) + len(v)
		md[suffix] = v
	}
	if total > maxUserMetadata {
		return nil, s3err.MetadataTooLarge
	}
	return md, nil
}

func contentType(h http.Header) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return ct
	}
	return defaultContentType
}

// standardHeaders picks the headers stored with the object. The
// aws-chunked content coding describes the transfer, not the object, so it
// is dropped as S3 does.
func standardHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, name := range storedHeaders {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = withoutAWSChunked(v)
		}
		if v != "" {
			out[name] = v
		}
	}
	return out
}

// withoutAWSChunked drops the aws-chunked coding from a Content-Encoding;
// any other value is kept verbatim ("deflate, gzip" stays as sent).
func withoutAWSChunked(v string) string {
	toks := strings.Split(v, ",")
	keep := toks[:0:0]
	for _, tok := range toks {
		if t := strings.TrimSpace(tok); t != "" && !strings.EqualFold(t, "aws-chunked") {
			keep = append(keep, t)
		}
	}
	if len(keep) == len(toks) {
		return v
	}
	return strings.Join(keep, ", ")
}

// newVersionID returns a unique version ID that sorts by creation time.
func newVersionID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// exactReader passes through exactly the declared number of bytes (or,
// when remaining is negative, the whole body) and remembers the first
// error of the client's body, so a failed PUT can be blamed on the right
// side.
type exactReader struct {
	r         io.Reader
	remaining int64
	read      int64
	err       error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.remaining < 0 {
		n, err := e.r.Read(p)
		e.read += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			e.err = err
		}
		return n, err
	}
	if e.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	e.read += int64(n)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF) && e.remaining > 0:
		e.err = fmt.Errorf("%w: %d bytes missing", s3err.IncompleteBody, e.remaining)
		return n, e.err
	case errors.Is(err, io.EOF):
		// The EOF is seen again by finish.
		return n, nil
	default:
		e.err = err
		return n, err
	}
}

// finish reads past the declared end, which must be the end of the body.
func (e *exactReader) finish() error {
	if e.err != nil || e.remaining < 0 {
		return e.err
	}
	if e.remaining > 0 {
		// The store stopped early: its fault, not the client's.
		return fmt.Errorf("%w: %d bytes not consumed", errBodyLength, e.remaining)
	}
	var buf [1]byte
	for {
		n, err := e.r.Read(buf[:])
		if n > 0 {
			e.err = fmt.Errorf("%w: body longer than declared", errBodyLength)
			return e.err
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			e.err = err
			return err
		}
	}
}
