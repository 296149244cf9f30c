package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// Defaults for Config.
const (
	// DefaultBandwidth caps the bytes per second repairs and bucket
	// scrubs read: enough to heal a lost node in hours, little enough to
	// leave most of a node's disks and network to clients.
	DefaultBandwidth   = 128 << 20
	DefaultConcurrency = 4
	// DefaultScanInterval is how often the whole metadata is rescanned
	// when nothing else prompts it.
	DefaultScanInterval = 5 * time.Minute
	// DefaultPollInterval is how often the cluster map is checked for a
	// change (a node lost, a drive failed) that prompts a rescan.
	DefaultPollInterval = time.Second
	DefaultMaxQueue     = 10000
	DefaultPageSize     = 1000
	// DefaultCallTimeout bounds one proposal, metadata read or storage
	// call; a rebuild is bounded by its reads and writes' progress.
	DefaultCallTimeout = 10 * time.Second
)

// ErrInvalidConfig marks a Config that Validate rejects.
var ErrInvalidConfig = errors.New("repair: invalid config")

// Metadata is the repairer's read view of the meta group: the leader's
// state machine.
type Metadata interface {
	// ScanBodies pages through every body (see metadata.FSM.ScanBodies).
	ScanBodies(ctx context.Context, cursor []byte, limit int) ([]Body, []byte, error)
	// LocateBody returns the live body of a data ID, or false.
	LocateBody(ctx context.Context, dataID string) (Body, bool, error)
	HealPaused(ctx context.Context) (bool, error)
	// ClusterMap returns the map with Node.up computed by the leader.
	ClusterMap(ctx context.Context) (*metapb.ClusterMap, error)
	HasBucket(ctx context.Context, name string) (bool, error)
	// Rebalance returns the committed rebalance setting.
	Rebalance(ctx context.Context) (*metapb.RebalanceState, error)
}

// Proposer commits commands through the meta group.
type Proposer interface {
	Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error)
}

// Rebuilder rebuilds shards; objio.Store implements it.
type Rebuilder interface {
	RebuildShards(ctx context.Context, v *metapb.ObjectVersion, targets map[int]*metapb.ShardPlacement, opts objio.RebuildOptions) ([]objio.RebuiltShard, error)
	// CopyShards moves readable shards by copying each from its current
	// place (one read per shard written), with RebuildShards's contract.
	CopyShards(ctx context.Context, v *metapb.ObjectVersion, targets map[int]*metapb.ShardPlacement, opts objio.RebuildOptions) ([]objio.RebuiltShard, error)
}

// Shards reaches storage nodes by node ID for scrubs.
type Shards interface {
	VerifyShard(ctx context.Context, node string, in *storagepb.VerifyShardRequest) (*storagepb.VerifyShardResponse, error)
	StatShard(ctx context.Context, node string, in *storagepb.StatShardRequest) (*storagepb.StatShardResponse, error)
	Scrub(ctx context.Context, node string) (*storagepb.ScrubResponse, error)
}

// Config configures a Repairer.
type Config struct {
	Metadata  Metadata  // required
	Proposer  Proposer  // required
	Rebuilder Rebuilder // required
	Shards    Shards    // required

	// Bandwidth caps the bytes per second read by repairs and bucket
	// scrubs together; negative means unlimited. Default DefaultBandwidth.
	Bandwidth int64
	// Concurrency is how many bodies are repaired at once.
	Concurrency int
	// DownAfter, when positive, treats a node without a heartbeat for
	// this long as lost even if the meta group has not committed it
	// down (Node.down); zero relies on Node.down alone.
	DownAfter    time.Duration
	ScanInterval time.Duration
	PollInterval time.Duration
	// MaxQueue bounds the tasks held at once, and so the memory.
	MaxQueue    int
	PageSize    int
	CallTimeout time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
	// Sleep waits for the bandwidth limiter; nil sleeps on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c *Config) setDefaults() {
	if c.Bandwidth == 0 {
		c.Bandwidth = DefaultBandwidth
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ScanInterval == 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
}

// Validate reports whether c, with defaults applied, can work.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Metadata == nil || c.Proposer == nil || c.Rebuilder == nil || c.Shards == nil:
		return fmt.Errorf("%w: Metadata, Proposer, Rebuilder and Shards are required", ErrInvalidConfig)
	case c.Concurrency < 1:
		return fmt.Errorf("%w: concurrency %d < 1", ErrInvalidConfig, c.Concurrency)
	case c.DownAfter < 0 || c.ScanInterval < 0 || c.PollInterval < 0 || c.CallTimeout < 0:
		return fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	case c.MaxQueue < 1 || c.PageSize < 1:
		return fmt.Errorf("%w: MaxQueue and PageSize must be positive", ErrInvalidConfig)
	}
	return nil
}
