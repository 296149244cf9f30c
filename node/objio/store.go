package objio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	md5simd "github.com/minio/md5-simd"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// Defaults for Config.
const (
	DefaultStripesInFlight = 2
	// DefaultPutBufferBytes is the stripe memory all PUTs of a Store may
	// hold at once: 1 GiB is 85 PUTs of large bodies at the default 4+2,
	// 1 MiB blocks and two stripes in flight (12 MiB each).
	DefaultPutBufferBytes = 1 << 30
	// DefaultSuspectFor keeps a failed node out of placements; a fresh
	// heartbeat in the cluster map ends the suspicion sooner (see
	// clustermap), so a restarted node is used again within seconds.
	DefaultSuspectFor     = 15 * time.Second
	DefaultCleanupTimeout = 30 * time.Second
	// DefaultStallTimeout is how long a shard stream may make no progress
	// (no message sent or received, from open to the last message) while
	// the pipeline waits on it.
	DefaultStallTimeout = 5 * time.Second
	// DefaultCommitTimeout bounds the wait for a storage node's durable
	// ack (fsync and rename) after the last message of a shard.
	DefaultCommitTimeout = 10 * time.Second
	// DefaultCallTimeout bounds a unary storage call (delete, stat).
	DefaultCallTimeout = 5 * time.Second
	// DefaultHedgeFloor and DefaultHedgeCap clamp the hedging delay of a
	// read: a data shard whose block is later than the recent p95 of block
	// reads (at least the floor, at most the cap) gets a parity read
	// started beside it.
	DefaultHedgeFloor = 50 * time.Millisecond
	DefaultHedgeCap   = time.Second
)

var (
	// ErrInsufficientDrives means no placement exists for the profile on the
	// current map; it wraps placement.ErrInsufficient when placement said so.
	ErrInsufficientDrives = errors.New("objio: not enough drives for placement")
	// ErrShardWrite means a shard could not be made durable; the PUT failed
	// and its shards were deleted.
	ErrShardWrite = errors.New("objio: shard write failed")
	// ErrDataUnavailable means more than M shards of a stripe could not be
	// read, so the requested bytes cannot be served now.
	ErrDataUnavailable = errors.New("objio: data unavailable")
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("objio: invalid config")
	// ErrInvalidArgument marks a request that cannot be served as asked: a
	// bad profile, a range outside the body or a record without placement.
	ErrInvalidArgument = errors.New("objio: invalid argument")
	// ErrDigestMismatch means a storage node acknowledged a shard whose
	// digest is not that of the blocks sent to it.
	ErrDigestMismatch = errors.New("objio: shard digest mismatch")
)

// Maps is the view of the cluster map that the pipelines need;
// clustermap.Cache implements it.
type Maps interface {
	Map() placement.Map
	Addr(node placement.NodeID) (string, bool)
	// Suspect treats node as down for d, so later placements skip it.
	Suspect(node placement.NodeID, d time.Duration)
}

// DriveSuspecter is implemented by Maps that can keep one drive (rather
// than its whole node) out of placements for a while; clustermap.Cache
// does. objio uses it when a drive reports itself full.
type DriveSuspecter interface {
	SuspectDrive(drive placement.DriveID, d time.Duration)
}

// Refresher is implemented by Maps that can fetch the current map on
// demand (clustermap.Cache): a PUT that finds no placement looks again
// once before it refuses.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// Dialer hands out storage clients, pooled by address; Pool implements it.
type Dialer interface {
	Storage(addr string) (storagepb.StorageClient, error)
}

