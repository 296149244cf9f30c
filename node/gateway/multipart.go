package gateway

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Multipart limits, as S3 sets them.
const (
	DefaultMinPartSize = 5 << 20
	maxPartSize        = 5 << 30
	maxPartNumber      = 10000
	maxListParts       = 1000
	maxListUploads     = 1000
)

// uploadChecksum reads x-amz-checksum-algorithm and x-amz-checksum-type of
// CreateMultipartUpload and applies AWS's defaults: CRC64NVME is always
// FULL_OBJECT, the others COMPOSITE unless FULL_OBJECT is asked for (which
// only the CRCs support).
func uploadChecksum(h http.Header) (checksum.Algorithm, string, error) {
	name, typ := h.Get("x-amz-checksum-algorithm"), strings.ToUpper(h.Get("x-amz-checksum-type"))
	if name == "" {
		if typ != "" {
			return "", "", s3err.InvalidRequest.WithMessage("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return "", "", nil
	}
	alg, err := checksum.ParseAlgorithm(name)
	if err != nil {
		return "", "", s3err.InvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	switch typ {
	case "":
		typ = checksum.TypeComposite
		if alg == checksum.CRC64NVME {
			typ = checksum.TypeFullObject
		}
	case checksum.TypeComposite, checksum.TypeFullObject:
	default:
		return "", "", s3err.InvalidRequest.WithMessage("Value for x-amz-checksum-type header is invalid.")
	}
	if typ == checksum.TypeFullObject && !alg.Combinable() {
		return "", "", s3err.InvalidRequest.WithMessage(fmt.Sprintf("The %s checksum algorithm is not supported with the FULL_OBJECT checksum type.", alg))
	}
	if typ == checksum.TypeComposite && alg == checksum.CRC64NVME {
		return "", "", s3err.InvalidRequest.WithMessage("The CRC64NVME checksum algorithm is not supported with the COMPOSITE checksum type.")
	}
	return alg, typ, nil
}

// objectTemplate collects what a new object carries from its creating
// request's headers: content headers, metadata, tags and storage class
// (encryption is decided by newEncrypter, Object Lock by parseObjectLock,
// both against the bucket). CreateMultipartUpload stores it; Complete
// applies it to the object.
func objectTemplate(h http.Header, owner string) (*metapb.ObjectVersion, error) {
	userMeta, err := userMetadata(h)
	if err != nil {
		return nil, err
	}
	v := &metapb.ObjectVersion{
		ContentType:  contentType(h),
		Headers:      standardHeaders(h),
		UserMetadata: userMeta,
		StorageClass: storageClassStandard,
		Owner:        owner,
	}
	if sc := h.Get("x-amz-storage-class"); sc != "" {
		v.StorageClass = sc
	}
	if loc := h.Get("x-amz-website-redirect-location"); loc != "" {
		v.Headers["x-amz-website-redirect-location"] = loc
	}
	if tg := h.Get("x-amz-tagging"); tg != "" {
		if v.Tags, err = parseTaggingHeader(tg); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (g *Gateway) createMultipartUpload(ctx context.Context, w http.ResponseWriter, rq *request) error {
	alg, typ, err := uploadChecksum(rq.r.Header)
	if err != nil {
		return err
	}
	tmpl, err := objectTemplate(rq.r.Header, rq.owner)
	if err != nil {
		return err
	}
	tmpl.ChecksumType = typ
	if tmpl.StorageClass, _, err = g.storageClass(tmpl.StorageClass); err != nil {
		return err
	}
	bucket, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	// The object's owner and ACL are decided at create, as for a PUT.
	if tmpl.Owner, tmpl.Acl, err = g.objectOwnerAndACL(rq, bucket); err != nil {
		return err
	}
	lock, err := g.parseObjectLock(rq.r.Header, bucket)
	if err != nil {
		return err
	}
	if err := g.authorizeObjectLock(ctx, rq, lock, tmpl.Owner); err != nil {
		return err
	}
	lock.apply(tmpl)
	enc, err := g.newEncrypter(rq.r.Header, bucket)
	if err != nil {
		return err
	}
	tmpl.Encryption = enc.record()
	now := g.cfg.Now()
	up := &metapb.MultipartUpload{
		Bucket:            rq.bucket,
		Key:               rq.key,
		UploadId:          newVersionID(now),
		InitiatedUnixNano: now.UnixNano(),
		Template:          tmpl,
		ChecksumAlgorithm: string(alg),
		Initiator:         rq.owner,
	}
	if _, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_CreateMultipartUpload{CreateMultipartUpload: &metapb.CreateMultipartUpload{Upload: up}}}); err != nil {
		return err
	}
	hd := w.Header()
	if alg != "" {
		hd.Set("x-amz-checksum-algorithm", string(alg))
		hd.Set("x-amz-checksum-type", typ)
	}
	enc.setPutHeaders(hd)
	return writeXML(w, &s3xml.InitiateMultipartUploadResult{Bucket: rq.bucket, Key: rq.key, UploadID: up.UploadId})
}

// getUpload loads an upload with up to maxParts of its parts after marker.
func (g *Gateway) getUpload(ctx context.Context, rq *request, uploadID string, marker, maxParts uint32) (*metapb.GetMultipartUploadResponse, error) {
	return g.cfg.Meta.Upload(ctx, &metapb.GetMultipartUploadRequest{
		Bucket: rq.bucket, Key: rq.key, UploadId: uploadID, PartNumberMarker: marker, MaxParts: maxParts,
	})
}

// allParts loads an upload and every part of it, page by page.
func (g *Gateway) allParts(ctx context.Context, rq *request, uploadID string) (*metapb.MultipartUpload, map[uint32]*metapb.PartInfo, error) {
	parts := map[uint32]*metapb.PartInfo{}
	var marker uint32
	for {
		resp, err := g.getUpload(ctx, rq, uploadID, marker, maxListParts)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range resp.GetParts() {
			parts[p.GetNumber()] = p
			marker = p.GetNumber()
		}
		if !resp.GetTruncated() || len(resp.GetParts()) == 0 {
			return resp.GetUpload(), parts, nil
		}
	}
}

func parsePartNumber(q url.Values) (uint32, error) {
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > maxPartNumber {
		return 0, s3err.InvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive")
	}
	return uint32(n), nil
}

// checksumMismatch is the error of an UploadPart whose checksum differs
// from the upload's algorithm.
func checksumMismatch(want, got checksum.Algorithm) error {
	return s3err.InvalidRequest.WithMessage(fmt.Sprintf("Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
		strings.ToLower(string(want)), strings.ToLower(string(got))))
}

func (g *Gateway) uploadPart(ctx context.Context, w http.ResponseWriter, rq *request) error {
	r := rq.r
	q := r.URL.Query()
	n, err := parsePartNumber(q)
	if err != nil {
		return err
	}
	size, err := requestSize(r)
	if err != nil {
		return err
	}
	if size > maxPartSize {
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
	resp, err := g.getUpload(ctx, rq, q.Get("uploadId"), 0, 1)
	if err != nil {
		return err
	}
	upAlg := checksum.Algorithm(resp.GetUpload().GetChecksumAlgorithm())
	if sent != nil && upAlg != "" && sent.alg != upAlg {
		return checksumMismatch(upAlg, sent.alg)
	}
	if ta := trailerAlgorithm(r.Header); ta != "" && upAlg != "" && ta != upAlg {
		return checksumMismatch(upAlg, ta)
	}

	tmpl := resp.GetUpload().GetTemplate()
	_, profile, err := g.storageClass(tmpl.GetStorageClass())
	if err != nil {
		return err
	}
	enc, err := g.partEncrypter(r.Header, tmpl.GetEncryption())
	if err != nil {
		return err
	}
	// Parts always go to shards: a completed upload's parts are read
	// through the part records, which have no inline form.
	stored, err := g.writeVerified(ctx, rq, bodyWrite{
		src:     &exactReader{r: rq.auth.Body, remaining: size},
		size:    size,
		profile: profile,
		enc:     enc,
		algs:    []checksum.Algorithm{upAlg},
		wantMD5: wantMD5,
		sent:    sent,
	})
	if err != nil {
		return err
	}
	sums := map[string]string{}
	if upAlg != "" {
		sums[string(upAlg)] = stored.sums[string(upAlg)]
	}
	part := partInfo(n, stored, declaredSums(sums, sent, rq), enc, g.cfg.Now())
	if err := g.commitPart(ctx, rq, q.Get("uploadId"), part, stored.Body); err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", `"`+part.Etag+`"`)
	for alg, val := range sums {
		h.Set(checksum.Algorithm(alg).HeaderName(), val)
	}
	setEncryptionHeaders(h, tmpl.GetEncryption())
	w.WriteHeader(http.StatusOK)
	return nil
}

// trailerAlgorithm is the checksum an aws-chunked body announces in
// x-amz-trailer, if any.
func trailerAlgorithm(h http.Header) checksum.Algorithm {
	alg, ok := checksum.FromHeaderName(h.Get("x-amz-trailer"))
	if !ok {
		return ""
	}
	return alg
}

// compositeETag is S3's multipart ETag: the MD5 of the concatenated binary
// part MD5s, then "-" and the part count.
func compositeETag(etags []string) (string, error) {
	h := md5.New()
	for _, e := range etags {
		raw, err := hex.DecodeString(e)
		if err != nil || len(raw) != md5.Size {
			return "", fmt.Errorf("part etag %q is not an MD5", e)
		}
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(etags)), nil
}

func (g *Gateway) completeMultipartUpload(ctx context.Context, w http.ResponseWriter, rq *request) error {
	r := rq.r
	uploadID := r.URL.Query().Get("uploadId")
	var doc s3xml.CompleteMultipartUpload
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found || len(doc.Parts) == 0 {
		return s3err.MalformedXML
	}
	if len(doc.Parts) > maxPartNumber {
		return s3err.InvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive")
	}
	for i, p := range doc.Parts {
		if p.PartNumber < 1 || p.PartNumber > maxPartNumber {
			return s3err.InvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive")
		}
		if i > 0 && p.PartNumber <= doc.Parts[i-1].PartNumber {
			return s3err.InvalidPartOrder
		}
	}
	if _, err := g.getBucket(ctx, rq.bucket); err != nil {
		return err
	}
	up, stored, err := g.allParts(ctx, rq, uploadID)
	if err != nil {
		return g.completedBefore(ctx, w, rq, uploadID, err)
	}
	alg := checksum.Algorithm(up.GetChecksumAlgorithm())
	typ := up.GetTemplate().GetChecksumType()
	cmd := &metapb.CompleteMultipartUpload{
		Bucket: rq.bucket, Key: rq.key, UploadId: uploadID,
		MinPartSize: uint32(g.cfg.MinPartSize),
		IfNoneMatch: strings.TrimSpace(r.Header.Get("If-None-Match")) == "*",
		IfMatch:     strings.Trim(strings.TrimSpace(r.Header.Get("If-Match")), `"`),
	}
	var etags, values []string
	var crcs []checksum.Part
	for _, lp := range doc.Parts {
		etag := strings.Trim(strings.TrimSpace(lp.ETag), `"`)
		p, ok := stored[uint32(lp.PartNumber)]
		if !ok || p.GetEtag() != etag {
			return s3err.InvalidPart
		}
		cp := &metapb.CompletePart{Number: uint32(lp.PartNumber), Etag: etag, Checksums: lp.Checksums.Map()}
		for a, v := range cp.Checksums {
			if p.GetChecksums()[a] != v {
				return s3err.InvalidPart
			}
		}
		if alg != "" {
			v := p.GetChecksums()[string(alg)]
			if v == "" {
				return s3err.InvalidPart.WithMessage(fmt.Sprintf("The upload was created using the %s checksum algorithm, but part %d has no checksum of it.", alg, lp.PartNumber))
			}
			cp.Checksums[string(alg)] = v
			values = append(values, v)
			crcs = append(crcs, checksum.Part{Value: v, Size: p.GetSize()})
		}
		etags = append(etags, etag)
		cmd.Parts = append(cmd.Parts, cp)
	}
	etag, err := compositeETag(etags)
	if err != nil {
		return fmt.Errorf("complete %q: %w", uploadID, err)
	}
	sums := map[string]string{}
	if alg != "" {
		var sum string
		if typ == checksum.TypeFullObject {
			sum, err = checksum.FullObject(alg, crcs)
		} else {
			sum, err = checksum.Composite(alg, values)
		}
		if err != nil {
			return fmt.Errorf("complete %q: %w", uploadID, err)
		}
		// minio-go sends a composite checksum without its "-<parts>"
		// suffix; the value is what counts.
		if sent := r.Header.Get(alg.HeaderName()); sent != "" && sent != sum && sent+"-"+strconv.Itoa(len(values)) != sum {
			return s3err.BadDigest.WithMessage(fmt.Sprintf("The %s you specified did not match the calculated checksum.", alg))
		}
		sums[string(alg)] = sum
	}

	now := g.cfg.Now()
	v := proto.CloneOf(up.GetTemplate())
	if v == nil {
		v = &metapb.ObjectVersion{}
	}
	v.Bucket, v.Key, v.Etag, v.Checksums, v.ChecksumType = rq.bucket, rq.key, etag, sums, ""
	if alg != "" {
		v.ChecksumType = typ
	}
	v.MtimeUnixNano = now.UnixNano()
	// Always a fresh version ID: the state machine replaces it with "null"
	// unless versioning is enabled when the Complete commits, so a
	// concurrent PutBucketVersioning cannot make this one fail.
	v.VersionId = newVersionID(now)
	v.UploadId = uploadID
	cmd.Version = v
	res, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_CompleteMultipartUpload{CompleteMultipartUpload: cmd}})
	if err != nil {
		var me *s3err.MetaError
		if errors.As(err, &me) && me.Code == metapb.ErrorCode_ENTITY_TOO_SMALL {
			return s3err.EntityTooSmall
		}
		return g.completedBefore(ctx, w, rq, uploadID, err)
	}
	done := res.GetVersion()
	h := w.Header()
	setVersionHeader(h, done.GetVersionId())
	setEncryptionHeaders(h, done.GetEncryption())
	out := &s3xml.CompleteMultipartUploadResult{
		Location:  objectLocation(r, rq),
		Bucket:    rq.bucket,
		Key:       rq.key,
		ETag:      `"` + etag + `"`,
		Checksums: s3xml.ChecksumsFromMap(sums),
	}
	if alg != "" {
		out.ChecksumType = typ
	}
	return writeXML(w, out)
}

// completedBefore answers a CompleteMultipartUpload whose upload is gone
// (err is NoSuchUpload) as S3 does when the upload was completed: with the
// result of that completion, so that a client retrying a Complete whose
// answer it lost sees success. The window is as long as the version the
// upload created is the key's current version; once the key is
// overwritten or deleted, NoSuchUpload is the answer.
func (g *Gateway) completedBefore(ctx context.Context, w http.ResponseWriter, rq *request, uploadID string, err error) error {
	if !errors.Is(s3err.FromError(err), s3err.NoSuchUpload) || uploadID == "" {
		return err
	}
	v, lerr := g.lookupObject(ctx, rq, "")
	if lerr != nil || v.GetDeleteMarker() || v.GetUploadId() != uploadID {
		return err
	}
	h := w.Header()
	setVersionHeader(h, v.GetVersionId())
	setEncryptionHeaders(h, v.GetEncryption())
	out := &s3xml.CompleteMultipartUploadResult{
		Location:     objectLocation(rq.r, rq),
		Bucket:       rq.bucket,
		Key:          rq.key,
		ETag:         `"` + strings.Trim(v.GetEtag(), `"`) + `"`,
		Checksums:    s3xml.ChecksumsFromMap(v.GetChecksums()),
		ChecksumType: v.GetChecksumType(),
	}
	return writeXML(w, out)
}

// objectLocation is the URL of an object as Complete reports it.
func objectLocation(r *http.Request, rq *request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + rq.bucket + "/" + (&url.URL{Path: rq.key}).EscapedPath()
}

func (g *Gateway) abortMultipartUpload(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if _, err := g.getBucket(ctx, rq.bucket); err != nil {
		return err
	}
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_AbortMultipartUpload{AbortMultipartUpload: &metapb.AbortMultipartUpload{
		Bucket: rq.bucket, Key: rq.key, UploadId: rq.r.URL.Query().Get("uploadId"),
	}}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// nonNegative parses an optional non-negative integer query parameter.
func nonNegative(q url.Values, name string, def int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < 0 {
		return 0, s3err.InvalidArgument.WithMessage(fmt.Sprintf("Provided %s not an integer or within integer range", name))
	}
	return n, nil
}

func (g *Gateway) listParts(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	maxParts, err := nonNegative(q, "max-parts", maxListParts)
	if err != nil {
		return err
	}
	marker, err := nonNegative(q, "part-number-marker", 0)
	if err != nil {
		return err
	}
	uploadID := q.Get("uploadId")
	var resp *metapb.GetMultipartUploadResponse
	if maxParts == 0 {
		resp, err = g.getUpload(ctx, rq, uploadID, uint32(min(marker, maxPartNumber)), 1)
		if resp != nil {
			resp.Parts, resp.Truncated = nil, len(resp.Parts) > 0
		}
	} else {
		resp, err = g.getUpload(ctx, rq, uploadID, uint32(min(marker, maxPartNumber)), uint32(min(maxParts, maxListParts)))
	}
	if err != nil {
		return err
	}
	up := resp.GetUpload()
	tmpl := up.GetTemplate()
	out := &s3xml.ListPartsResult{
		Bucket:           rq.bucket,
		Key:              rq.key,
		UploadID:         uploadID,
		Initiator:        &s3xml.Initiator{ID: initiatorOf(up), DisplayName: g.ids.displayName(ctx, initiatorOf(up))},
		Owner:            g.ownerXML(ctx, tmpl.GetOwner()),
		StorageClass:     storageClassOf(tmpl),
		PartNumberMarker: marker,
		MaxParts:         maxParts,
		IsTruncated:      resp.GetTruncated(),
	}
	if a := up.GetChecksumAlgorithm(); a != "" {
		out.ChecksumAlgorithm, out.ChecksumType = a, tmpl.GetChecksumType()
	}
	for _, p := range resp.GetParts() {
		out.Parts = append(out.Parts, s3xml.Part{
			PartNumber:   int(p.GetNumber()),
			LastModified: s3xml.Time(time.Unix(0, p.GetMtimeUnixNano())),
			ETag:         `"` + p.GetEtag() + `"`,
			Size:         p.GetSize(),
			Checksums:    s3xml.ChecksumsFromMap(p.GetChecksums()),
		})
		out.NextPartNumberMarker = int(p.GetNumber())
	}
	return writeXML(w, out)
}

func storageClassOf(v *metapb.ObjectVersion) string {
	if sc := v.GetStorageClass(); sc != "" {
		return sc
	}
	return storageClassStandard
}

func (g *Gateway) listMultipartUploads(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	maxUploads, err := nonNegative(q, "max-uploads", maxListUploads)
	if err != nil {
		return err
	}
	urlEncode := false
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		urlEncode = true
	default:
		return s3err.InvalidArgument.WithMessage("Invalid Encoding Method specified in Request")
	}
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	if keyMarker == "" {
		// S3 ignores an upload-id-marker without a key-marker.
		idMarker = ""
	}
	out := &s3xml.ListMultipartUploadsResult{
		Bucket:         rq.bucket,
		KeyMarker:      keyMarker,
		UploadIDMarker: idMarker,
		Prefix:         q.Get("prefix"),
		Delimiter:      q.Get("delimiter"),
		MaxUploads:     maxUploads,
	}
	resp := &metapb.ListMultipartUploadsResponse{}
	if maxUploads == 0 {
		if _, err := g.getBucket(ctx, rq.bucket); err != nil {
			return err
		}
	} else {
		resp, err = g.cfg.Meta.ListUploads(ctx, &metapb.ListMultipartUploadsRequest{
			Bucket: rq.bucket, Prefix: out.Prefix, Delimiter: out.Delimiter,
			KeyMarker: keyMarker, UploadIdMarker: idMarker, MaxUploads: uint32(min(maxUploads, maxListUploads)),
		})
		if err != nil {
			return err
		}
	}
	enc := func(s string) string { return s }
	if urlEncode {
		out.EncodingType = "url"
		enc = func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
		out.KeyMarker, out.Prefix, out.Delimiter = enc(out.KeyMarker), enc(out.Prefix), enc(out.Delimiter)
	}
	out.IsTruncated = resp.GetTruncated()
	out.NextKeyMarker, out.NextUploadIDMarker = enc(resp.GetNextKeyMarker()), resp.GetNextUploadIdMarker()
	for _, u := range resp.GetUploads() {
		tmpl := u.GetTemplate()
		item := s3xml.Upload{
			Key:          enc(u.GetKey()),
			UploadID:     u.GetUploadId(),
			Initiator:    &s3xml.Initiator{ID: initiatorOf(u), DisplayName: g.ids.displayName(ctx, initiatorOf(u))},
			Owner:        g.ownerXML(ctx, tmpl.GetOwner()),
			StorageClass: storageClassOf(tmpl),
			Initiated:    s3xml.Time(time.Unix(0, u.GetInitiatedUnixNano())),
		}
		if a := u.GetChecksumAlgorithm(); a != "" {
			item.ChecksumAlgorithm, item.ChecksumType = a, tmpl.GetChecksumType()
		}
		out.Uploads = append(out.Uploads, item)
	}
	for _, cp := range resp.GetCommonPrefixes() {
		out.CommonPrefixes = append(out.CommonPrefixes, s3xml.CommonPrefix{Prefix: enc(cp)})
	}
	return writeXML(w, out)
}

// partRange serves GET/HEAD ?partNumber=N: the byte range of that part
// (the whole object is part 1 of a simple object), with the part count
// and, when asked for, the part's checksums.
func partRange(q url.Values, hd http.Header, v *metapb.ObjectVersion, h http.Header) (byteRange, error) {
	if hd.Get("Range") != "" {
		return byteRange{}, s3err.InvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter")
	}
	n, err := parsePartNumber(q)
	if err != nil {
		return byteRange{}, err
	}
	parts := v.GetParts()
	if len(parts) == 0 {
		if n != 1 || v.GetSize() == 0 {
			return byteRange{}, s3err.InvalidPartNumber
		}
		return byteRange{start: 0, length: v.GetSize()}, nil
	}
	off, size, ok := objio.PartRange(v, int(n))
	if !ok {
		return byteRange{}, s3err.InvalidPartNumber
	}
	h.Set("x-amz-mp-parts-count", strconv.Itoa(len(parts)))
	if strings.EqualFold(hd.Get("x-amz-checksum-mode"), "ENABLED") && v.GetChecksumType() == checksum.TypeComposite {
		for alg, val := range parts[n-1].GetChecksums() {
			if name := checksum.Algorithm(alg).HeaderName(); name != "" {
				h.Set(name, val)
			}
		}
	}
	return byteRange{start: off, length: size}, nil
}

// checksumType is the x-amz-checksum-type of a stored object.
func checksumType(v *metapb.ObjectVersion) string {
	if t := v.GetChecksumType(); t != "" {
		return t
	}
	return checksum.TypeFullObject
}

// readEncryptedParts serves an encrypted multipart object: every part is
// sealed under the upload's data key with a nonce of its own, so each part
// the range touches is decrypted on its own.
func (g *Gateway) readEncryptedParts(ctx context.Context, v *metapb.ObjectVersion, dec *decrypter, off, n int64, w io.Writer) error {
	end := off + n
	var base int64
	for _, p := range v.GetParts() {
		lo, hi := max(off, base), min(end, base+p.GetSize())
		if lo < hi {
			pd := dec
			if pe := p.GetEncryption(); pe != nil {
				pd = &decrypter{layout: sse.Layout{PackageSize: int(pe.GetPackageSize())}, dataKey: dec.dataKey, nonce: pe.GetNonce()}
			}
			if err := g.readBody(ctx, objio.PartVersion(v, p), pd, lo-base, hi-lo, w); err != nil {
				return fmt.Errorf("part %d: %w", p.GetNumber(), err)
			}
		}
		base += p.GetSize()
	}
	return nil
}

// initiatorOf is who started an upload; uploads recorded before the
// initiator was kept name their owner.
func initiatorOf(up *metapb.MultipartUpload) string {
	if id := up.GetInitiator(); id != "" {
		return id
	}
	return up.GetTemplate().GetOwner()
}
