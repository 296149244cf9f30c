package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// Defaults applied by Config.Validate.
const (
	DefaultDay   = 24 * time.Hour
	DefaultRate  = 100
	DefaultBatch = 1000
	// listPage bounds one listing call.
	listPage = 1000
)

// ErrInvalidConfig marks a Config that Validate rejects.
var ErrInvalidConfig = errors.New("lifecycle: invalid config")

// Store is the worker's view of the metadata: the leader's committed
// state, and Raft for the commands it decides on.
type Store interface {
	ListBuckets(ctx context.Context) ([]*metapb.Bucket, error)
	ListObjectVersions(ctx context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error)
	Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error)
}

// Config configures a Worker.
type Config struct {
	Store Store
	// Day is how long a lifecycle "day" lasts; default DefaultDay. Shorter
	// days are for tests only: they make expiration observable in seconds.
	Day time.Duration
	// Rate bounds the expirations proposed per second; default
	// DefaultRate, negative unlimited.
	Rate float64
	// Batch bounds the versions scanned per Round; default DefaultBatch.
	Batch int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default discards.
	Logger *slog.Logger
	// sleep waits between proposals to keep to Rate; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Validate fills in defaults and reports an invalid configuration.
func (c *Config) Validate() error {
	if c.Store == nil {
		return fmt.Errorf("%w: no store", ErrInvalidConfig)
	}
	if c.Day == 0 {
		c.Day = DefaultDay
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.Day < 0 || c.Batch < 0 {
		return fmt.Errorf("%w: day %v, batch %d", ErrInvalidConfig, c.Day, c.Batch)
	}
	return nil
}

// Stats counts what rounds did.
type Stats struct {
	Scanned int
	// Expired counts the commands that committed; Refused those the state
	// machine refused (Object Lock, or the object changed since the scan).
	Expired, Refused int
}

// Worker scans versions and expires what the rules say. It is not safe for
// concurrent use: one goroutine, the leader's, calls Round.
type Worker struct {
	cfg  Config
	last time.Time // of the previous proposal, for Rate

	// The pass in progress: the buckets still to scan, the position in
	// the first, and what the scan knows of the key it is in.
	pending       []string
	keyMarker     string
	versionMarker string
	key           keyState
}

// keyState is what deciding on a version needs to know about the newer
// versions of its key, which earlier pages may have listed.
type keyState struct {
	key string
	// newer is the next newer version: when it was written, the version
	// after it stopped being current.
	newer *metapb.ObjectVersion
	// noncurrent counts the noncurrent versions seen; versions counts all.
	noncurrent, versions int
	// marker is the current version when it is a delete marker.
	marker *metapb.ObjectVersion
}

// New returns a Worker for cfg.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg}, nil
}

// Round scans up to Batch versions, from where the last round stopped,
// and expires what the rules say. A pass over every bucket with
// expiration rules takes as many rounds as it needs; the next round after
// it starts a new pass.
func (w *Worker) Round(ctx context.Context) (Stats, error) {
	var st Stats
	buckets, err := w.cfg.Store.ListBuckets(ctx)
	if err != nil {
		return st, fmt.Errorf("lifecycle: list buckets: %w", err)
	}
	byName := map[string]*metapb.Bucket{}
	for _, b := range buckets {
		if hasExpiration(b.GetLifecycleRules()) {
			byName[b.GetName()] = b
		}
	}
	if len(w.pending) == 0 {
		for _, b := range buckets {
			if byName[b.GetName()] != nil {
				w.pending = append(w.pending, b.GetName())
			}
		}
	}
	for len(w.pending) > 0 && st.Scanned < w.cfg.Batch {
		b := byName[w.pending[0]]
		if b == nil {
			// Deleted, or its rules were, since the pass began.
			w.nextBucket()
			continue
		}
		resp, err := w.cfg.Store.ListObjectVersions(ctx, &metapb.ListObjectVersionsRequest{
			Bucket: b.GetName(), KeyMarker: w.keyMarker, VersionIdMarker: w.versionMarker,
			MaxKeys: uint32(min(listPage, w.cfg.Batch-st.Scanned)),
		})
		if err != nil {
			// The marker may name a version removed since (by a client, or
			// a sole delete marker by this worker): the bucket is scanned
			// again from its start next round, which decides the same.
			w.keyMarker, w.versionMarker, w.key = "", "", keyState{}
			return st, fmt.Errorf("lifecycle: list versions of %q: %w", b.GetName(), err)
		}
		if c := resp.GetCode(); c != metapb.ErrorCode_OK {
			w.nextBucket()
			continue
		}
		// The next page starts after the last version this one kept: one
		// the worker deleted cannot be a marker.
		keptKey, keptVersion := w.keyMarker, w.versionMarker
		for _, v := range resp.GetVersions() {
			st.Scanned++
			deleted, err := w.visit(ctx, b, v, &st)
			if err != nil {
				return st, err
			}
			if !deleted {
				keptKey, keptVersion = v.GetKey(), v.GetVersionId()
			}
		}
		if !resp.GetTruncated() {
			if err := w.finishKey(ctx, b, &st); err != nil {
				return st, err
			}
			w.nextBucket()
			continue
		}
		w.keyMarker, w.versionMarker = keptKey, keptVersion
	}
	return st, nil
}

func (w *Worker) nextBucket() {
	w.pending = w.pending[1:]
	w.keyMarker, w.versionMarker = "", ""
	w.key = keyState{}
}

// visit decides on one version, listed key by key, newest first, and
// reports whether it deleted it for good.
func (w *Worker) visit(ctx context.Context, b *metapb.Bucket, v *metapb.ObjectVersion, st *Stats) (bool, error) {
	if v.GetKey() != w.key.key || w.key.versions == 0 {
		if err := w.finishKey(ctx, b, st); err != nil {
			return false, err
		}
		w.key = keyState{key: v.GetKey()}
	}
	k := &w.key
	k.versions++
	rules := b.GetLifecycleRules()
	now := w.cfg.Now()
	deleted := false
	switch {
	case k.newer == nil && v.GetDeleteMarker():
		k.marker = v
	case k.newer == nil:
		if t, _ := CurrentExpiry(rules, v, w.cfg.Day); !t.IsZero() && !now.Before(t) {
			// Hidden behind a marker or removed: either way, not a
			// version the next page can start after when removed.
			ok, err := w.expireCurrent(ctx, v, st)
			if err != nil {
				return false, err
			}
			deleted = ok && b.GetVersioning() == metapb.VersioningState_VERSIONING_UNVERSIONED
		}
	default:
		since := time.Unix(0, k.newer.GetMtimeUnixNano())
		if noncurrentExpired(rules, v, since, k.noncurrent, now, w.cfg.Day) {
			ok, err := w.deleteVersion(ctx, v, st)
			if err != nil {
				return false, err
			}
			deleted = ok
		}
		k.noncurrent++
	}
	k.newer = v
	return deleted, nil
}

// finishKey removes the key's delete marker if it was its only version.
func (w *Worker) finishKey(ctx context.Context, b *metapb.Bucket, st *Stats) error {
	k := w.key
	if k.marker == nil || k.versions != 1 || !markerExpired(b.GetLifecycleRules(), k.marker) {
		return nil
	}
	_, err := w.deleteVersion(ctx, k.marker, st)
	return err
}

// expireCurrent deletes the current version as a client's DELETE without
// a version would: removed in an unversioned bucket, hidden behind a new
// delete marker in a versioned one. If-Match keeps it from deleting a
// version written since the scan.
func (w *Worker) expireCurrent(ctx context.Context, v *metapb.ObjectVersion, st *Stats) (bool, error) {
	now := w.cfg.Now()
	return w.propose(ctx, st, &metapb.DeleteObject{
		Bucket: v.GetBucket(), Key: v.GetKey(), MtimeUnixNano: now.UnixNano(),
		MarkerVersionId: newVersionID(now), IfMatch: v.GetEtag(),
	})
}

// deleteVersion removes one version for good, unless Object Lock protects
// it (the state machine refuses).
func (w *Worker) deleteVersion(ctx context.Context, v *metapb.ObjectVersion, st *Stats) (bool, error) {
	return w.propose(ctx, st, &metapb.DeleteObject{
		Bucket: v.GetBucket(), Key: v.GetKey(), VersionId: v.GetVersionId(), MtimeUnixNano: w.cfg.Now().UnixNano(),
	})
}

// propose commits one delete and reports whether the state machine
// applied it.
func (w *Worker) propose(ctx context.Context, st *Stats, cmd *metapb.DeleteObject) (bool, error) {
	if err := w.pace(ctx); err != nil {
		return false, err
	}
	res, err := w.cfg.Store.Propose(ctx, &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: cmd}})
	if err != nil {
		return false, fmt.Errorf("lifecycle: expire %s/%s: %w", cmd.GetBucket(), cmd.GetKey(), err)
	}
	if res.GetCode() == metapb.ErrorCode_OK {
		st.Expired++
		w.cfg.Logger.Debug("lifecycle expired", "bucket", cmd.GetBucket(), "key", cmd.GetKey(), "version_id", cmd.GetVersionId())
		return true, nil
	}
	st.Refused++
	w.cfg.Logger.Debug("lifecycle expiry refused", "bucket", cmd.GetBucket(), "key", cmd.GetKey(), "version_id", cmd.GetVersionId(), "code", res.GetCode())
	return false, nil
}

// pace spaces proposals 1/Rate apart.
func (w *Worker) pace(ctx context.Context) error {
	if w.cfg.Rate < 0 {
		return ctx.Err()
	}
	gap := time.Duration(float64(time.Second) / w.cfg.Rate)
	now := w.cfg.Now()
	if wait := w.last.Add(gap).Sub(now); wait > 0 {
		if err := w.cfg.sleep(ctx, wait); err != nil {
			return err
		}
		now = now.Add(wait)
	}
	w.last = now
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newVersionID is a version ID in the gateway's shape: creation time, then
// random bytes.
func newVersionID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}