// Config configures a Store.
type Config struct {
	Maps   Maps   // required
	Dialer Dialer // required
	// Logger receives best-effort cleanup failures; slog.Default() if nil.
	Logger *slog.Logger
	// StripesInFlight bounds the stripe buffers of one PUT, and so its
	// memory: about StripesInFlight × (2K+M) × BlockSize bytes.
	StripesInFlight int
	// PutBufferBytes bounds the stripe memory of all PUTs at once: a PUT
	// reserves its stripes' bytes before it reads its body and waits (as
	// long as its context allows) while others hold the budget, so the
	// gateway's memory does not grow with the number of clients. A PUT
	// that alone needs more than the budget runs when it has it all.
	// Negative: unbounded.
	PutBufferBytes int64
	// SuspectFor is how long a node that failed a dial or stream is kept
	// out of new placements.
	SuspectFor time.Duration
	// CleanupTimeout bounds the best-effort deletion after a failed PUT,
	// which runs even when the PUT's context was cancelled.
	CleanupTimeout time.Duration
	// Now stamps data IDs; time.Now if nil.
	Now func() time.Time
	// OnReadFailure, if set, is told of every shard a read had to work
	// around (missing, unreachable, stalled, corrupt), so it can be queued
	// for repair. A shard that was merely slow and lost to a hedged read is
	// not reported (see Hedges). It is called synchronously and must not
	// block.
	OnReadFailure func(v *metapb.ObjectVersion, shard int, err error)
	// StallTimeout cuts a shard stream that makes no progress for this long
	// while the pipeline waits on it; CommitTimeout bounds the wait for a
	// shard's durable ack; CallTimeout bounds a unary storage call.
	StallTimeout  time.Duration
	CommitTimeout time.Duration
	CallTimeout   time.Duration
	// HedgeFloor and HedgeCap clamp the hedging delay (see
	// DefaultHedgeFloor). A negative HedgeFloor turns hedging off.
	HedgeFloor time.Duration
	HedgeCap   time.Duration
	// Metrics registers the store's series (cairn_objio_*); nil registers
	// nowhere. Give it to one Store per process.
	Metrics prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.StripesInFlight == 0 {
		c.StripesInFlight = DefaultStripesInFlight
	}
	if c.PutBufferBytes == 0 {
		c.PutBufferBytes = DefaultPutBufferBytes
	}
	if c.SuspectFor == 0 {
		c.SuspectFor = DefaultSuspectFor
	}
	if c.CleanupTimeout == 0 {
		c.CleanupTimeout = DefaultCleanupTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.HedgeFloor == 0 {
		c.HedgeFloor = DefaultHedgeFloor
	}
	if c.HedgeCap == 0 {
		c.HedgeCap = DefaultHedgeCap
	}
}

// Validate reports whether the Config, after defaults, can work.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Maps == nil:
		return fmt.Errorf("%w: Maps is nil", ErrInvalidConfig)
	case c.Dialer == nil:
		return fmt.Errorf("%w: Dialer is nil", ErrInvalidConfig)
	case c.StripesInFlight < 1:
		return fmt.Errorf("%w: StripesInFlight %d < 1", ErrInvalidConfig, c.StripesInFlight)
	case c.SuspectFor < 0 || c.CleanupTimeout < 0 || c.StallTimeout < 0 || c.CommitTimeout < 0 || c.CallTimeout < 0 || c.HedgeCap < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	case c.HedgeFloor > c.HedgeCap:
		return fmt.Errorf("%w: HedgeFloor %v above HedgeCap %v", ErrInvalidConfig, c.HedgeFloor, c.HedgeCap)
	}
	return nil
}

// Store runs the PUT and GET pipelines. It holds no per-object state and is
// safe for concurrent use; every call owns and joins its goroutines.
type Store struct {
	cfg Config
	log *slog.Logger

	lat    latencies // recent shard block read times
	phases *prometheus.HistogramVec
	hedges atomic.Uint64   // parity reads started because a shard was slow
	slabs  shardcodec.Pool // stripe slabs kept between PUTs (slabs.go)
	// putBuf holds the PUT stripe budget (Config.PutBufferBytes); nil when
	// unbounded. putWaiting counts the PUTs waiting for it.
	putBuf     *semaphore.Weighted
	putWaiting prometheus.Gauge
	putHeld    prometheus.Gauge

	md5 struct {
		sync.Mutex
		srv     md5simd.Server // nil until simdMinStreams PUTs hash at once
		hashing int            // PUTs hashing now
		simd    int            // of which on srv
		closed  bool
	}
}

