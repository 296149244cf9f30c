package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/node/bucketcache"
	"github.com/cairn-io/cairn/proto/metapb"
)

// liveWatch answers a watch with its reset event, then stays silent (the
// lease is an hour) until the stream's context ends.
type liveWatch struct {
	grpc.ClientStream
	ctx  context.Context
	sent bool
}

func (w *liveWatch) Recv() (*metapb.BucketsEvent, error) {
	if !w.sent {
		w.sent = true
		return &metapb.BucketsEvent{Reset_: true, ProgressIntervalMs: 3_600_000}, nil
	}
	<-w.ctx.Done()
	return nil, w.ctx.Err()
}

type watchedMeta struct {
	*bucketReadMeta
	opened chan struct{}
}

func (m *watchedMeta) WatchBuckets(ctx context.Context, _ *metapb.WatchBucketsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BucketsEvent], error) {
	select {
	case m.opened <- struct{}{}:
	default:
	}
	return &liveWatch{ctx: ctx}, nil
}

// TestBucketCacheAcrossRequests: with the watched cache, requests after
// the first read no bucket from the meta group; an object commit keeps the
// cache, a bucket change made through this gateway drops it before the
// change is acknowledged, so the next request sees it.
func TestBucketCacheAcrossRequests(t *testing.T) {
	meta := &watchedMeta{bucketReadMeta: &bucketReadMeta{fakeMeta: newFakeMeta()}, opened: make(chan struct{}, 1)}
	meta.addBucket("b", "o")
	bc, err := bucketcache.New(bucketcache.Config{Meta: meta})
	require.NoError(t, err)
	var forgotten atomic.Int32 // the user cache's hook
	bc.OnInvalidate(func() { forgotten.Add(1) })
	bc.Start()
	t.Cleanup(bc.Close)
	g := &Gateway{cfg: Config{Meta: meta, Buckets: bc}}
	<-meta.opened
	require.Eventually(t, func() bool { _, gen, _ := bc.Lookup("b"); return gen != 0 },
		10*time.Second, time.Millisecond, "the reset event never made the cache usable")
	request := func() *metapb.Bucket {
		t.Helper()
		b, err := g.getBucket(withBucketMemo(context.Background()), "b")
		require.NoError(t, err)
		return b
	}
	request()
	request()
	require.Equal(t, int64(1), meta.bucketReads.Load(), "second request read the bucket again")

	_, err = g.propose(context.Background(), &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{
		Version: &metapb.ObjectVersion{Bucket: "b", Key: "k", DataId: "d"}}}})
	require.NoError(t, err)
	request()
	require.Equal(t, int64(1), meta.bucketReads.Load(), "an object commit dropped the cache")

	_, err = g.propose(context.Background(), &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: "b", Policy: `{"Version":"2012-10-17","Statement":[]}`}, Fields: []string{"policy"},
	}}})
	require.NoError(t, err)
	require.Equal(t, int32(2), forgotten.Load(), "users not forgotten with the bucket change") // reset, then the change
	b := request()
	require.Equal(t, int64(2), meta.bucketReads.Load())
	require.Contains(t, b.GetPolicy(), "2012-10-17")
	request()
	require.Equal(t, int64(2), meta.bucketReads.Load())
}
