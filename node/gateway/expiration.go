package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/cairn-io/cairn/node/lifecycle"
	"github.com/cairn-io/cairn/proto/metapb"
)

// setExpiration adds x-amz-expiration, as S3 does on PUT, GET and HEAD,
// when a lifecycle rule of bucket b will expire v, the current version:
// when, and which rule.
func (g *Gateway) setExpiration(h http.Header, b *metapb.Bucket, v *metapb.ObjectVersion) {
	if len(b.GetLifecycleRules()) == 0 {
		return
	}
	when, id := lifecycle.CurrentExpiry(b.GetLifecycleRules(), v, g.cfg.LifecycleDay)
	if when.IsZero() {
		return
	}
	h.Set("x-amz-expiration", fmt.Sprintf("expiry-date=%q, rule-id=%q", when.UTC().Format(http.TimeFormat), id))
}

// defaultLifecycleDay is the length of a lifecycle day unless a test
// shortens it.
const defaultLifecycleDay = 24 * time.Hour
