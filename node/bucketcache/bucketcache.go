// Package bucketcache keeps a gateway's copy of the buckets it has read
// (their policy, ACL, versioning and lock settings ride in the bucket), so
// that a request does not pay a linearizable meta read — a consensus round
// trip on the leader — before its body.
//
// Imports: proto/metapb, gRPC and protobuf only; it never imports a role.
//
// # Why it is safe
//
// The cache is fed by Meta.WatchBuckets, a stream from the meta leader
// that sends a reset event once it has caught up with every commit before
// the stream opened, then one event after every applied entry that wrote
// a bucket or a user key, and a progress event at least every interval
// (node/meta/watch.go). The cache is dropped at every reset and every
// change, and a bucket is only stored if no drop happened between the
// lookup that missed and the store (a generation check), so a read that
// raced a change never installs what it read. While the stream is down,
// or silent for longer than Lease progress intervals, the cache is not
// used: every lookup misses and the gateway reads linearizably.
//
// What staleness remains: a change applied by the leader reaches the
// gateway one event delivery later (a network hop, normally well under a
// millisecond on a LAN), bounded by the lease (3 s by default) when the
// leader or the link hangs without closing the stream. What that allows:
//
//   - Object writes are unaffected. The commit (PutObject, DeleteObject,
//     multipart completion, ...) is a linearizable Raft command, and the
//     FSM checks the bucket inside it: that it exists, its versioning
//     state and its object-lock configuration are read from the FSM's own
//     state when the command applies. A PUT to a bucket deleted a moment
//     ago fails at commit with NoSuchBucket; its shards are collected.
//   - Authorization (bucket policy, ACL, public-access and ownership
//     settings) and the checks a handler makes before the body may use a
//     bucket up to that bound old: a policy or ACL change takes effect on
//     another gateway within the bound, not at the instant it returns.
//     The gateway that made the change drops its cache before answering,
//     so its own clients see it at once.
//
// Users are cached separately by the gateway (with a TTL); the same
// events drop that cache too (Cache.OnInvalidate).
//
// Lock order: Cache.mu is a leaf lock; callbacks run without it.
package bucketcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// Defaults for Config.
const (
	// DefaultLease is how many progress intervals without an event end the
	// cache's trust in itself.
	DefaultLease = 3
	// DefaultRetryMin and DefaultRetryMax bound the wait before a watch
	// is reopened.
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 5 * time.Second
	// DefaultMaxEntries bounds the cache; past it the cache starts over.
	DefaultMaxEntries = 10000
)

// ErrInvalidConfig marks a Config that cannot work.
var ErrInvalidConfig = errors.New("bucketcache: invalid config")

// Watcher opens the meta group's bucket watch; metaclient.Client does.
type Watcher interface {
	WatchBuckets(ctx context.Context, in *metapb.WatchBucketsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BucketsEvent], error)
}

// Config configures a Cache.
type Config struct {
	// Meta serves the watch. Required.
	Meta Watcher
	// Lease is in progress intervals (the leader says how long one is);
	// default DefaultLease.
	Lease int
	// RetryMin and RetryMax bound the backoff between watch attempts.
	RetryMin, RetryMax time.Duration
	// MaxEntries bounds the number of cached buckets.
	MaxEntries int
	// Logger; default discards.
	Logger *slog.Logger
	// Now is the lease clock; default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.RetryMin == 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate fills in defaults and reports a Config that cannot work.
func (c *Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Meta == nil:
		return fmt.Errorf("%w: Meta is nil", ErrInvalidConfig)
	case c.Lease < 1:
		return fmt.Errorf("%w: lease %d intervals", ErrInvalidConfig, c.Lease)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("%w: retry bounds %v..%v", ErrInvalidConfig, c.RetryMin, c.RetryMax)
	case c.MaxEntries < 1:
		return fmt.Errorf("%w: max entries %d", ErrInvalidConfig, c.MaxEntries)
	}
	return nil
}

// Cache is a watched bucket cache. It is safe for concurrent use.
type Cache struct {
	cfg Config

	mu struct {
		sync.Mutex
		gen     uint64    // bumped at every drop; 0 is never handed out
		live    bool      // a watch stream is open and has sent its reset
		until   time.Time // the lease: trusted until then
		buckets map[string]*metapb.Bucket
		hooks   []func()
	}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a cache that trusts nothing until Start's watch is up.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cache{cfg: cfg, cancel: func() {}}
	c.mu.gen = 1
	c.mu.buckets = map[string]*metapb.Bucket{}
	return c, nil
}

