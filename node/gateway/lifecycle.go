package gateway

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"strings"

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
		if r.Expiration == nil && r.AbortIncompleteMultipartUpload == nil {
			return nil, s3err.MalformedXML.WithMessage("At least one action needs to be specified in a rule")
		}
		rule := &metapb.LifecycleRule{Id: r.ID, Enabled: r.Status == "Enabled"}
		switch {
		case r.Prefix != nil && r.Filter != nil:
			return nil, s3err.MalformedXML
		case r.Prefix != nil:
			rule.Prefix = *r.Prefix
		case r.Filter != nil && r.Filter.Prefix != nil:
			rule.Prefix = *r.Filter.Prefix
		case r.Filter != nil && r.Filter.And != nil && r.Filter.And.Prefix != nil:
			rule.Prefix = *r.Filter.And.Prefix
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			if a.DaysAfterInitiation <= 0 {
				return nil, s3err.InvalidArgument.WithMessage("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
			}
			rule.AbortIncompleteMultipartDays = uint32(a.DaysAfterInitiation)
		}
		if e := r.Expiration; e != nil {
			if e.Days <= 0 {
				return nil, s3err.InvalidArgument.WithMessage("'Days' for Expiration action must be a positive integer")
			}
			rule.ExpirationDays = uint32(e.Days)
		}
		out = append(out, rule)
	}
	return out, nil
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
