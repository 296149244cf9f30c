package gateway

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxListBuckets is the largest max-buckets AWS accepts.
const maxListBuckets = 10000

// listBucketsParams are ListBuckets' query parameters.
type listBucketsParams struct {
	max    int // 0: no limit
	after  string
	prefix string
	region string
}

// parseListBucketsParams reads max-buckets, continuation-token, prefix and
// bucket-region. The token is opaque to clients; it carries the last name
// listed, so a page starts after it whatever was created or deleted since.
func parseListBucketsParams(q url.Values) (listBucketsParams, error) {
	p := listBucketsParams{prefix: q.Get("prefix"), region: q.Get("bucket-region")}
	if q.Has("max-buckets") {
		n, err := strconv.Atoi(q.Get("max-buckets"))
		if err != nil || n < 1 || n > maxListBuckets {
			return p, s3err.InvalidArgument.WithMessage("Argument max-buckets must be an integer between 1 and 10000")
		}
		p.max = n
	}
	if tok := q.Get("continuation-token"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) == 0 {
			return p, s3err.InvalidArgument.WithMessage("The continuation token provided is incorrect")
		}
		p.after = string(raw)
	}
	return p, nil
}

func (g *Gateway) listBuckets(ctx context.Context, w http.ResponseWriter, rq *request) error {
	p, err := parseListBucketsParams(rq.r.URL.Query())
	if err != nil {
		return err
	}
	all, err := g.cfg.Meta.Buckets(ctx)
	if err != nil {
		return err
	}
	out := s3xml.ListAllMyBucketsResult{
		Owner:   s3xml.Owner{ID: rq.owner, DisplayName: rq.caller.Name},
		Buckets: s3xml.Buckets{Bucket: []s3xml.Bucket{}},
		Prefix:  p.prefix,
	}
	paged := p.max > 0 || rq.r.URL.Query().Has("continuation-token")
	if p.region != "" && p.region != g.cfg.Region {
		return writeXML(w, &out)
	}
	buckets := slices.Clone(all)
	slices.SortFunc(buckets, func(a, b *metapb.Bucket) int { return strings.Compare(a.GetName(), b.GetName()) })
	for _, b := range buckets {
		// Every caller, root included, lists the buckets it owns.
		if b.GetOwner() != rq.owner || !strings.HasPrefix(b.GetName(), p.prefix) || b.GetName() <= p.after {
			continue
		}
		if p.max > 0 && len(out.Buckets.Bucket) == p.max {
			last := out.Buckets.Bucket[len(out.Buckets.Bucket)-1].Name
			out.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		e := s3xml.Bucket{
			Name:         b.GetName(),
			CreationDate: s3xml.Time(time.Unix(0, b.GetCreatedUnixNano())),
		}
		if paged || p.prefix != "" || p.region != "" {
			// AWS reports the region only in the newer, paginated form.
			e.BucketRegion = g.cfg.Region
		}
		out.Buckets.Bucket = append(out.Buckets.Bucket, e)
	}
	return writeXML(w, &out)
}
