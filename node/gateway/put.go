package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/objio"
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

// putObject runs the PUT phases: check everything knowable from the
// headers (without touching the body, so Expect: 100-continue is never
// answered for a doomed request), stream the body into durable shards,
// verify digests, then commit the version through meta. A failure after
// shards exist deletes them: nothing uncommitted is left visible.
func (g *Gateway) putObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	r := rq.r
	size := int64(-1) // a POST form's file: known at its end
	if rq.post == nil {
		var err error
		if size, err = requestSize(r); err != nil {
			return err
		}
	}
	if size > g.cfg.MaxPutSize {
		return s3err.EntityTooLarge
	}
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return err
	}
	sent, err := headerChecksum(r.Header)
	if err != nil {
		return err
	}
	userMeta, err := userMetadata(r.Header)
	if err != nil {
		return err
	}
	if err := checkSDKChecksumAlgorithm(r.Header, sent, rq.auth.ChecksumAlgorithm); err != nil {
		return err
	}
	ifMatch, ifNoneMatch, err := writeConditions(r.Header)
	if err != nil {
		return err
	}
	bucket, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	enc, err := g.newEncrypter(r.Header, bucket)
	if err != nil {
		return err
	}
	owner, acl, err := g.objectOwnerAndACL(rq, bucket)
	if err != nil {
		return err
	}
	extras, err := g.parsePutExtras(r.Header, bucket, wantMD5 != nil || sent != nil || rq.auth.ChecksumAlgorithm != "")
	if err != nil {
		return err
	}
	if err := g.authorizeObjectLock(ctx, rq, extras.lock, owner); err != nil {
		return err
	}
	if extras.bypass, err = g.mayBypassGovernance(ctx, rq, extras.bypass, rq.key, ""); err != nil {
		return err
	}

	body := &exactReader{r: rq.auth.Body, remaining: size}
	var src io.Reader = body
	var sentHash hash.Hash
	if sent != nil {
		sentHash = sent.alg.New()
		src = io.TeeReader(body, sentHash)
	}
	if src, err = enc.wrap(src); err != nil {
		return err
	}
	phaseStart := time.Now()
	storedSize := int64(-1)
	if size >= 0 {
		storedSize = enc.storedSize(size)
	}
	stored, err := g.cfg.Bodies.WriteBody(ctx, src, objio.WriteOptions{
		Profile: extras.profile, Size: storedSize, InlineMax: g.cfg.InlineMaxBytes,
		NoMD5: enc != nil, // the ETag is the plaintext's MD5, hashed by enc
	})
	if err != nil {
		return writeFailure(ctx, body, err)
	}
	g.metrics.phase(phaseBody, &phaseStart)
	// Drain to EOF: a signed payload's hash, the last chunk signature and a
	// trailing checksum are verified only there.
	if err := body.finish(); err != nil {
		g.deleteBody(ctx, rq, stored)
		return writeFailure(ctx, body, err)
	}
	if size < 0 {
		size = body.read
		if err := rq.post.check(size); err != nil {
			g.deleteBody(ctx, rq, stored)
			return err
		}
	}
	if stored.Size != enc.storedSize(size) {
		g.deleteBody(ctx, rq, stored)
		return fmt.Errorf("write body: stored %d bytes, want %d", stored.Size, enc.storedSize(size))
	}
	plainMD5 := enc.md5(stored)
	if wantMD5 != nil && !bytes.Equal(plainMD5, wantMD5) {
		g.deleteBody(ctx, rq, stored)
		return s3err.BadDigest.WithMessage("The Content-MD5 you specified did not match what we received.")
	}
	sums := map[string]string{}
	if sent != nil {
		if got := checksum.Encode(sentHash.Sum(nil)); got != sent.value {
			g.deleteBody(ctx, rq, stored)
			return s3err.BadDigest.WithMessage(fmt.Sprintf("The %s you specified did not match the calculated checksum.", sent.alg))
		}
		sums[string(sent.alg)] = sent.value
	}
	if tc := rq.auth.TrailerChecksum; tc != nil {
		if alg, v := tc(); alg != "" && v != "" {
			sums[string(alg)] = v
		}
	}

	// Every PUT carries a fresh version ID; the state machine replaces it
	// with "null" unless versioning is enabled when the PUT commits, so a
	// concurrent PutBucketVersioning cannot make this one fail.
	v := &metapb.ObjectVersion{
		Bucket:        rq.bucket,
		Key:           rq.key,
		VersionId:     newVersionID(g.cfg.Now()),
		MtimeUnixNano: g.cfg.Now().UnixNano(),
		Size:          size,
		Etag:          hex.EncodeToString(plainMD5),
		ContentType:   contentType(r.Header),
		Headers:       standardHeaders(r.Header),
		UserMetadata:  userMeta,
		Checksums:     sums,
		Owner:         owner,
		Acl:           acl,
		Encryption:    enc.record(),
	}
	setBody(v, stored)
	if enc != nil {
		v.StoredSize = stored.Size
	}
	extras.apply(v)
	g.metrics.phase(phaseVerify, &phaseStart)
	res, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{
		Version: v, IfMatch: ifMatch, IfNoneMatch: ifNoneMatch, BypassGovernance: extras.bypass,
	}}})
	if err == nil {
		g.metrics.phase(phaseCommit, &phaseStart)
	}
	if err != nil {
		// Even when the propose failed in transit it may have committed;
		// deleting then would lose the object, so only delete on a
		// definite answer from the state machine.
		var me *s3err.MetaError
		if errors.As(err, &me) {
			g.deleteBody(ctx, rq, stored)
			if isMetaCode(err, metapb.ErrorCode_NO_SUCH_KEY) {
				return g.noSuchKey(ctx, w, rq)
			}
		}
		return err
	}
	versionID := res.GetVersion().GetVersionId()

	h := w.Header()
	h.Set("ETag", `"`+v.Etag+`"`)
	for alg, val := range sums {
		h.Set(checksum.Algorithm(alg).HeaderName(), val)
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	if versionID != nullVersion || bucket.GetVersioning() != metapb.VersioningState_VERSIONING_UNVERSIONED {
		h.Set("x-amz-version-id", versionID)
	}
	enc.setPutHeaders(h)
	g.setExpiration(h, bucket, v)
	w.WriteHeader(http.StatusOK)
	return nil
}

