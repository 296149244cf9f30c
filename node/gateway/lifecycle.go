package gateway

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxLifecycleRules is S3's limit on the rules of one configuration.
const maxLifecycleRules = 1000

// lifecycleResult is the GET answer: the stored configuration under the
// S3 namespace.
type lifecycleResult struct {
	XMLName xml.Name              `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LifecycleConfiguration"`
	Rules   []s3xml.LifecycleRule `xml:"Rule"`
}

// lifecycleRules checks a configuration and returns the rules the meta
// group acts on.
func lifecycleRules(doc *s3xml.LifecycleConfiguration) ([]*metapb.LifecycleRule, error) {
	if len(doc.Rules) == 0 || len(doc.Rules) > maxLifecycleRules {
		return nil, s3err.MalformedXML
	}
	ids := map[string]bool{}
	var out []*metapb.LifecycleRule
	for _, r := range doc.Rules {
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return nil, s3err.MalformedXML
		}
		if r.ID != "" && ids[r.ID] {
			return nil, s3err.InvalidArgument.WithMessage("Rule ID must be unique. Found same ID for more than one rule")
		}
		ids[r.ID] = true
		if len(r.ID) > 255 {
			return nil, s3err.InvalidArgument.WithMessage("ID length should not exceed allowed limit of 255")
		}
		if r.Expiration == nil && r.AbortIncompleteMultipartUpload == nil && r.NoncurrentVersionExpiration == nil {
			return nil, s3err.MalformedXML.WithMessage("At least one action needs to be specified in a rule")
		}
		rule := &metapb.LifecycleRule{Id: r.ID, Enabled: r.Status == "Enabled"}
		if r.Prefix != nil && r.Filter != nil {
			return nil, s3err.MalformedXML
		}
		if r.Prefix != nil {
			rule.Prefix = *r.Prefix
		}
		if err := lifecycleFilter(r.Filter, rule); err != nil {
			return nil, err
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			if a.DaysAfterInitiation <= 0 {
				return nil, s3err.InvalidArgument.WithMessage("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
			}
			if len(rule.Tags) > 0 || rule.ObjectSizeGreaterThan > 0 || rule.ObjectSizeLessThan > 0 {
				return nil, s3err.InvalidRequest.WithMessage("AbortIncompleteMultipartUpload cannot be specified with Tags.")
			}
			rule.AbortIncompleteMultipartDays = uint32(a.DaysAfterInitiation)
		}
		if e := r.Expiration; e != nil {
			if err := lifecycleExpiration(e, rule); err != nil {
				return nil, err
			}
		}
		if n := r.NoncurrentVersionExpiration; n != nil {
			if n.NoncurrentDays <= 0 {
				return nil, s3err.InvalidArgument.WithMessage("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
			}
			if n.NewerNoncurrentVersions < 0 || n.NewerNoncurrentVersions > 100 {
				return nil, s3err.InvalidArgument.WithMessage("'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to 100")
			}
			rule.NoncurrentDays = uint32(n.NoncurrentDays)
			rule.NewerNoncurrentVersions = uint32(n.NewerNoncurrentVersions)
		}
		out = append(out, rule)
	}
	return out, nil
}

// lifecycleExpiration checks an Expiration action: exactly one of Days,
// Date (at midnight UTC) and ExpiredObjectDeleteMarker.
func lifecycleExpiration(e *s3xml.LifecycleExpiration, rule *metapb.LifecycleRule) error {
	n := 0
	for _, present := range []bool{e.Days != nil, e.Date != nil, e.ExpiredObjectDeleteMarker != nil} {
		if present {
			n++
		}
	}
	switch {
	case n == 0:
		return s3err.MalformedXML.WithMessage("At least one of Days, Date or ExpiredObjectDeleteMarker must be specified in an Expiration action")
	case n > 1 && e.ExpiredObjectDeleteMarker != nil:
		return s3err.InvalidArgument.WithMessage("ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy.")
	case n > 1:
		return s3err.MalformedXML
	case e.Days != nil && *e.Days <= 0:
		return s3err.InvalidArgument.WithMessage("'Days' for Expiration action must be a positive integer")
	}
	switch {
	case e.Days != nil:
		rule.ExpirationDays = uint32(*e.Days)
	case e.Date != nil:
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(*e.Date))
		if err != nil {
			return s3err.InvalidArgument.WithMessage("Invalid date: the date must be in ISO 8601 format.")
		}
		if t = t.UTC(); !t.Equal(t.Truncate(24 * time.Hour)) {
			return s3err.InvalidArgument.WithMessage("'Date' must be at midnight GMT")
		}
		rule.ExpirationDateUnix = t.Unix()
	case e.ExpiredObjectDeleteMarker != nil:
		if *e.ExpiredObjectDeleteMarker && len(rule.Tags) > 0 {
			return s3err.InvalidArgument.WithMessage("ExpiredObjectDeleteMarker cannot be specified with Tags.")
		}
		rule.ExpiredObjectDeleteMarker = *e.ExpiredObjectDeleteMarker
	}
	return nil
}

