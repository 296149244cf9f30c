package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/vfs"
)

// DefaultHeartbeatInterval is used when Config.HeartbeatInterval is zero.
const DefaultHeartbeatInterval = time.Second

// Config configures a storage Server.
type Config struct {
	// NodeID names this node in the cluster map.
	NodeID string
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
	// FS is the filesystem of the drives; nil means vfs.Default.
	FS vfs.FS
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
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
	return nil
}
