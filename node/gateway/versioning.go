package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// S3's names of the versioning states.
const (
	versioningEnabled   = "Enabled"
	versioningSuspended = "Suspended"
)

// versionIDLen is the length of the IDs newVersionID makes.
const versionIDLen = 32

// validVersionID reports whether id could name a version: "null" or an ID
// of the shape newVersionID makes. A malformed ID is a 400 InvalidArgument
// in S3, a well-formed unknown one a 404 NoSuchVersion.
func validVersionID(id string) bool {
	if id == nullVersion {
		return true
	}
	if len(id) != versionIDLen || strings.ToLower(id) != id {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// versionIDParam returns the versionId query parameter, checked; "" when
// the request names no version.
func versionIDParam(r *http.Request) (string, error) {
	q := r.URL.Query()
	if !q.Has("versionId") {
		return "", nil
	}
	id := q.Get("versionId")
	if !validVersionID(id) {
		return "", s3err.InvalidVersionID
	}
	return id, nil
}

// isMetaCode reports whether err is the meta service's answer code.
func isMetaCode(err error, code metapb.ErrorCode) bool {
	var me *s3err.MetaError
	return errors.As(err, &me) && me.Code == code
}

// writeConditions reads the conditional-write headers of a PUT: If-Match
// with an ETag, and If-None-Match, which S3 accepts only as "*".
func writeConditions(h http.Header) (ifMatch string, ifNoneMatch bool, err error) {
	if v := strings.TrimSpace(h.Get("If-None-Match")); v != "" {
		if v != "*" {
			return "", false, s3err.NotImplemented.WithMessage("A header you provided implies functionality that is not implemented: If-None-Match accepts only *")
		}
		ifNoneMatch = true
	}
	if v := strings.TrimSpace(h.Get("If-Match")); v != "" {
		if ifMatch = unquoteETag(v); ifMatch == "" || ifMatch == "*" {
			return "", false, s3err.NotImplemented.WithMessage("A header you provided implies functionality that is not implemented: If-Match needs an ETag")
		}
	}
	return ifMatch, ifNoneMatch, nil
}

// unquoteETag strips the quotes (and a weak marker) of an entity tag.
func unquoteETag(v string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(v), "W/"), `"`)
}

