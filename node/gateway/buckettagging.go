package gateway

import (
	"context"
	"net/http"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxBucketTags is S3's limit of tags on one bucket.
const maxBucketTags = 50

func (g *Gateway) putBucketTagging(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var doc s3xml.Tagging
	found, err := readXMLBody(rq, &doc)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	tags, err := bucketTagsFromXML(doc)
	if err != nil {
		return err
	}
	if err := g.updateBucketTags(ctx, rq.bucket, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// bucketTagsFromXML validates a bucket's tag set: at most 50 tags, each as
// an object tag.
func bucketTagsFromXML(doc s3xml.Tagging) (map[string]string, error) {
	if len(doc.TagSet.Tag) > maxBucketTags {
		return nil, s3err.InvalidTag.WithMessage("Bucket tag count cannot be greater than 50")
	}
	list := make([]tagPair, 0, len(doc.TagSet.Tag))
	for _, t := range doc.TagSet.Tag {
		list = append(list, tagPair{t.Key, t.Value})
	}
	return tagMap(list)
}

func (g *Gateway) getBucketTagging(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	if len(b.GetTags()) == 0 {
		return s3err.NoSuchTagSet
	}
	out := s3xml.Tagging{Xmlns: s3xml.Namespace, TagSet: s3xml.TagSet{Tag: []s3xml.Tag{}}}
	for _, t := range sortedTags(b.GetTags()) {
		out.TagSet.Tag = append(out.TagSet.Tag, s3xml.Tag{Key: t.key, Value: t.value})
	}
	return writeXML(w, &out)
}

func (g *Gateway) deleteBucketTagging(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updateBucketTags(ctx, rq.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) updateBucketTags(ctx context.Context, bucket string, tags map[string]string) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: bucket, Tags: tags},
		Fields: []string{"tags"},
	}}})
	return err
}