// New returns a Store for cfg.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	phases := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "cairn_objio_write_phase_duration_seconds",
		Help: "Duration of the phases of a body write: stream (read the body, hash, encode and hand " +
			"every stripe to the shard streams), durable (wait for every shard's durable ack) and rebuild " +
			"(rebuild a shard lost past the first stripe onto a replacement drive).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	}, []string{"phase"})
	s := &Store{cfg: cfg, log: cfg.Logger, phases: phases,
		putWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_objio_put_buffer_waiting",
			Help: "PUTs waiting for stripe memory (the gateway's --put-buffer-bytes budget is held by others).",
		}),
		putHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_objio_put_buffer_held_bytes",
			Help: "Stripe memory reserved by the PUTs in progress, out of the --put-buffer-bytes budget.",
		}),
	}
	if cfg.PutBufferBytes > 0 {
		s.putBuf = semaphore.NewWeighted(cfg.PutBufferBytes)
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{phases, s.putWaiting, s.putHeld} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("objio: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// WriteOptions tells WriteBody how to store a body.
type WriteOptions struct {
	Profile erasure.Profile
	// Size is the body length when known, -1 otherwise. It only sizes
	// buffers: the body is read to EOF whatever it says, and Body.Size
	// reports what was actually read.
	Size int64
	// InlineMax, when positive, keeps a body of at most this many bytes
	// out of the shards: WriteBody returns it in Body.Inline, for the
	// caller to commit inside the version record. At most MaxInlineBytes.
	InlineMax int64
	// NoMD5 leaves Body.MD5 nil: for a caller that hashes what it needs
	// itself (an encrypted body's ETag is its plaintext's MD5, not the
	// stored ciphertext's), so the body is not hashed twice.
	NoMD5 bool
}

// Body describes a stored body: everything the version record needs.
type Body struct {
	DataID  string
	Size    int64
	MD5     []byte
	Profile erasure.Profile
	// Shards[i] holds shard i, named ShardID(DataID, i).
	Shards      []*metapb.ShardPlacement
	UnderSpread bool
	// ShardDigests[i] is shard i's digest (see bitrot.Digester), computed
	// from the blocks sent and matched against the node's acknowledgement:
	// the record keeps them so reads and scrubs can tell the shard from
	// any other file of its name.
	ShardDigests [][]byte
	// Inline holds the whole body when it was small enough to ride in the
	// version record (see WriteOptions.InlineMax); Shards and ShardDigests
	// are empty then, and DataID names the body only for the record.
	Inline []byte
}

// IsInline reports whether the body is kept in the record, not in shards.
func (b *Body) IsInline() bool { return b.Inline != nil }

// ShardID names shard i of a body on its drive.
func ShardID(dataID string, i int) string { return dataID + "." + strconv.Itoa(i) }

// ProfileFromProto converts a record's profile.
func ProfileFromProto(p *metapb.ErasureProfile) erasure.Profile {
	return erasure.Profile{K: int(p.GetDataShards()), M: int(p.GetParityShards()), BlockSize: int(p.GetBlockSize())}
}

// ProfileToProto converts a profile for a record.
func ProfileToProto(p erasure.Profile) *metapb.ErasureProfile {
	return &metapb.ErasureProfile{DataShards: uint32(p.K), ParityShards: uint32(p.M), BlockSize: uint32(p.BlockSize)}
}

// newDataID returns 16 hex digits of the time (so IDs sort by creation)
// followed by 16 random hex digits (so concurrent gateways never collide).
func (s *Store) newDataID() (string, error) {
	var b [16]byte
	ns := uint64(s.cfg.Now().UnixNano())
	for i := 7; i >= 0; i-- {
		b[i] = byte(ns)
		ns >>= 8
	}
	if _, err := rand.Read(b[8:]); err != nil {
		return "", fmt.Errorf("objio: data id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// client returns a storage client for node.
func (s *Store) client(node string) (storagepb.StorageClient, error) {
	addr, ok := s.cfg.Maps.Addr(placement.NodeID(node))
	if !ok {
		// Not Unavailable: the node may be fine and only this gateway's
		// map incomplete, so it must not be suspected for it.
		return nil, status.Errorf(codes.FailedPrecondition, "objio: node %s has no known address", node)
	}
	c, err := s.cfg.Dialer.Storage(addr)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "objio: node %s at %s: %v", node, addr, err)
	}
	return c, nil
}

// unreachable reports whether err says the node could not be talked to at
// all, which makes it worth suspecting.
func unreachable(err error) bool {
	return status.Code(err) == codes.Unavailable
}

// Hedges counts the parity reads started because a data shard was slower
// than the recent p95 of shard reads (not because it failed).
func (s *Store) Hedges() uint64 { return s.hedges.Load() }

// full reports whether err says the drive is out of space.
func full(err error) bool {
	return status.Code(err) == codes.ResourceExhausted
}

// suspectFull keeps a full drive out of placements for SuspectFor, when the
// map can do that.
func (s *Store) suspectFull(drive placement.DriveID) {
	if ds, ok := s.cfg.Maps.(DriveSuspecter); ok {
		ds.SuspectDrive(drive, s.cfg.SuspectFor)
	}
}

// DeleteBody deletes every shard of a body, in parallel. Shards already gone
// count as deleted. It tries all shards whatever fails and returns the
// failures joined.
func (s *Store) DeleteBody(ctx context.Context, dataID string, shards []*metapb.ShardPlacement) error {
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sp := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.deleteShard(ctx, dataID, i, sp)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Store) deleteShard(ctx context.Context, dataID string, i int, sp *metapb.ShardPlacement) error {
	c, err := s.client(sp.GetNodeId())
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		defer cancel()
		_, err = c.DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: &storagepb.ShardRef{DriveId: sp.GetDriveId(), ShardId: ShardID(dataID, i)}})
	}
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("objio: delete shard %s on %s/%s: %w", ShardID(dataID, i), sp.GetNodeId(), sp.GetDriveId(), err)
	}
	return nil
}