// latestDeleteMarker returns the newest version of the request's key when
// that is a delete marker, else nil. The current-version read does not tell
// a key that never existed from one whose latest version is a marker; S3
// answers the latter with x-amz-delete-marker, so a 404 looks here once.
func (g *Gateway) latestDeleteMarker(ctx context.Context, rq *request) (*metapb.ObjectVersion, error) {
	resp, err := g.cfg.Meta.ListVersions(ctx, &metapb.ListObjectVersionsRequest{
		Bucket: rq.bucket, Prefix: rq.key, MaxKeys: 1,
	})
	var me *s3err.MetaError
	if errors.As(err, &me) {
		// The 404 stands as it is.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	vs := resp.GetVersions()
	if len(vs) == 0 || vs[0].GetKey() != rq.key || !vs[0].GetDeleteMarker() {
		return nil, nil
	}
	return vs[0], nil
}

// noSuchKey is the 404 of a GET, HEAD or conditional PUT of a missing key,
// with x-amz-delete-marker when a marker hides the key.
func (g *Gateway) noSuchKey(ctx context.Context, w http.ResponseWriter, rq *request) error {
	m, err := g.latestDeleteMarker(ctx, rq)
	if err != nil {
		// The 404 stands; only its decoration is missing.
		g.log.Warn("look for delete marker", "request_id", rq.id, "err", err)
	}
	if m != nil {
		w.Header().Set("x-amz-delete-marker", "true")
		w.Header().Set("x-amz-version-id", m.GetVersionId())
	}
	return s3err.NoSuchKey
}

func (g *Gateway) getBucketVersioning(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	out := s3xml.VersioningConfiguration{}
	switch b.GetVersioning() {
	case metapb.VersioningState_VERSIONING_ENABLED:
		out.Status = versioningEnabled
	case metapb.VersioningState_VERSIONING_SUSPENDED:
		out.Status = versioningSuspended
	}
	return writeXML(w, &out)
}

func (g *Gateway) putBucketVersioning(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var conf s3xml.VersioningConfigurationRequest
	found, err := readXMLBody(rq, &conf)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	if m := conf.MfaDelete; m != nil && *m != "Disabled" {
		if *m != "Enabled" {
			return s3err.MalformedXML
		}
		return s3err.NotImplemented.WithMessage("MFA Delete is not supported.")
	}
	var state metapb.VersioningState
	switch {
	case conf.Status == nil:
		return s3err.IllegalVersioningConfig
	case *conf.Status == versioningEnabled:
		state = metapb.VersioningState_VERSIONING_ENABLED
	case *conf.Status == versioningSuspended:
		state = metapb.VersioningState_VERSIONING_SUSPENDED
	default:
		return s3err.MalformedXML
	}
	_, err = g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: rq.bucket, Versioning: state},
		Fields: []string{"versioning"},
	}}})
	if isMetaCode(err, metapb.ErrorCode_INVALID_ARGUMENT) {
		// The only refusal of a valid state: Object Lock needs versioning.
		return s3err.InvalidBucketState
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) listObjectVersions(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	if vidMarker != "" {
		if keyMarker == "" {
			return s3err.InvalidArgument.WithMessage("A version-id marker cannot be specified without a key marker.")
		}
		if !validVersionID(vidMarker) {
			return s3err.InvalidVersionID
		}
	}
	// The bucket's owner stands in for the owner of delete markers, whose
	// records carry none.
	bucket, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	resp := &metapb.ListObjectVersionsResponse{}
	// Meta treats max-keys 0 as the default page; S3 answers an empty one.
	if p.maxKeys > 0 {
		resp, err = g.cfg.Meta.ListVersions(ctx, &metapb.ListObjectVersionsRequest{
			Bucket:          rq.bucket,
			Prefix:          p.prefix,
			Delimiter:       p.delimiter,
			KeyMarker:       keyMarker,
			VersionIdMarker: vidMarker,
			MaxKeys:         uint32(p.maxKeys),
		})
		if isMetaCode(err, metapb.ErrorCode_INVALID_ARGUMENT) {
			return s3err.InvalidVersionID
		}
		if err != nil {
			return err
		}
	}
	enc := p.encoder()
	out := s3xml.ListVersionsResult{
		Name:            rq.bucket,
		Prefix:          enc(p.prefix),
		KeyMarker:       enc(keyMarker),
		VersionIDMarker: vidMarker,
		MaxKeys:         p.maxKeys,
		Delimiter:       enc(p.delimiter),
		IsTruncated:     resp.GetTruncated(),
		Entries:         make([]s3xml.VersionEntry, 0, len(resp.GetVersions())),
	}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	if resp.GetTruncated() {
		out.NextKeyMarker = enc(resp.GetNextKeyMarker())
		out.NextVersionIDMarker = resp.GetNextVersionIdMarker()
	}
	for _, v := range resp.GetVersions() {
		owner := v.GetOwner()
		if owner == "" {
			owner = bucket.GetOwner()
		}
		e := s3xml.VersionEntry{
			XMLName:      s3xml.VersionElement,
			Key:          enc(v.GetKey()),
			VersionID:    v.GetVersionId(),
			IsLatest:     v.GetIsLatest(),
			LastModified: s3xml.Time(time.Unix(0, v.GetMtimeUnixNano())),
			Owner:        &s3xml.Owner{ID: owner, DisplayName: owner},
		}
		if v.GetDeleteMarker() {
			e.XMLName = s3xml.DeleteMarkerElement
		} else {
			size := v.GetSize()
			e.Size = &size
			e.ETag = `"` + v.GetEtag() + `"`
			e.StorageClass = v.GetStorageClass()
			if e.StorageClass == "" {
				e.StorageClass = storageClassStandard
			}
			for alg := range v.GetChecksums() {
				e.ChecksumAlgorithm = append(e.ChecksumAlgorithm, alg)
			}
			sort.Strings(e.ChecksumAlgorithm)
		}
		out.Entries = append(out.Entries, e)
	}
	for _, cp := range resp.GetCommonPrefixes() {
		out.CommonPrefixes = append(out.CommonPrefixes, s3xml.CommonPrefix{Prefix: enc(cp)})
	}
	return writeXML(w, &out)
}
