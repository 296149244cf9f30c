package gateway

import (
	"context"
	"sync"

	"github.com/cairn-io/cairn/proto/metapb"
)

// bucketMemo remembers, for the length of one request, the buckets read
// from the meta group. Authorization and the handler both need the bucket
// (and object-lock and governance checks may ask again); without the memo a
// user's PUT paid two or more linearizable meta reads before its body.
type bucketMemo struct {
	mu      sync.Mutex
	buckets map[string]*metapb.Bucket
}

type bucketMemoKey struct{}

// withBucketMemo gives ctx a fresh, empty memo.
func withBucketMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, bucketMemoKey{}, &bucketMemo{buckets: map[string]*metapb.Bucket{}})
}

func memoOf(ctx context.Context) *bucketMemo {
	m, _ := ctx.Value(bucketMemoKey{}).(*bucketMemo)
	return m
}

func (m *bucketMemo) get(name string) (*metapb.Bucket, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[name]
	return b, ok
}

func (m *bucketMemo) put(name string, b *metapb.Bucket) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buckets[name] = b
}

// forget drops what the request remembered: a command it proposed may
// have changed a bucket.
func (m *bucketMemo) forget() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.buckets)
}
