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

// bucketLock is what CreateBucket's x-amz-bucket-object-lock-enabled asks.
type bucketLock bool

func objectLockRequested(h http.Header) (bucketLock, error) {
	v := strings.TrimSpace(h.Get("x-amz-bucket-object-lock-enabled"))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, s3err.InvalidArgument.WithMessage("x-amz-bucket-object-lock-enabled must be true or false")
	}
	return bucketLock(b), nil
}

// apply enables Object Lock, and with it versioning, on a new bucket.
func (l bucketLock) apply(b *metapb.Bucket) *metapb.Bucket {
	if l {
		b.ObjectLockEnabled = true
		b.Versioning = metapb.VersioningState_VERSIONING_ENABLED
	}
	return b
}

var errNoBucketLock = s3err.InvalidRequest.WithMessage("Bucket is missing Object Lock Configuration")

// lockBucket loads the request's bucket and requires Object Lock on it.
func (g *Gateway) lockBucket(ctx context.Context, rq *request) (*metapb.Bucket, error) {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return nil, err
	}
	if !b.GetObjectLockEnabled() {
		return nil, errNoBucketLock
	}
	return b, nil
}

func (g *Gateway) getObjectLockConfig(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if !b.GetObjectLockEnabled() {
		return s3err.ObjectLockConfigNotFound
	}
	out := s3xml.ObjectLockConfiguration{Xmlns: s3xml.Namespace, ObjectLockEnabled: "Enabled"}
	if dr := b.GetDefaultRetention(); dr.GetMode() != "" {
		r := &s3xml.DefaultRetention{Mode: dr.GetMode()}
		if dr.GetDays() > 0 {
			d := int(dr.GetDays())
			r.Days = &d
		}
		if dr.GetYears() > 0 {
			y := int(dr.GetYears())
			r.Years = &y
		}
		out.Rule = &s3xml.ObjectLockRule{DefaultRetention: r}
	}
	return writeXML(w, &out)
}

// parseObjectLockConfig checks a PutObjectLockConfiguration document and
// returns its default retention (nil without a rule).
func parseObjectLockConfig(c *s3xml.ObjectLockConfiguration) (*metapb.DefaultRetention, error) {
	if c.ObjectLockEnabled != "Enabled" {
		return nil, s3err.MalformedXML
	}
	if c.Rule == nil {
		return nil, nil
	}
	dr := c.Rule.DefaultRetention
	if dr == nil {
		return nil, s3err.MalformedXML
	}
	if _, err := parseLockMode(dr.Mode); err != nil {
		return nil, s3err.MalformedXML
	}
	if (dr.Days == nil) == (dr.Years == nil) {
		return nil, s3err.MalformedXML
	}
	out := &metapb.DefaultRetention{Mode: dr.Mode}
	switch {
	case dr.Days != nil && *dr.Days > 0 && *dr.Days <= 36500:
		out.Days = uint32(*dr.Days)
	case dr.Years != nil && *dr.Years > 0 && *dr.Years <= 100:
		out.Years = uint32(*dr.Years)
	default:
		// AWS's code for a period out of range (0, negative, or beyond
		// 100 years).
		return nil, s3err.InvalidRetentionPeriod
	}
	return out, nil
}

func (g *Gateway) putObjectLockConfig(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var conf s3xml.ObjectLockConfiguration
	found, err := readXMLBody(rq, &conf)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	dr, err := parseObjectLockConfig(&conf)
	if err != nil {
		return err
	}
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if !b.GetObjectLockEnabled() {
		return s3err.InvalidBucketState.WithMessage("Object Lock configuration cannot be enabled on existing buckets")
	}
	_, err = g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: rq.bucket, DefaultRetention: dr},
		Fields: []string{"default_retention"},
	}}})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// objectVersion loads the version a sub-resource request names. Delete
// markers have no sub-resources: S3 answers MethodNotAllowed.
func (g *Gateway) objectVersion(ctx context.Context, w http.ResponseWriter, rq *request) (*metapb.ObjectVersion, error) {
	v, err := g.lookupObject(ctx, rq, rq.r.URL.Query().Get("versionId"))
	if err != nil {
		return nil, err
	}
	if v.GetDeleteMarker() {
		w.Header().Set("x-amz-delete-marker", "true")
		setVersionHeader(w.Header(), v.GetVersionId())
		return nil, s3err.MethodNotAllowed
	}
	return v, nil
}

// updateObject proposes new values for fields of the requested version.
func (g *Gateway) updateObject(ctx context.Context, rq *request, values *metapb.ObjectVersion, bypass bool, fields ...string) (*metapb.ObjectVersion, error) {
	res, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateObject{UpdateObject: &metapb.UpdateObject{
		Bucket:           rq.bucket,
		Key:              rq.key,
		VersionId:        rq.r.URL.Query().Get("versionId"),
		Values:           values,
		Fields:           fields,
		BypassGovernance: bypass,
	}}})
	if err != nil {
		return nil, err
	}
	return res.GetVersion(), nil
}

