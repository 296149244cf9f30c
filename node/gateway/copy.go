package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxCopySize is the largest source CopyObject (and UploadPartCopy without
// a range) accepts, as S3 sets it.
const maxCopySize = 5 << 30

// errCopyEnded tells the source reader of a copy that the destination is
// done with it.
var errCopyEnded = errors.New("gateway: copy destination ended")

// copySource is the object named by x-amz-copy-source.
type copySource struct {
	bucket, key, versionID string
}

// parseCopySource accepts "[/]bucket/key[?versionId=id]", URL-encoded.
func parseCopySource(s string) (copySource, error) {
	path, query, _ := strings.Cut(s, "?")
	path, err := url.PathUnescape(path)
	if err != nil {
		return copySource{}, s3err.InvalidArgument.WithMessage("Invalid copy source encoding.")
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return copySource{}, s3err.InvalidArgument.WithMessage("Invalid copy source object key")
	}
	src := copySource{bucket: bucket, key: key}
	if query != "" {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return copySource{}, s3err.InvalidArgument.WithMessage("Invalid copy source encoding.")
		}
		src.versionID = vals.Get("versionId")
		if vals.Has("versionId") && src.versionID == "" {
			return copySource{}, s3err.InvalidArgument.WithMessage("Version id cannot be the empty string")
		}
	}
	return src, nil
}

// sourceVersion resolves the copy source of a request, checks the
// x-amz-copy-source-if-* conditions against it and returns the decrypter
// of an encrypted source (nil for a plaintext one).
func (g *Gateway) sourceVersion(ctx context.Context, rq *request) (copySource, *metapb.ObjectVersion, *decrypter, error) {
	src, v, err := g.resolveSource(ctx, rq)
	if err != nil {
		return src, nil, nil, err
	}
	dec, err := g.copySourceDecrypter(rq.r.Header, v.GetEncryption())
	if err != nil {
		return src, nil, nil, err
	}
	return src, v, dec, nil
}

// resolveSource authorizes the read of the copy source, loads its
// version and checks the x-amz-copy-source-if-* conditions.
func (g *Gateway) resolveSource(ctx context.Context, rq *request) (copySource, *metapb.ObjectVersion, error) {
	src, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return src, nil, err
	}
	action := "s3:GetObject"
	if src.versionID != "" {
		action = "s3:GetObjectVersion"
	}
	if err := g.authorizeAction(ctx, rq, action, src.bucket, src.key, src.versionID); err != nil {
		return src, nil, err
	}
	v, err := g.lookupObject(ctx, &request{bucket: src.bucket, key: src.key}, src.versionID)
	if err != nil {
		return src, nil, err
	}
	if v.GetDeleteMarker() {
		if src.versionID != "" {
			return src, nil, s3err.InvalidRequest.WithMessage("The source of a copy request may not specifically refer to a delete marker by version id.")
		}
		return src, nil, s3err.NoSuchKey
	}
	if copyPreconditionsFail(rq.r.Header, v) {
		return src, nil, s3err.PreconditionFailed
	}
	return src, v, nil
}

// copyPreconditionsFail evaluates x-amz-copy-source-if-*: as for GET, a
// matching If-Match overrides If-Unmodified-Since and a failing
// If-None-Match overrides If-Modified-Since, but every failure is 412.
func copyPreconditionsFail(h http.Header, v *metapb.ObjectVersion) bool {
	mtime := time.Unix(0, v.GetMtimeUnixNano()).UTC().Truncate(time.Second)
	if im := h.Get("x-amz-copy-source-if-match"); im != "" {
		if !etagMatches(im, v.GetEtag()) {
			return true
		}
	} else if t, ok := httpTime(h.Get("x-amz-copy-source-if-unmodified-since")); ok && mtime.After(t) {
		return true
	}
	if inm := h.Get("x-amz-copy-source-if-none-match"); inm != "" {
		if etagMatches(inm, v.GetEtag()) {
			return true
		}
	} else if t, ok := httpTime(h.Get("x-amz-copy-source-if-modified-since")); ok && !mtime.After(t) {
		return true
	}
	return false
}

