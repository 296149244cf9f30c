package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// The attributes GetObjectAttributes can return.
const (
	attrETag         = "ETag"
	attrChecksum     = "Checksum"
	attrObjectParts  = "ObjectParts"
	attrStorageClass = "StorageClass"
	attrObjectSize   = "ObjectSize"
)

// defaultMaxAttrParts is how many parts a page lists by default.
const defaultMaxAttrParts = 1000

// attributesQuery is what a GetObjectAttributes request asks for.
type attributesQuery struct {
	attrs      map[string]bool
	maxParts   int
	partMarker int
}

// parseAttributesQuery reads x-amz-object-attributes (comma-separated,
// repeated headers allowed), x-amz-max-parts and x-amz-part-number-marker.
func parseAttributesQuery(h http.Header) (attributesQuery, error) {
	q := attributesQuery{attrs: map[string]bool{}, maxParts: defaultMaxAttrParts}
	for _, v := range h.Values("x-amz-object-attributes") {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			switch a {
			case attrETag, attrChecksum, attrObjectParts, attrStorageClass, attrObjectSize:
				q.attrs[a] = true
			default:
				return q, s3err.InvalidObjectAttributes
			}
		}
	}
	if len(q.attrs) == 0 {
		return q, s3err.InvalidRequest.WithMessage("The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	if s := h.Get("x-amz-max-parts"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, s3err.InvalidArgument.WithMessage("Provided max-parts not an integer or within integer range")
		}
		q.maxParts = min(n, defaultMaxAttrParts)
	}
	if s := h.Get("x-amz-part-number-marker"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, s3err.InvalidArgument.WithMessage("Provided part-number-marker not an integer or within integer range")
		}
		q.partMarker = n
	}
	return q, nil
}

func (g *Gateway) getObjectAttributes(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q, err := parseAttributesQuery(rq.r.Header)
	if err != nil {
		return err
	}
	versionID, err := versionIDParam(rq.r)
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
	h := w.Header()
	if v.GetDeleteMarker() {
		h.Set("x-amz-delete-marker", "true")
		h.Set("Last-Modified", time.Unix(0, v.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
		setVersionHeader(h, v.GetVersionId())
		return s3err.MethodNotAllowed
	}
	// An SSE-C object's attributes need its key, as its body does.
	if _, err := g.newDecrypter(rq.r.Header, v.GetEncryption()); err != nil {
		return err
	}
	h.Set("Last-Modified", time.Unix(0, v.GetMtimeUnixNano()).UTC().Format(http.TimeFormat))
	setVersionHeader(h, v.GetVersionId())
	return writeXML(w, objectAttributes(v, q))
}

// objectAttributes builds the answer for the attributes asked for.
func objectAttributes(v *metapb.ObjectVersion, q attributesQuery) *s3xml.GetObjectAttributesResponse {
	out := &s3xml.GetObjectAttributesResponse{}
	if q.attrs[attrETag] {
		out.ETag = strings.Trim(v.GetEtag(), `"`)
	}
	if q.attrs[attrChecksum] && len(v.GetChecksums()) > 0 {
		out.Checksum = &s3xml.AttributeChecksum{Checksums: s3xml.ChecksumsFromMap(v.GetChecksums()), ChecksumType: checksumType(v)}
	}
	if q.attrs[attrStorageClass] {
		out.StorageClass = v.GetStorageClass()
		if out.StorageClass == "" {
			out.StorageClass = "STANDARD"
		}
	}
	if q.attrs[attrObjectSize] {
		size := v.GetSize()
		out.ObjectSize = &size
	}
	if q.attrs[attrObjectParts] && len(v.GetParts()) > 0 {
		parts := v.GetParts()
		op := &s3xml.ObjectParts{
			TotalPartsCount:  len(parts),
			PartNumberMarker: q.partMarker,
			MaxParts:         q.maxParts,
			Parts:            []s3xml.ObjectPart{},
		}
		for _, p := range parts {
			if int(p.GetNumber()) <= q.partMarker {
				continue
			}
			if len(op.Parts) == q.maxParts {
				op.IsTruncated = true
				break
			}
			op.Parts = append(op.Parts, s3xml.ObjectPart{
				Checksums:  s3xml.ChecksumsFromMap(p.GetChecksums()),
				PartNumber: int(p.GetNumber()),
				Size:       p.GetSize(),
			})
			op.NextPartNumberMarker = int(p.GetNumber())
		}
		out.ObjectParts = op
	}
	return out
}