// lifecycleFilter reads a rule's Filter: a prefix, a tag, size bounds, or
// several of them under And.
func lifecycleFilter(f *s3xml.LifecycleFilter, rule *metapb.LifecycleRule) error {
	if f == nil {
		return nil
	}
	set := 0
	for _, present := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
		if present {
			set++
		}
	}
	if set > 1 {
		return s3err.MalformedXML.WithMessage("Filter can only have one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And")
	}
	prefix, tags, gt, lt := f.Prefix, []s3xml.Tag(nil), f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
	if f.Tag != nil {
		tags = []s3xml.Tag{*f.Tag}
	}
	if a := f.And; a != nil {
		prefix, tags, gt, lt = a.Prefix, a.Tags, a.ObjectSizeGreaterThan, a.ObjectSizeLessThan
	}
	if prefix != nil {
		rule.Prefix = *prefix
	}
	if len(tags) > 0 {
		rule.Tags = map[string]string{}
		for _, t := range tags {
			if _, dup := rule.Tags[t.Key]; dup {
				return s3err.InvalidArgument.WithMessage("Duplicate Tag Keys are not allowed.")
			}
			rule.Tags[t.Key] = t.Value
		}
	}
	if gt != nil {
		if *gt < 0 {
			return s3err.InvalidArgument.WithMessage("'ObjectSizeGreaterThan' should be a non-negative integer")
		}
		rule.ObjectSizeGreaterThan = *gt
	}
	if lt != nil {
		if *lt <= 0 {
			return s3err.InvalidArgument.WithMessage("'ObjectSizeLessThan' has to be a positive integer")
		}
		rule.ObjectSizeLessThan = *lt
	}
	if gt != nil && lt != nil && *gt >= *lt {
		return s3err.InvalidArgument.WithMessage("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
	}
	return nil
}

func (g *Gateway) putBucketLifecycle(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var doc s3xml.LifecycleConfiguration
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	rules, err := lifecycleRules(&doc)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s3xml.Encode(&buf, &lifecycleResult{Rules: doc.Rules}); err != nil {
		return err
	}
	if err := g.updateLifecycle(ctx, rq.bucket, buf.String(), rules); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (g *Gateway) updateLifecycle(ctx context.Context, bucket, doc string, rules []*metapb.LifecycleRule) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: bucket, LifecycleXml: doc, LifecycleRules: rules},
		Fields: []string{"lifecycle"},
	}}})
	return err
}

func (g *Gateway) getBucketLifecycle(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if b.GetLifecycleXml() == "" {
		return s3err.NoSuchLifecycleConfiguration
	}
	var doc s3xml.LifecycleConfiguration
	if err := s3xml.Decode(strings.NewReader(b.GetLifecycleXml()), &doc); err != nil {
		return err
	}
	return writeXML(w, &lifecycleResult{Rules: doc.Rules})
}

func (g *Gateway) deleteBucketLifecycle(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updateLifecycle(ctx, rq.bucket, "", nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
