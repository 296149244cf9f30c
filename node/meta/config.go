package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/pki"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// Defaults for Config.
const (
	DefaultNodeTimeout = 6 * time.Second
	DefaultGCInterval  = 5 * time.Second
	// DefaultOrphanGrace is how old a shard must be before the orphan
	// sweep may delete it: far longer than any write takes from its first
	// shard to its commit, and than any clock skew between nodes.
	DefaultOrphanGrace = 6 * time.Hour
	// DefaultLifecycleInterval is how often the leader's lifecycle worker
	// scans a batch of versions for expiration.
	DefaultLifecycleInterval = time.Minute
	// DefaultSweepInterval is how often the leader's orphan sweep runs.
	DefaultSweepInterval = 10 * time.Minute
	// DefaultNodeDownAfter is how long a storage node may go without a
	// heartbeat before the leader commits it down and its shards are
	// re-protected elsewhere: long enough to ride out a reboot or a
	// rolling upgrade without moving data, short enough that a dead
	// node's stripes do not stay one failure short for long.
	DefaultNodeDownAfter = 10 * time.Minute
)

// Raft timing defaults. hashicorp/raft's own (1 s heartbeat and election,
// 500 ms lease) assume an idle machine: on a loaded host with two cores,
// a leader whose goroutines wait a second for the CPU, or whose fsync
// stalls behind a burst of shard writes, misses its lease and steps down,
// and followers start elections that stall every write for their length.
// Twice as long keeps a killed leader's replacement within a few seconds
// while riding out such pauses.
const (
	DefaultRaftHeartbeatTimeout   = 2 * time.Second
	DefaultRaftElectionTimeout    = 2 * time.Second
	DefaultRaftLeaderLeaseTimeout = time.Second
	// DefaultRaftCommitTimeout is how long an idle leader waits before it
	// sends followers an AppendEntries that only carries the commit index.
	// New entries are sent at once whatever it is (and commit on the
	// leader's majority); it only bounds how late a follower's FSM learns
	// of the last commit, and nothing reads a follower's FSM. At 20 ms it
	// was the largest cost of an idle cluster: 50 empty round trips a
	// second to each follower, each reading the previous entry from the log.
	// At 500 ms those appends were still a fifth of an idle leader's Raft
	// traffic on top of its heartbeats (every 200 ms, which keep followers
	// from starting elections whatever this is); at the heartbeat timeout
	// a follower's applied index lags an idle leader's by 2 to 4 s.
	DefaultRaftCommitTimeout = DefaultRaftHeartbeatTimeout
	// minRaftTimeout is hashicorp/raft's floor for every timeout.
	minRaftTimeout = 5 * time.Millisecond
)

// ErrInvalidConfig marks a Config that fails Validate.
var ErrInvalidConfig = errors.New("meta: invalid config")

// Peer is one voter of the meta group.
type Peer struct {
	// ID is the Raft server ID (the node ID).
	ID string
	// RaftAddr is the host:port of the peer's Raft transport.
	RaftAddr string
	// GRPCAddr is the host:port of the peer's Meta gRPC service.
	GRPCAddr string
}

// ShardDeleter is what the GC collector needs from a storage node.
// storagepb.StorageClient satisfies it.
type ShardDeleter interface {
	DeleteShard(ctx context.Context, in *storagepb.DeleteShardRequest, opts ...grpc.CallOption) (*storagepb.DeleteShardResponse, error)
}

// StorageDialer returns a client for the storage service at addr. The
// caller of New owns whatever it dials; the Node does not close it.
type StorageDialer func(addr string) (ShardDeleter, error)

