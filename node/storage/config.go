package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/vfs"
)

// Defaults for zero Config fields.
const (
	// DefaultHeartbeatInterval is used when Config.HeartbeatInterval is
	// zero: a quarter of the meta group's default node timeout (6 s
	// without a beat, after which the leader serves the node as not up),
	// so that three beats in a row may be lost or late before a live node
	// looks dead; a node that stops still looks dead 4.5 to 6 s later. A
	// beat is a TLS round trip to the meta leader: at one a second, six
	// storage nodes' beats were a third of an idle cluster's CPU.
	DefaultHeartbeatInterval = 1500 * time.Millisecond
	// DefaultScrubRate bounds the scrubber's reads, per node: a 10 TB node
	// is read in about a week, while the drives keep most of their
	// bandwidth for foreground I/O.
	DefaultScrubRate = 16 << 20
	// DefaultScrubInterval is the pause between the end of a scrub pass
	// and the start of the next.
	DefaultScrubInterval = 7 * 24 * time.Hour
	// DefaultScrubBatch is how many verified shards go in one report.
	DefaultScrubBatch = 500
)

// Config configures a storage Server.
type Config struct {
	// NodeID names this node in the cluster map.
	NodeID string
	// ClusterID names the cluster; every drive carries it in its format
	// file, and a drive of another cluster is refused.
	ClusterID string
	// FormatDrives formats drive directories that have no format file and
	// adopts version 1 drives (which name no cluster). Without it, New
	// refuses them: a disk that failed to mount leaves an empty directory
	// that must not take shards.
	FormatDrives bool
	// Version is the binary's version string, sent in heartbeats.
	Version string
	// Addr is the advertised gRPC address of this node's Storage service.
	Addr string
	// FailureDomain groups nodes that may fail together (rack, host, ...).
	FailureDomain string
	// Drives are the directories of the drives this node serves, one per
	// physical drive.
	Drives []string
	// MetaAddrs are the meta group's gRPC addresses, tried in turn for
	// heartbeats. Empty disables heartbeats.
	MetaAddrs []string
	// HeartbeatInterval is the period of heartbeats; zero means
	// DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// Dialer makes the connections to the meta group; nil means
	// dial.Default() (plaintext).
	Dialer *dial.Dialer
	// ScrubRate bounds the bytes per second the scrubber reads from all
	// the node's drives together; zero means DefaultScrubRate.
	ScrubRate int64
	// ScrubInterval is the pause from the end of one scrub pass to the
	// start of the next (the time of the last pass is kept on the drives,
	// so restarts do not postpone it); zero means DefaultScrubInterval,
	// negative means passes run only on demand (Storage.Scrub).
	ScrubInterval time.Duration
	// ScrubBatch is how many verified shards one report to the meta group
	// carries; zero means DefaultScrubBatch.
	ScrubBatch int
	// Reporter receives the scrubber's reports; nil means the meta group
	// at MetaAddrs (with the heartbeats' failover), or nowhere without
	// MetaAddrs.
	Reporter ShardReporter
	// FaultErrors I/O errors (EIO and the like) on one drive within
	// FaultWindow mark it faulty; zero means DefaultFaultErrors and
	// DefaultFaultWindow.
	FaultErrors int
	FaultWindow time.Duration
	// Now is the clock of the fault rule and scrub times; nil means
	// time.Now.
	Now func() time.Time
	// NoDirectIO writes every shard through the page cache. By default a
	// shard of large blocks is written with direct I/O where the drive's
	// filesystem takes it (see drive.direct).
	NoDirectIO bool
	// FS is the filesystem of the drives; nil means vfs.Default.
	FS vfs.FS
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Metrics registers the node's series (cairn_storage_*); nil registers
	// nowhere.
	Metrics prometheus.Registerer
}

// ErrConfig marks an invalid Config.
var ErrConfig = errors.New("storage: invalid config")

func (c *Config) withDefaults() Config {
	out := *c
	if out.HeartbeatInterval == 0 {
		out.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if out.FS == nil {
		out.FS = vfs.Default
	}
	if out.ScrubRate == 0 {
		out.ScrubRate = DefaultScrubRate
	}
	if out.ScrubInterval == 0 {
		out.ScrubInterval = DefaultScrubInterval
	}
	if out.ScrubBatch == 0 {
		out.ScrubBatch = DefaultScrubBatch
	}
	if out.FaultErrors == 0 {
		out.FaultErrors = DefaultFaultErrors
	}
	if out.FaultWindow == 0 {
		out.FaultWindow = DefaultFaultWindow
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// Validate reports whether c, once zero fields take their defaults, can be
// used to build a Server.
func (c *Config) Validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("%w: NodeID is empty", ErrConfig)
	}
	if c.ClusterID == "" {
		return fmt.Errorf("%w: ClusterID is empty", ErrConfig)
	}
	if c.Addr == "" {
		return fmt.Errorf("%w: Addr is empty", ErrConfig)
	}
	if len(c.Drives) == 0 {
		return fmt.Errorf("%w: no drives", ErrConfig)
	}
	seen := make(map[string]bool, len(c.Drives))
	for _, d := range c.Drives {
		if d == "" {
			return fmt.Errorf("%w: empty drive directory", ErrConfig)
		}
		if seen[d] {
			return fmt.Errorf("%w: drive %s listed twice", ErrConfig, d)
		}
		seen[d] = true
	}
	for _, a := range c.MetaAddrs {
		if a == "" {
			return fmt.Errorf("%w: empty meta address", ErrConfig)
		}
	}
	if c.HeartbeatInterval < 0 {
		return fmt.Errorf("%w: negative HeartbeatInterval", ErrConfig)
	}
	if c.ScrubRate < 0 {
		return fmt.Errorf("%w: negative ScrubRate", ErrConfig)
	}
	if c.ScrubBatch < 0 {
		return fmt.Errorf("%w: negative ScrubBatch", ErrConfig)
	}
	if c.FaultErrors < 0 || c.FaultWindow < 0 {
		return fmt.Errorf("%w: negative FaultErrors or FaultWindow", ErrConfig)
	}
	return nil
}