func (g *Gateway) getObjectRetention(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if _, err := g.lockBucket(ctx, rq); err != nil {
		return err
	}
	v, err := g.objectVersion(ctx, w, rq)
	if err != nil {
		return err
	}
	if v.GetLockMode() == "" {
		return s3err.NoSuchObjectLockConfig
	}
	return writeXML(w, &s3xml.Retention{
		Xmlns:           s3xml.Namespace,
		Mode:            v.GetLockMode(),
		RetainUntilDate: lockDate(v.GetLockRetainUntilUnixNano()),
	})
}

// parseRetention checks a PutObjectRetention document. An empty one
// removes the retention (GOVERNANCE with the bypass only).
func parseRetention(r *s3xml.Retention, now time.Time) (*metapb.ObjectVersion, error) {
	if r.Mode == "" && r.RetainUntilDate == "" {
		return &metapb.ObjectVersion{}, nil
	}
	if r.Mode == "" || r.RetainUntilDate == "" {
		return nil, s3err.MalformedXML
	}
	if _, err := parseLockMode(r.Mode); err != nil {
		return nil, s3err.MalformedXML
	}
	until, err := parseRetainUntil(r.RetainUntilDate, now)
	if err != nil {
		return nil, err
	}
	return &metapb.ObjectVersion{LockMode: r.Mode, LockRetainUntilUnixNano: until.UnixNano()}, nil
}

func (g *Gateway) putObjectRetention(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var doc s3xml.Retention
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	values, err := parseRetention(&doc, g.cfg.Now())
	if err != nil {
		return err
	}
	bypass, err := parseBypassGovernance(rq.r.Header)
	if err != nil {
		return err
	}
	if bypass, err = g.mayBypassGovernance(ctx, rq, bypass, rq.key, rq.r.URL.Query().Get("versionId")); err != nil {
		return err
	}
	if _, err := g.lockBucket(ctx, rq); err != nil {
		return err
	}
	if _, err := g.objectVersion(ctx, w, rq); err != nil {
		return err
	}
	if _, err := g.updateObject(ctx, rq, values, bypass, "retention"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) getObjectLegalHold(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if _, err := g.lockBucket(ctx, rq); err != nil {
		return err
	}
	v, err := g.objectVersion(ctx, w, rq)
	if err != nil {
		return err
	}
	status := legalHoldOff
	if v.GetLegalHold() {
		status = legalHoldOn
	}
	return writeXML(w, &s3xml.LegalHold{Xmlns: s3xml.Namespace, Status: status})
}

func (g *Gateway) putObjectLegalHold(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var doc s3xml.LegalHold
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	hold, err := parseLegalHold(doc.Status)
	if err != nil {
		return s3err.MalformedXML
	}
	if _, err := g.lockBucket(ctx, rq); err != nil {
		return err
	}
	if _, err := g.objectVersion(ctx, w, rq); err != nil {
		return err
	}
	if _, err := g.updateObject(ctx, rq, &metapb.ObjectVersion{LegalHold: hold}, false, "legal_hold"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) getObjectTagging(ctx context.Context, w http.ResponseWriter, rq *request) error {
	v, err := g.objectVersion(ctx, w, rq)
	if err != nil {
		return err
	}
	out := s3xml.Tagging{Xmlns: s3xml.Namespace, TagSet: s3xml.TagSet{Tag: []s3xml.Tag{}}}
	for _, t := range sortedTags(v.GetTags()) {
		out.TagSet.Tag = append(out.TagSet.Tag, s3xml.Tag{Key: t.key, Value: t.value})
	}
	setVersionHeader(w.Header(), v.GetVersionId())
	return writeXML(w, &out)
}

func (g *Gateway) putObjectTagging(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var doc s3xml.Tagging
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	list := make([]tagPair, 0, len(doc.TagSet.Tag))
	for _, t := range doc.TagSet.Tag {
		list = append(list, tagPair{t.Key, t.Value})
	}
	tags, err := checkTags(list)
	if err != nil {
		return err
	}
	if _, err := g.objectVersion(ctx, w, rq); err != nil {
		return err
	}
	v, err := g.updateObject(ctx, rq, &metapb.ObjectVersion{Tags: tags}, false, "tags")
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.GetVersionId())
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) deleteObjectTagging(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if _, err := g.objectVersion(ctx, w, rq); err != nil {
		return err
	}
	v, err := g.updateObject(ctx, rq, &metapb.ObjectVersion{}, false, "tags")
	if err != nil {
		return err
	}
	setVersionHeader(w.Header(), v.GetVersionId())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