// Config configures a Node.
type Config struct {
	// NodeID is this voter's ID; it must be one of Peers.
	NodeID string
	// DataDir holds the Raft log, stable store, snapshots and FSM.
	DataDir string
	// Version is the binary's version string, reported by Status.
	Version string
	// RaftBind is the TCP address the Raft transport listens on. The
	// address advertised to peers is this node's Peer.RaftAddr.
	RaftBind string
	// RaftListener, if set, is used instead of listening on RaftBind. New
	// takes ownership: it is closed by Close, or by New if New fails. It
	// is the seam for tests and fault injection.
	RaftListener net.Listener
	// Peers are all voters, including this node. Production uses 3 or 5.
	// On the first start of the group they are its initial configuration;
	// afterwards the configuration is Raft's, changed by AddVoter and
	// RemoveVoter, and Peers only name addresses.
	Peers []Peer
	// Join starts a node with no Raft state without bootstrapping: it waits
	// to be added to a running group (AddVoter). A node with Raft state
	// never bootstraps, whatever Join says.
	Join bool
	// ClusterID names the cluster in backups.
	ClusterID string
	// NodeTimeout: a storage node without a heartbeat for this long is
	// reported down in the cluster map. Default DefaultNodeTimeout.
	NodeTimeout time.Duration
	// NodeDownAfter: a storage node without a heartbeat for this long is
	// committed down (metapb.Node.down), and committed back when it
	// heartbeats again. At least NodeTimeout. Default DefaultNodeDownAfter.
	NodeDownAfter time.Duration
	// RaftHeartbeatTimeout, RaftElectionTimeout and RaftLeaderLeaseTimeout
	// are hashicorp/raft's timeouts (see raft.Config). The lease must not
	// exceed the heartbeat timeout, nor the heartbeat timeout the election
	// timeout. Defaults DefaultRaft*.
	RaftHeartbeatTimeout   time.Duration
	RaftElectionTimeout    time.Duration
	RaftLeaderLeaseTimeout time.Duration
	// RaftCommitTimeout is raft.Config.CommitTimeout; default
	// DefaultRaftCommitTimeout.
	RaftCommitTimeout time.Duration
	// WatchProgress is how often a bucket watch (WatchBuckets) sends an
	// event when nothing changed; default DefaultWatchProgress.
	WatchProgress time.Duration
	// MapRefresh is how often a cluster map watch (WatchClusterMap) sends
	// the map when its version did not change, refreshing the soft state
	// (heartbeat times, free space); default DefaultMapRefresh. Version
	// changes are looked for every WatchProgress.
	MapRefresh time.Duration
	// GCInterval is how often the leader's collector runs. Default
	// DefaultGCInterval.
	GCInterval time.Duration
	// OrphanGrace: the orphan sweep leaves alone every shard modified less
	// than this long ago, so that it never races a write still on its way
	// to commit. Default DefaultOrphanGrace.
	OrphanGrace time.Duration
	// SweepInterval is how often the leader's orphan sweep runs. Default
	// DefaultSweepInterval.
	SweepInterval time.Duration
	// LifecycleInterval is how often the leader's lifecycle worker runs a
	// round (DefaultLifecycleInterval); LifecycleRate bounds the
	// expirations it proposes per second (lifecycle.DefaultRate, negative
	// unlimited); LifecycleDay is the length of a lifecycle rule's day
	// (24h; shorter only to test expiration).
	LifecycleInterval time.Duration
	LifecycleRate     float64
	LifecycleDay      time.Duration
	// RepairBandwidth caps the bytes per second the leader's repairer
	// and bucket scrubs read; zero means repair.DefaultBandwidth, negative
	// unlimited.
	RepairBandwidth int64
	// RepairConcurrency is how many bodies the repairer rebuilds at once;
	// zero means repair.DefaultConcurrency.
	RepairConcurrency int
	// RepairDownAfter, when positive, makes the repairer treat a storage
	// node without a heartbeat for this long as lost even before the meta
	// group commits it down. Zero relies on the committed state alone.
	RepairDownAfter time.Duration
	// AutoAdmitNodes admits a storage node the group has never seen as
	// soon as it heartbeats; otherwise it joins NODE_PENDING and takes no
	// shards until an operator admits it (cairn admin node add).
	AutoAdmitNodes bool
	// Logger receives the node's and raft's logs. Nil discards them.
	Logger *slog.Logger
	// Storage dials storage nodes for the GC collector and the orphan
	// sweep (whose clients must also implement ShardLister). Nil dials them
	// through Dialer and caches one connection per address.
	Storage StorageDialer
	// Dialer makes every connection this node opens: to its peers' Meta
	// services, to storage nodes and the Raft transport's. Nil means
	// dial.Default() (plaintext).
	Dialer *dial.Dialer
	// TLS, when set, secures the Raft transport with mutual TLS: peers
	// must present a certificate of the cluster with the meta role. Nil
	// means plaintext Raft (--insecure-internal).
	TLS *pki.Reloader
	// Now is the clock used to stamp heartbeats and compute liveness.
	// Nil means time.Now.
	Now func() time.Time
	// Metrics registers the node's series (cairn_meta_*); nil registers
	// nowhere.
	Metrics prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.NodeTimeout == 0 {
		c.NodeTimeout = DefaultNodeTimeout
	}
	if c.NodeDownAfter == 0 {
		c.NodeDownAfter = DefaultNodeDownAfter
	}
	if c.RaftHeartbeatTimeout == 0 {
		c.RaftHeartbeatTimeout = DefaultRaftHeartbeatTimeout
	}
	if c.RaftElectionTimeout == 0 {
		c.RaftElectionTimeout = DefaultRaftElectionTimeout
	}
	if c.RaftLeaderLeaseTimeout == 0 {
		c.RaftLeaderLeaseTimeout = DefaultRaftLeaderLeaseTimeout
	}
	if c.RaftCommitTimeout == 0 {
		c.RaftCommitTimeout = DefaultRaftCommitTimeout
	}
	if c.GCInterval == 0 {
		c.GCInterval = DefaultGCInterval
	}
	if c.WatchProgress == 0 {
		c.WatchProgress = DefaultWatchProgress
	}
	if c.MapRefresh == 0 {
		c.MapRefresh = DefaultMapRefresh
	}
	if c.OrphanGrace == 0 {
		c.OrphanGrace = DefaultOrphanGrace
	}
	if c.LifecycleInterval == 0 {
		c.LifecycleInterval = DefaultLifecycleInterval
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Dialer == nil {
		c.Dialer = dial.Default()
	}
}

// Validate reports whether c, with defaults applied to zero fields, is
// usable. Errors wrap ErrInvalidConfig.
func (c *Config) Validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.NodeID == "" {
		return invalid("empty node ID")
	}
	if c.DataDir == "" {
		return invalid("empty data dir")
	}
	if c.RaftBind == "" && c.RaftListener == nil {
		return invalid("empty raft bind address")
	}
	if c.NodeTimeout < 0 {
		return invalid("negative node timeout %v", c.NodeTimeout)
	}
	if c.NodeDownAfter < c.NodeTimeout {
		return invalid("node down-after %v is shorter than the node timeout %v", c.NodeDownAfter, c.NodeTimeout)
	}
	for _, rt := range []struct {
		name string
		d    time.Duration
	}{
		{"raft heartbeat timeout", c.RaftHeartbeatTimeout},
		{"raft election timeout", c.RaftElectionTimeout},
		{"raft leader lease timeout", c.RaftLeaderLeaseTimeout},
		{"raft commit timeout", c.RaftCommitTimeout},
	} {
		if rt.d < minRaftTimeout {
			return invalid("%s %v is below %v", rt.name, rt.d, minRaftTimeout)
		}
	}
	if c.RaftLeaderLeaseTimeout > c.RaftHeartbeatTimeout {
		return invalid("raft leader lease timeout %v exceeds the heartbeat timeout %v", c.RaftLeaderLeaseTimeout, c.RaftHeartbeatTimeout)
	}
	if c.RaftElectionTimeout < c.RaftHeartbeatTimeout {
		return invalid("raft election timeout %v is shorter than the heartbeat timeout %v", c.RaftElectionTimeout, c.RaftHeartbeatTimeout)
	}
	if c.WatchProgress < time.Millisecond {
		return invalid("watch progress interval %v below 1ms", c.WatchProgress)
	}
	if c.MapRefresh < c.WatchProgress {
		return invalid("map refresh interval %v below the watch progress interval %v", c.MapRefresh, c.WatchProgress)
	}
	if c.GCInterval < 0 {
		return invalid("negative GC interval %v", c.GCInterval)
	}
	if c.OrphanGrace < 0 {
		return invalid("negative orphan grace %v", c.OrphanGrace)
	}
	if c.RepairConcurrency < 0 || c.RepairDownAfter < 0 {
		return invalid("negative repair concurrency %d or down-after %v", c.RepairConcurrency, c.RepairDownAfter)
	}
	if c.LifecycleInterval < 0 || c.LifecycleDay < 0 {
		return invalid("negative lifecycle interval %v or day %v", c.LifecycleInterval, c.LifecycleDay)
	}
	if c.SweepInterval < 0 {
		return invalid("negative sweep interval %v", c.SweepInterval)
	}
	if len(c.Peers) == 0 {
		return invalid("no peers")
	}
	ids := map[string]bool{}
	addrs := map[string]bool{}
	self := false
	for _, p := range c.Peers {
		if p.ID == "" || p.RaftAddr == "" || p.GRPCAddr == "" {
			return invalid("peer %+v: ID, raft and gRPC addresses are required", p)
		}
		if ids[p.ID] {
			return invalid("duplicate peer ID %q", p.ID)
		}
		if addrs[p.RaftAddr] {
			return invalid("duplicate peer raft address %q", p.RaftAddr)
		}
		ids[p.ID], addrs[p.RaftAddr] = true, true
		if err := checkAdvertisable(p.RaftAddr); err != nil {
			return invalid("peer %q raft address: %v", p.ID, err)
		}
		self = self || p.ID == c.NodeID
	}
	if !self {
		return invalid("node %q is not one of the peers", c.NodeID)
	}
	return nil
}

// checkAdvertisable rejects addresses other nodes cannot dial.
func checkAdvertisable(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "" || port == "0" {
		return fmt.Errorf("%q has no port", addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("%q is not advertisable", addr)
	}
	return nil
}

func (c *Config) self() Peer {
	for _, p := range c.Peers {
		if p.ID == c.NodeID {
			return p
		}
	}
	return Peer{}
}