// Start runs the watch until Close.
func (c *Cache) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(ctx)
	}()
}

// Close stops the watch and waits for it.
func (c *Cache) Close() {
	c.cancel()
	c.wg.Wait()
}

// OnInvalidate registers f to run after every drop of the cache (the
// gateway's user cache follows the same events). Call it before Start.
func (c *Cache) OnInvalidate(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.hooks = append(c.mu.hooks, f)
}

// Lookup returns a copy of the cached bucket. On a miss it returns the generation to
// hand to Store with what the caller then reads linearizably; 0 means the
// cache is not in use (the watch is down or its lease lapsed) and Store
// will keep nothing.
func (c *Cache) Lookup(name string) (b *metapb.Bucket, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.trustedLocked() {
		return nil, 0, false
	}
	if b, ok := c.mu.buckets[name]; ok {
		// A copy: requests may change what they are given, and the
		// cached bucket is shared by all of them.
		return proto.CloneOf(b), 0, true
	}
	return nil, c.mu.gen, false
}

// Store caches b, read linearizably after a Lookup that returned gen,
// unless the cache was dropped since.
func (c *Cache) Store(name string, b *metapb.Bucket, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == 0 || gen != c.mu.gen || !c.trustedLocked() {
		return
	}
	if len(c.mu.buckets) >= c.cfg.MaxEntries {
		clear(c.mu.buckets)
	}
	c.mu.buckets[name] = proto.CloneOf(b)
}

// Invalidate drops the cache; the gateway calls it after proposing a
// command that may change a bucket, before it answers its client.
func (c *Cache) Invalidate() {
	c.drop(func() {})
}

func (c *Cache) trustedLocked() bool {
	return c.mu.live && c.cfg.Now().Before(c.mu.until)
}

// drop empties the cache and moves the generation under the lock, applies
// also (more state changes) there, then runs the hooks.
func (c *Cache) drop(also func()) {
	c.mu.Lock()
	c.mu.gen++
	clear(c.mu.buckets)
	also()
	hooks := c.mu.hooks
	c.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// run keeps a watch open until ctx ends.
func (c *Cache) run(ctx context.Context) {
	wait := c.cfg.RetryMin
	for ctx.Err() == nil {
		began, err := c.watch(ctx)
		c.drop(func() { c.mu.live = false })
		if ctx.Err() != nil {
			return
		}
		if began {
			wait = c.cfg.RetryMin
		}
		c.cfg.Logger.Debug("bucket watch ended; reads are linearizable until it is back", "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, c.cfg.RetryMax)
	}
}

// watch follows one stream until it fails; began tells whether it got as
// far as its reset event.
func (c *Cache) watch(ctx context.Context) (began bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.cfg.Meta.WatchBuckets(ctx, &metapb.WatchBucketsRequest{})
	if err != nil {
		return false, fmt.Errorf("bucketcache: open watch: %w", err)
	}
	// A stream that hangs without failing must not keep the cache alive:
	// the lease runs out on its own, and this timer ends the stream so it
	// is reopened.
	var silence *time.Timer
	defer func() {
		if silence != nil {
			silence.Stop()
		}
	}()
	var changed uint64
	for {
		ev, err := st.Recv()
		if err != nil {
			return began, fmt.Errorf("bucketcache: watch: %w", err)
		}
		lease := time.Duration(max(ev.GetProgressIntervalMs(), 1)) * time.Millisecond * time.Duration(c.cfg.Lease)
		if silence == nil {
			silence = time.AfterFunc(lease, cancel)
		} else {
			silence.Reset(lease)
		}
		until := c.cfg.Now().Add(lease)
		switch {
		case ev.GetReset_():
			began = true
			changed = ev.GetChangedIndex()
			c.drop(func() { c.mu.live, c.mu.until = true, until })
		case !began:
			return false, errors.New("bucketcache: watch: first event is not a reset")
		case ev.GetChangedIndex() != changed:
			changed = ev.GetChangedIndex()
			c.drop(func() { c.mu.until = until })
		default:
			c.mu.Lock()
			c.mu.until = until
			c.mu.Unlock()
		}
	}
}
