package gateway

import (
	"context"
	"errors"
	"sync"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// requestMemo remembers, for the length of one request, the buckets and
// object versions read from the meta group. Authorization and the handler
// both need the bucket (and object-lock and governance checks may ask
// again), and a user's GET or HEAD needs the version both to authorize
// (its owner, ACL and tags) and to serve it; without the memo each paid
// a second linearizable meta read, and the version served could differ
// from the one authorized. A proposal forgets everything.
type requestMemo struct {
	mu      sync.Mutex
	buckets map[string]*metapb.Bucket
	objects map[objectRef]objectLookup
}

// objectRef names what an object read asked for; versionID "" is the
// current version.
type objectRef struct{ bucket, key, versionID string }

// objectLookup is the meta group's answer: a version or an answer code
// (as an *s3err.MetaError). Failed calls are not remembered.
type objectLookup struct {
	v   *metapb.ObjectVersion
	err error
}

type bucketMemoKey struct{}

// withBucketMemo gives ctx a fresh, empty memo.
func withBucketMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, bucketMemoKey{}, &requestMemo{
		buckets: map[string]*metapb.Bucket{},
		objects: map[objectRef]objectLookup{},
	})
}

func memoOf(ctx context.Context) *requestMemo {
	m, _ := ctx.Value(bucketMemoKey{}).(*requestMemo)
	return m
}

func (m *requestMemo) get(name string) (*metapb.Bucket, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.buckets[name]
	return b, ok
}

func (m *requestMemo) put(name string, b *metapb.Bucket) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buckets[name] = b
}

func (m *requestMemo) object(ref objectRef) (objectLookup, bool) {
	if m == nil {
		return objectLookup{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.objects[ref]
	return l, ok
}

func (m *requestMemo) putObject(ref objectRef, l objectLookup) {
	var me *s3err.MetaError
	if m == nil || (l.err != nil && !errors.As(l.err, &me)) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[ref] = l
}

// forget drops what the request remembered: a command it proposed may
// have changed a bucket or an object.
func (m *requestMemo) forget() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.buckets)
	clear(m.objects)
}