// copyBody stores plaintext bytes [off, off+length) of src as a new
// body, server-side, through the shared write phase: the source is read
// (decrypting with dec when not nil) as the destination is written
// (encrypting with enc when not nil).
func (g *Gateway) copyBody(ctx context.Context, rq *request, src *metapb.ObjectVersion, dec *decrypter, off, length int64, p erasure.Profile, inlineMax int64, enc *encrypter, algs ...checksum.Algorithm) (*hashedBody, error) {
	stored, err := g.writeVerified(ctx, rq, bodyWrite{
		src:       g.startCopy(ctx, src, dec, off, length),
		size:      length,
		profile:   p,
		inlineMax: inlineMax,
		enc:       enc,
		algs:      algs,
	})
	if errors.Is(err, errStoredLength) {
		return nil, unavailable(fmt.Sprintf("copy %s/%s", src.GetBucket(), src.GetKey()), err)
	}
	return stored, err
}

func (g *Gateway) copyObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	h := rq.r.Header
	directive := strings.ToUpper(h.Get("x-amz-metadata-directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return s3err.InvalidArgument.WithMessage("Unknown metadata directive.")
	}
	tagging := strings.ToUpper(h.Get("x-amz-tagging-directive"))
	if tagging != "" && tagging != "COPY" && tagging != "REPLACE" {
		return s3err.InvalidArgument.WithMessage("Unknown tagging directive.")
	}
	var reqAlg checksum.Algorithm
	if a := h.Get("x-amz-checksum-algorithm"); a != "" {
		alg, err := checksum.ParseAlgorithm(a)
		if err != nil {
			return s3err.InvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		reqAlg = alg
	}
	src, sv, dec, err := g.sourceVersion(ctx, rq)
	if err != nil {
		return err
	}
	if sv.GetSize() > maxCopySize {
		return s3err.InvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: " + strconv.Itoa(maxCopySize))
	}
	bucket, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	// The destination is encrypted as a PUT would be: by the request's
	// headers, else the bucket's default, else not at all.
	enc, err := g.newEncrypter(h, bucket)
	if err != nil {
		return err
	}
	changes := directive == "REPLACE" || h.Get("x-amz-storage-class") != "" || h.Get("x-amz-website-redirect-location") != "" ||
		selfCopyChangesEncryption(h, sv.GetEncryption(), enc)
	if src.bucket == rq.bucket && src.key == rq.key && src.versionID == "" && !changes {
		return s3err.InvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	tmpl, err := objectTemplate(h, rq.owner)
	if err != nil {
		return err
	}
	// The copy is a new object: its owner and ACL are decided as for a
	// PUT, never taken from the source.
	if tmpl.Owner, tmpl.Acl, err = g.objectOwnerAndACL(rq, bucket); err != nil {
		return err
	}
	lock, err := g.parseObjectLock(h, bucket)
	if err != nil {
		return err
	}
	if err := g.authorizeObjectLock(ctx, rq, lock, tmpl.Owner); err != nil {
		return err
	}
	lock.apply(tmpl)
	var profile erasure.Profile
	if directive != "REPLACE" {
		tmpl.ContentType = sv.GetContentType()
		tmpl.Headers = maps.Clone(sv.GetHeaders())
		if tmpl.Headers == nil {
			tmpl.Headers = map[string]string{}
		}
		if loc := h.Get("x-amz-website-redirect-location"); loc != "" {
			tmpl.Headers["x-amz-website-redirect-location"] = loc
		}
		tmpl.UserMetadata = maps.Clone(sv.GetUserMetadata())
	}
	if tagging != "REPLACE" {
		tmpl.Tags = maps.Clone(sv.GetTags())
	}
	// The copy is a new single-part body: its checksums are computed over
	// it, for the algorithm asked for or else those the source had.
	algs := []checksum.Algorithm{reqAlg}
	if reqAlg == "" {
		for a := range sv.GetChecksums() {
			if alg := checksum.Algorithm(a); alg.Valid() {
				algs = append(algs, alg)
			}
		}
	}
	if tmpl.StorageClass, profile, err = g.storageClass(tmpl.StorageClass); err != nil {
		return err
	}
	stored, err := g.copyBody(ctx, rq, sv, dec, 0, sv.GetSize(), profile, g.cfg.InlineMaxBytes, enc, algs...)
	if err != nil {
		return err
	}
	now := g.cfg.Now()
	v := tmpl
	v.Bucket, v.Key = rq.bucket, rq.key
	// Always a fresh ID: the state machine makes it "null" unless
	// versioning is on when the copy commits (this request's view of the
	// bucket may be stale).
	v.VersionId = newVersionID(now)
	v.MtimeUnixNano = now.UnixNano()
	v.Size = sv.GetSize()
	v.Etag = fmt.Sprintf("%x", stored.plainMD5)
	setBody(v, stored.Body)
	v.Checksums = stored.sums
	v.Encryption = enc.record()
	if enc != nil {
		v.StoredSize = stored.Size
	}
	if len(stored.sums) > 0 {
		v.ChecksumType = checksum.TypeFullObject
	}
	res, err := g.commitVersion(ctx, rq, &metapb.PutObject{Version: v}, stored.Body)
	if err != nil {
		return err
	}
	hd := w.Header()
	setVersionHeader(hd, res.GetVersion().GetVersionId())
	if id := sv.GetVersionId(); id != "" && id != nullVersion {
		hd.Set("x-amz-copy-source-version-id", id)
	}
	enc.setPutHeaders(hd)
	return writeXML(w, &s3xml.CopyObjectResult{
		ETag:         `"` + v.Etag + `"`,
		LastModified: s3xml.Time(now),
		Checksums:    s3xml.ChecksumsFromMap(v.Checksums),
	})
}

// copySourceRange parses x-amz-copy-source-range, which must be exactly
// "bytes=first-last" inside the source.
func copySourceRange(s string, size int64) (byteRange, error) {
	spec, ok := strings.CutPrefix(s, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	a, okA := parseDigits(first)
	b, okB := parseDigits(last)
	if !ok || !ok2 || !okA || !okB || b < a {
		return byteRange{}, s3err.InvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if b >= size {
		return byteRange{}, s3err.InvalidRange.WithMessage(fmt.Sprintf("Range specified is not valid for source object of size: %d", size))
	}
	return byteRange{start: a, length: b - a + 1}, nil
}

func (g *Gateway) uploadPartCopy(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	n, err := parsePartNumber(q)
	if err != nil {
		return err
	}
	uploadID := q.Get("uploadId")
	resp, err := g.getUpload(ctx, rq, uploadID, 0, 1)
	if err != nil {
		return err
	}
	_, sv, dec, err := g.sourceVersion(ctx, rq)
	if err != nil {
		return err
	}
	rng := byteRange{start: 0, length: sv.GetSize()}
	if s := rq.r.Header.Get("x-amz-copy-source-range"); s != "" {
		if rng, err = copySourceRange(s, sv.GetSize()); err != nil {
			return err
		}
	}
	if rng.length > maxPartSize {
		return s3err.InvalidRequest.WithMessage("The specified copy source is larger than the maximum allowable size for a copy source: " + strconv.Itoa(maxCopySize))
	}
	upAlg := checksum.Algorithm(resp.GetUpload().GetChecksumAlgorithm())
	tmpl := resp.GetUpload().GetTemplate()
	_, profile, err := g.storageClass(tmpl.GetStorageClass())
	if err != nil {
		return err
	}
	enc, err := g.partEncrypter(rq.r.Header, tmpl.GetEncryption())
	if err != nil {
		return err
	}
	// Parts always go to shards: a completed upload's parts are read
	// through the part records, which have no inline form.
	stored, err := g.copyBody(ctx, rq, sv, dec, rng.start, rng.length, profile, 0, enc, upAlg)
	if err != nil {
		return err
	}
	now := g.cfg.Now()
	part := partInfo(n, stored, stored.sums, enc, now)
	if err := g.commitPart(ctx, rq, uploadID, part, stored.Body); err != nil {
		return err
	}
	hd := w.Header()
	if id := sv.GetVersionId(); id != "" && id != nullVersion {
		hd.Set("x-amz-copy-source-version-id", id)
	}
	setEncryptionHeaders(hd, tmpl.GetEncryption())
	return writeXML(w, &s3xml.CopyPartResult{
		ETag:         `"` + part.Etag + `"`,
		LastModified: s3xml.Time(now),
		Checksums:    s3xml.ChecksumsFromMap(part.Checksums),
	})
}