// setBody points v at its stored body: the shards, or, for a body small
// enough to ride in the record, the bytes themselves.
func setBody(v *metapb.ObjectVersion, b *objio.Body) {
	v.DataId = b.DataID
	if b.IsInline() {
		v.Inline = true
		v.InlineData = b.Inline
		return
	}
	v.Profile = objio.ProfileToProto(b.Profile)
	v.Shards = b.Shards
	v.ShardDigests = b.ShardDigests
	v.UnderSpread = b.UnderSpread
}

// writeFailure explains a failed body write. A failure of the client's
// body (short, disconnected, bad signature or checksum) is the client's
// error, reported as such even though the store saw it first.
func writeFailure(ctx context.Context, body *exactReader, err error) error {
	if body.err != nil {
		err = body.err
		if s3err.FromError(err) == s3err.InternalError {
			return fmt.Errorf("%w: read body: %w", s3err.IncompleteBody, err)
		}
		return fmt.Errorf("read body: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: client went away: %w", s3err.IncompleteBody, err)
	}
	return fmt.Errorf("write body: %w", err)
}

// deleteBody removes the shards of a PUT that will not commit. It is best
// effort: the failure that led here is what the client must see, and the
// orphan sweep reclaims whatever stays behind.
func (g *Gateway) deleteBody(ctx context.Context, rq *request, b *objio.Body) {
	if b.IsInline() {
		return // nothing was stored outside the record
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := g.cfg.Bodies.DeleteBody(ctx, b.DataID, b.Shards); err != nil {
		g.log.Warn("delete shards of failed put", "request_id", rq.id, "data_id", b.DataID, "err", err)
	}
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

// userMetadata collects x-amz-meta-* headers under their lower-case suffix.
func userMetadata(h http.Header) (map[string]string, error) {
	md := map[string]string{}
	total := 0
	for name, vals := range h {
		suffix, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok || suffix == "" {
			continue
		}
		v := strings.Join(vals, ",")
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
