// Package server builds one Cairn process from the roles named in its
// Config: it opens the listeners, starts the meta, storage and gateway roles
// on them and stops them in reverse order. It is used by cmd/cairn and by the
// multi-process tests; it holds no logic of its own beyond wiring.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/experimental"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/bucketcache"
	"github.com/cairn-io/cairn/node/clustermap"
	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/gateway"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/meta"
	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/observe"
	"github.com/cairn-io/cairn/node/pki"
	"github.com/cairn-io/cairn/node/rpcauth"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/node/storage"
	"github.com/cairn-io/cairn/placement"
)

// Role names accepted in Config.Roles.
const (
	RoleGateway = "gateway"
	RoleStorage = "storage"
	RoleMeta    = "meta"
)

// Config describes one process. Only cmd/cairn fills it from flags,
// environment and files.
type Config struct {
	NodeID  string
	Roles   []string
	DataDir string

	// ClusterID names the cluster (with TLS, the certificate's cluster; it
	// may be left empty then). The storage role requires it: every
	// drive carries it, and a drive of another cluster is refused.
	ClusterID string
	// FormatDrives lets the storage role format drive directories that
	// have no format file (first start) and adopt version 1 drives.
	FormatDrives bool
	// Version is the binary's version string, reported in heartbeats and
	// the meta role's Status.
	Version string

	// GRPCAddr is where the meta and storage services listen; it is also the
	// address advertised to peers, so it must be reachable by them.
	GRPCAddr string
	// RaftAddr is the meta role's Raft transport address.
	RaftAddr string
	// MetaPeers are all meta voters (meta role) as "id=raftAddr=grpcAddr".
	MetaPeers []meta.Peer
	// MetaJoin starts a new meta voter that waits to be added to a
	// running group instead of bootstrapping (see meta.Config.Join).
	MetaJoin bool
	// MetaAddrs are meta gRPC addresses for the gateway and storage roles;
	// when empty they come from MetaPeers.
	MetaAddrs []string

	// Meta role: the orphan sweep's grace and interval; zero means the
	// meta package's defaults.
	OrphanGrace   time.Duration
	SweepInterval time.Duration
	// Meta role: a storage node silent for NodeDownAfter is committed down
	// (its shards are re-protected elsewhere); and the Raft timeouts. Zero
	// means the meta package's defaults.
	NodeDownAfter          time.Duration
	RaftHeartbeatTimeout   time.Duration
	RaftElectionTimeout    time.Duration
	RaftLeaderLeaseTimeout time.Duration
	// Meta role: the repairer's bandwidth (bytes/s; zero: default,
	// negative: unlimited), concurrency and node-down fallback (see
	// meta.Config).
	RepairBandwidth   int64
	RepairConcurrency int
	RepairDownAfter   time.Duration
	// Meta role: the lifecycle worker's interval and rate; meta and
	// gateway roles: the length of a lifecycle day (see meta.Config).
	LifecycleInterval time.Duration
	LifecycleRate     float64
	LifecycleDay      time.Duration
	// AutoAdmitNodes: new storage nodes join active, not pending
	// (see meta.Config.AutoAdmitNodes).
	AutoAdmitNodes bool

	// Storage role.
	Drives        []string
	FailureDomain string
	// ScrubRate (bytes per second, per node) and ScrubInterval (pause
	// after a pass; negative: on demand only) pace the scrubber; zero
	// means the storage package's defaults.
	ScrubRate     int64
	ScrubInterval time.Duration
	// NoDirectIO writes shards through the page cache only (see
	// storage.Config.NoDirectIO).
	NoDirectIO bool

	// Gateway role. S3Addr serves plain HTTP and S3TLSAddr HTTPS with
	// the certificate of S3TLS; either may be empty, not both.
	S3Addr    string
	S3TLSAddr string
	S3TLS     *pki.Reloader
	AccessKey string
	SecretKey string
	Region    string
	Profile   erasure.Profile
	// StorageClasses maps storage classes to erasure profiles; default:
	// STANDARD = Profile, REDUCED_REDUNDANCY = Profile with one parity
	// shard (DefaultReducedProfile with the defaults).
	StorageClasses      map[string]erasure.Profile
	VirtualHostSuffixes []string
	// Reserve is the free space every drive keeps back from new shards;
	// nil means placement.DefaultReserve.
	Reserve *placement.Reserve
	// BodyStallTimeout cuts a request body silent for this long with 400
	// RequestTimeout; zero means gateway.DefaultBodyStallTimeout.
	BodyStallTimeout time.Duration
	// InlineMaxBytes is gateway.Config.InlineMaxBytes: bodies up to this
	// size ride in the version record; zero disables.
	InlineMaxBytes int64
	// PutBufferBytes is objio.Config.PutBufferBytes: the stripe memory all
	// of the gateway's PUTs may hold at once; zero means
	// objio.DefaultPutBufferBytes, negative unbounded.
	PutBufferBytes int64
	// NoBucketCache makes the gateway read every bucket linearizably
	// instead of serving them from a cache fed by the meta leader's watch
	// (node/bucketcache).
	NoBucketCache bool
	// MasterKey (32 bytes) is the cluster master key: it wraps the data
	// keys of SSE-S3 objects and seals the secrets of users; nil refuses
	// SSE-S3 and lets only the root credentials sign in. KMSKeys are the
	// key ring of SSE-KMS, the first being the default key.
	MasterKey []byte
	KMSKeys   []sse.KMSKey
	// PreviousMasterKey (optional, 32 bytes) is the master key being
	// rotated away from: it still opens secrets and data keys, and while
	// the rotation is in progress new ones are sealed under it too, so
	// that gateways not yet restarted with MasterKey can read them.
	PreviousMasterKey []byte

	// Dialer makes every connection this process opens to other nodes;
	// nil means dial.Default() (plaintext gRPC, default keepalive).
	Dialer *dial.Dialer
	// TLS is this process's certificate under the cluster CA: the gRPC
	// server requires mutual TLS and authorizes every call by the caller's
	// roles (rpcauth), the Raft transport runs over it, and the node ID and
	// roles must be the certificate's (NodeID may be left empty). Nil
	// needs InsecureInternal: plaintext, unauthenticated internal traffic.
	TLS              *pki.Reloader
	InsecureInternal bool

	// AdminAddr is where the admin HTTP listener serves /metrics,
	// /healthz and /readyz; empty means none (and no metrics are kept).
	AdminAddr string

	// ConsoleAddr is where the gateway serves the web console (plain
	// HTTP; put it on loopback or behind a TLS proxy); empty means none.
	// ConsoleAdminTLS, an admin-role certificate under the cluster CA,
	// lets the console read heal status and manage users; without it
	// those parts say the cluster refused.
	ConsoleAddr     string
	ConsoleAdminTLS *pki.Reloader

	Logger *slog.Logger
}

// DefaultPutBufferBytes is Config.PutBufferBytes's default.
const DefaultPutBufferBytes = objio.DefaultPutBufferBytes

// DefaultProfile is the STANDARD erasure profile: 4 data + 2 parity shards
// with 1 MiB blocks, so a stripe carries 4 MiB of object data.
var DefaultProfile = erasure.Profile{K: 4, M: 2, BlockSize: 1 << 20}

// DefaultReducedProfile is the REDUCED_REDUNDANCY erasure profile: 4 data
// + 1 parity shard with 1 MiB blocks.
var DefaultReducedProfile = erasure.Profile{K: 4, M: 1, BlockSize: 1 << 20}

func (c *Config) has(role string) bool { return slices.Contains(c.Roles, role) }

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLS != nil && c.NodeID == "" {
		c.NodeID = c.TLS.Identity().NodeID
	}
	if c.TLS != nil && c.ClusterID == "" {
		c.ClusterID = c.TLS.Identity().ClusterID
	}
	if c.Dialer == nil {
		if c.TLS != nil {
			c.Dialer = dial.New(dial.Config{Creds: credentials.NewTLS(c.TLS.ClientConfig())})
		} else {
			c.Dialer = dial.Default()
		}
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Profile == (erasure.Profile{}) {
		c.Profile = DefaultProfile
	}
	if len(c.MetaAddrs) == 0 {
		for _, p := range c.MetaPeers {
			c.MetaAddrs = append(c.MetaAddrs, p.GRPCAddr)
		}
	}
	if c.has(RoleStorage) && len(c.Drives) == 0 && c.DataDir != "" {
		c.Drives = []string{filepath.Join(c.DataDir, "drive0")}
	}
}

// Validate reports the first configuration error.
func (c *Config) Validate() error {
	if len(c.Roles) == 0 {
		return errors.New("server: no roles given")
	}
	for _, r := range c.Roles {
		switch r {
		case RoleGateway, RoleStorage, RoleMeta:
		default:
			return fmt.Errorf("server: unknown role %q (want gateway, storage or meta)", r)
		}
	}
	if err := c.validateIdentity(); err != nil {
		return err
	}
	if c.NodeID == "" && (c.has(RoleMeta) || c.has(RoleStorage)) {
		return errors.New("server: node id is required for the meta and storage roles")
	}
	if c.ClusterID == "" && c.has(RoleStorage) {
		return errors.New("server: cluster id is required for the storage role (it is written to and checked against every drive)")
	}
	if (c.has(RoleMeta) || c.has(RoleStorage)) && c.GRPCAddr == "" {
		return errors.New("server: grpc address is required for the meta and storage roles")
	}
	if c.has(RoleMeta) {
		if c.RaftAddr == "" {
			return errors.New("server: raft address is required for the meta role")
		}
		if c.DataDir == "" {
			return errors.New("server: data dir is required for the meta role")
		}
		if len(c.MetaPeers) == 0 {
			return errors.New("server: meta peers are required for the meta role")
		}
	}
	if (c.has(RoleGateway) || c.has(RoleStorage)) && len(c.MetaAddrs) == 0 {
		return errors.New("server: meta addresses are required for the gateway and storage roles")
	}
	if c.has(RoleStorage) && len(c.Drives) == 0 {
		return errors.New("server: at least one drive is required for the storage role")
	}
	if c.has(RoleGateway) {
		if c.S3Addr == "" && c.S3TLSAddr == "" {
			return errors.New("server: an s3 address (HTTP or TLS) is required for the gateway role")
		}
		if c.S3TLSAddr != "" && c.S3TLS == nil {
			return errors.New("server: the s3 TLS address needs a certificate and key (--s3-tls-cert, --s3-tls-key)")
		}
		if c.AccessKey == "" || c.SecretKey == "" {
			return errors.New("server: access key and secret key are required for the gateway role")
		}
		if err := c.Profile.Validate(); err != nil {
			return fmt.Errorf("server: erasure profile: %w", err)
		}
	}
	if c.Reserve != nil {
		if err := c.Reserve.Validate(); err != nil {
			return fmt.Errorf("server: free-space reserve: %w", err)
		}
	}
	if len(c.MasterKey) != 0 && len(c.MasterKey) != 32 {
		return fmt.Errorf("server: master key is %d bytes, want 32", len(c.MasterKey))
	}
	if len(c.PreviousMasterKey) != 0 && (len(c.PreviousMasterKey) != 32 || len(c.MasterKey) == 0) {
		return fmt.Errorf("server: previous master key is %d bytes, want 32, and needs a master key", len(c.PreviousMasterKey))
	}
	return nil
}

// ErrNoInternalTLS refuses a process configured with neither a
// certificate nor an explicit choice of plaintext internal traffic.
var ErrNoInternalTLS = errors.New("server: internal traffic needs mutual TLS: give --tls-ca, --tls-cert and --tls-key " +
	"(certificates from 'cairn admin ca init' and 'cairn admin cert issue'), or --insecure-internal to run unauthenticated on a trusted network")

// validateIdentity checks that the node ID and roles are the
// certificate's: a process cannot claim an identity its certificate does
// not give it.
func (c *Config) validateIdentity() error {
	if c.TLS == nil {
		if !c.InsecureInternal {
			return ErrNoInternalTLS
		}
		return nil
	}
	id := c.TLS.Identity()
	if id.NodeID == "" {
		return errors.New("server: the TLS certificate carries no cairn identity")
	}
	if c.NodeID != id.NodeID {
		return fmt.Errorf("server: node id %q is not the certificate's (%q)", c.NodeID, id.NodeID)
	}
	if c.ClusterID != id.ClusterID {
		return fmt.Errorf("server: cluster id %q is not the certificate's (%q)", c.ClusterID, id.ClusterID)
	}
	for _, r := range c.Roles {
		if !id.Has(r) {
			return fmt.Errorf("server: role %s is not in the certificate of %s", r, id)
		}
	}
	return nil
}

// ParsePeers parses "id=raftAddr=grpcAddr" entries.
func ParsePeers(specs []string) ([]meta.Peer, error) {
	var peers []meta.Peer
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		parts := strings.Split(s, "=")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("server: meta peer %q: want id=raftAddr=grpcAddr", s)
		}
		peers = append(peers, meta.Peer{ID: parts[0], RaftAddr: parts[1], GRPCAddr: parts[2]})
	}
	return peers, nil
}

// Server is one running process.
type Server struct {
	cfg    Config
	logger *slog.Logger

	grpcLis  net.Listener
	grpcSrv  *grpc.Server
	adminLis net.Listener
	adminSrv *http.Server
	// metrics is the process's registry; nil without AdminAddr.
	metrics *prometheus.Registry
	// rpc counts the process's gRPC calls and passes request IDs on.
	rpcClient, rpcServer *observe.GRPC
	gw                   *gateway.Gateway
	s3Lis                net.Listener
	s3TLSLis             net.Listener
	httpSrv              *http.Server
	console              consoleServer
	metaNode             *meta.Node
	store                *storage.Server
	mc                   *metaclient.Client
	buckets              *bucketcache.Cache
	maps                 *clustermap.Cache
	pool                 *objio.Pool
	bodies               *objio.Store
	reports              *objio.Reporter

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// grpcBuffers is the gRPC server's buffer pool: the buffers it reads
// HTTP/2 data frames into (up to 16 KiB each, the largest frame a peer
// sends), and the rare buffer it gathers small frames into. gRPC's own
// pool clears every buffer it hands out, which cost 6 % of a storage
// node's CPU under PUT; a shardcodec.Pool does not. That is safe because
// gRPC fills every byte of a buffer it reads into (io.ReadFull of the
// frame, or a copy of exactly the gathered bytes) before anyone can see
// it, and hands on only the filled length; no stale byte is ever exposed.
// The pool serves every service of the server, meta's as well as
// storage's: the same holds for their messages, whose frames are as small
// or smaller.
var grpcBuffers = &shardcodec.Pool{}

// grpcServerOptions sizes flow-control windows for shard traffic: the
// defaults (64 KiB) throttle a 1 MiB block per message to a fraction of
// loopback bandwidth. secure says whether the server uses TLS.
func grpcServerOptions(secure bool) []grpc.ServerOption {
	return append(dial.ServerOptions(),
		experimental.BufferPool(grpcBuffers),
		grpc.MaxRecvMsgSize(16<<20),
		grpc.MaxSendMsgSize(16<<20),
		grpc.InitialWindowSize(8<<20),
		grpc.InitialConnWindowSize(32<<20),
		grpc.ReadBufferSize(dial.ReadBufferSize(secure)),
		// A write buffer the size of a 1 MiB block: the transport's
		// writer flushes (one write system call) about once per block.
		grpc.WriteBufferSize(1<<20),
	)
}

// Start builds and starts every configured role. On error, whatever was
// started is stopped again.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Log lines written with a request's context name its request ID.
	cfg.Logger = slog.New(observe.LogHandler(cfg.Logger.Handler()))
	s := &Server{cfg: cfg, logger: cfg.Logger, errc: make(chan error, 4)}
	s.setupMetrics()
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.start(ctx, runCtx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// setupMetrics creates the process's registry (with AdminAddr) and the
// gRPC interceptors, which pass request IDs on with or without metrics.
func (s *Server) setupMetrics() {
	cfg := &s.cfg
	var reg prometheus.Registerer
	if cfg.AdminAddr != "" {
		s.metrics = observe.NewRegistry()
		reg = s.metrics
	}
	s.rpcClient = observe.NewGRPC(reg, "client", nil)
	s.rpcServer = observe.NewGRPC(reg, "server", s.logger.With("role", "grpc"))
	cfg.Dialer = cfg.Dialer.With(s.rpcClient.DialOptions()...)
}

// registerer is where roles register their series; nil without AdminAddr.
func (s *Server) registerer() prometheus.Registerer {
	if s.metrics == nil {
		return nil
	}
	return s.metrics
}

func (s *Server) start(ctx, runCtx context.Context) error {
	cfg := &s.cfg
	var lc net.ListenConfig
	if cfg.has(RoleMeta) || cfg.has(RoleStorage) {
		lis, err := lc.Listen(ctx, "tcp", cfg.GRPCAddr)
		if err != nil {
			return fmt.Errorf("server: listen grpc %s: %w", cfg.GRPCAddr, err)
		}
		s.grpcLis = lis
		opts := append(grpcServerOptions(cfg.TLS != nil), s.rpcServer.ServerOptions()...)
		if cfg.TLS != nil {
			// After the metrics interceptors, so that refused calls are
			// counted too.
			opts = append(opts, grpc.Creds(dial.BatchWrites(credentials.NewTLS(cfg.TLS.ServerConfig()))))
			opts = append(opts, rpcauth.ServerOptions(true)...)
		}
		s.grpcSrv = grpc.NewServer(opts...)
	}
	if cfg.has(RoleMeta) {
		n, err := meta.New(ctx, meta.Config{
			NodeID:    cfg.NodeID,
			DataDir:   filepath.Join(cfg.DataDir, "meta"),
			RaftBind:  cfg.RaftAddr,
			Version:   cfg.Version,
			Peers:     cfg.MetaPeers,
			Join:      cfg.MetaJoin,
			ClusterID: cfg.ClusterID,
			Logger:    s.logger.With("role", "meta"),
			Dialer:    cfg.Dialer,
			TLS:       cfg.TLS,

			OrphanGrace:   cfg.OrphanGrace,
			SweepInterval: cfg.SweepInterval,

			NodeDownAfter:          cfg.NodeDownAfter,
			RaftHeartbeatTimeout:   cfg.RaftHeartbeatTimeout,
			RaftElectionTimeout:    cfg.RaftElectionTimeout,
			RaftLeaderLeaseTimeout: cfg.RaftLeaderLeaseTimeout,
			RepairBandwidth:        cfg.RepairBandwidth,
			RepairConcurrency:      cfg.RepairConcurrency,
			RepairDownAfter:        cfg.RepairDownAfter,
			LifecycleInterval:      cfg.LifecycleInterval,
			LifecycleRate:          cfg.LifecycleRate,
			LifecycleDay:           cfg.LifecycleDay,
			AutoAdmitNodes:         cfg.AutoAdmitNodes,
			Metrics:                s.registerer(),
		})
		if err != nil {
			return fmt.Errorf("server: start meta: %w", err)
		}
		s.metaNode = n
		n.Register(s.grpcSrv)
	}
	if cfg.has(RoleStorage) {
		st, err := storage.New(storage.Config{
			NodeID:        cfg.NodeID,
			ClusterID:     cfg.ClusterID,
			FormatDrives:  cfg.FormatDrives,
			Version:       cfg.Version,
			Addr:          cfg.GRPCAddr,
			FailureDomain: cfg.FailureDomain,
			Drives:        cfg.Drives,
			MetaAddrs:     cfg.MetaAddrs,
			Dialer:        cfg.Dialer,
			ScrubRate:     cfg.ScrubRate,
			ScrubInterval: cfg.ScrubInterval,
			NoDirectIO:    cfg.NoDirectIO,
			Logger:        s.logger.With("role", "storage"),
			Metrics:       s.registerer(),
		})
		if err != nil {
			return fmt.Errorf("server: start storage: %w", err)
		}
		s.store = st
		st.Register(s.grpcSrv)
	}
	if s.grpcSrv != nil {
		s.goServe("grpc", func() error { return s.grpcSrv.Serve(s.grpcLis) })
	}
	if s.store != nil {
		s.store.Start(runCtx)
	}
	if cfg.has(RoleGateway) {
		if err := s.startGateway(ctx, runCtx); err != nil {
			return err
		}
	}
	return s.startAdmin(ctx)
}

// startAdmin serves /metrics, /healthz and /readyz on AdminAddr.
func (s *Server) startAdmin(ctx context.Context) error {
	if s.cfg.AdminAddr == "" {
		return nil
	}
	var checks []observe.Check
	if s.metaNode != nil {
		checks = append(checks, observe.Check{Role: RoleMeta, Fn: s.metaNode.Ready})
	}
	if s.store != nil {
		checks = append(checks, observe.Check{Role: RoleStorage, Fn: s.store.Ready})
	}
	if s.gw != nil {
		checks = append(checks, observe.Check{Role: RoleGateway, Fn: s.gw.Ready})
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("server: listen admin %s: %w", s.cfg.AdminAddr, err)
	}
	s.adminLis = lis
	s.adminSrv = &http.Server{
		Handler:           observe.Handler(s.metrics, checks),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.goServe("admin", func() error {
		if err := s.adminSrv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}

// AdminAddr is the admin listener's address (useful with port 0), or "".
func (s *Server) AdminAddr() string {
	if s.adminLis == nil {
		return ""
	}
	return s.adminLis.Addr().String()
}

func (s *Server) startGateway(ctx, runCtx context.Context) error {
	cfg := &s.cfg
	mc, err := metaclient.New(ctx, metaclient.Config{Addrs: cfg.MetaAddrs, Dialer: cfg.Dialer, Logger: s.logger.With("role", "metaclient"), Learn: true})
	if err != nil {
		return fmt.Errorf("server: dial meta: %w", err)
	}
	s.mc = mc
	rotating := false
	if len(cfg.MasterKey) != 0 {
		if rotating, err = s.checkMasterKey(ctx, mc); err != nil {
			return fmt.Errorf("server: gateway: %w", err)
		}
	}
	s.maps = clustermap.New(clustermap.Config{Meta: mc, Logger: s.logger.With("role", "clustermap"), Reserve: cfg.Reserve})
	if err := s.maps.Start(runCtx); err != nil {
		return fmt.Errorf("server: cluster map: %w", err)
	}
	s.awaitClusterMap(ctx)
	s.pool = objio.NewPool(cfg.Dialer)
	// Shards a GET finds corrupt or missing go to the repairer at once.
	s.reports = objio.NewReporter(mc, "gateway", s.logger.With("role", "objio"))
	store, err := objio.New(objio.Config{Maps: s.maps, Dialer: s.pool, Logger: s.logger.With("role", "objio"), Metrics: s.registerer(),
		OnReadFailure: s.reports.OnReadFailure, PutBufferBytes: cfg.PutBufferBytes})
	if err != nil {
		return fmt.Errorf("server: objio: %w", err)
	}
	s.bodies = store
	var buckets gateway.BucketCache
	if !cfg.NoBucketCache {
		bc, err := bucketcache.New(bucketcache.Config{Meta: mc, Logger: s.logger.With("role", "bucketcache")})
		if err != nil {
			return fmt.Errorf("server: bucket cache: %w", err)
		}
		s.buckets, buckets = bc, bc
	}
	// While a rotation is in progress, new data keys are wrapped under the
	// previous master key too, for the gateways not restarted yet.
	keyring, err := sse.NewKeyringMasters(sse.MasterKeys{Current: cfg.MasterKey, Previous: cfg.PreviousMasterKey, SealPrevious: rotating}, cfg.KMSKeys)
	if err != nil {
		return fmt.Errorf("server: encryption keys: %w", err)
	}
	gw, err := gateway.New(gateway.Config{
		Region:              cfg.Region,
		AccessKey:           cfg.AccessKey,
		SecretKey:           cfg.SecretKey,
		Meta:                gateway.NewMetaClient(mc),
		Bodies:              store,
		Profile:             cfg.Profile,
		StorageClasses:      cfg.StorageClasses,
		VirtualHostSuffixes: cfg.VirtualHostSuffixes,
		BodyStallTimeout:    cfg.BodyStallTimeout,
		LifecycleDay:        cfg.LifecycleDay,
		InlineMaxBytes:      cfg.InlineMaxBytes,
		Keyring:             keyring,
		MasterKey:           cfg.MasterKey,
		PreviousMasterKey:   cfg.PreviousMasterKey,
		Logger:              s.logger.With("role", "gateway"),
		Metrics:             s.registerer(),
		Buckets:             buckets,

		// Bodies committed under-spread go to the repairer too, to be
		// spread at once if the leader's map has the nodes.
		OnUnderSpread: s.reports.OnUnderSpread,
		MapCaughtUp:   s.maps.CaughtUp,
	})
	if err != nil {
		return fmt.Errorf("server: gateway: %w", err)
	}
	s.gw = gw
	if s.buckets != nil {
		// Started after the gateway registered its user-cache hook.
		s.buckets.Start()
	}
	var lc net.ListenConfig
	if cfg.S3Addr != "" {
		lis, err := lc.Listen(ctx, "tcp", cfg.S3Addr)
		if err != nil {
			return fmt.Errorf("server: listen s3 %s: %w", cfg.S3Addr, err)
		}
		s.s3Lis = lis
	}
	if cfg.S3TLSAddr != "" {
		lis, err := lc.Listen(ctx, "tcp", cfg.S3TLSAddr)
		if err != nil {
			return fmt.Errorf("server: listen s3 tls %s: %w", cfg.S3TLSAddr, err)
		}
		s.s3TLSLis = lis
	}
	s.httpSrv = &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if s.s3Lis != nil {
		s.goServe("s3", func() error {
			if err := s.httpSrv.Serve(s.s3Lis); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	if err := s.startConsole(ctx, gw, mc); err != nil {
		return err
	}
	if s.s3TLSLis != nil {
		// The certificate is looked up per handshake, so rotated files
		// (or SIGHUP) take effect for new connections while established
		// ones keep theirs.
		s.httpSrv.TLSConfig = cfg.S3TLS.ServedConfig()
		// HTTP/1.1 only, as S3 itself serves: the S3 request paths
		// (aws-chunked bodies, 100-continue) are built and tested on it.
		s.httpSrv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		s.goServe("s3-tls", func() error {
			if err := s.httpSrv.ServeTLS(s.s3TLSLis, "", ""); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	return nil
}

// awaitClusterMap gives the gateway a bounded chance to learn the cluster
// map before it takes requests, so that the first PUTs after a restart are
// not refused for want of a map. Without a meta group it starts anyway and
// answers 503 until the map arrives.
func (s *Server) awaitClusterMap(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.maps.Refresh(rctx)
		cancel()
		if err == nil && len(s.maps.Map().Nodes) > 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.logger.Warn("starting without a cluster map", "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) goServe(name string, serve func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := serve(); err != nil {
			select {
			case s.errc <- fmt.Errorf("server: %s: %w", name, err):
			default:
			}
		}
	}()
}

// S3Addr is the gateway's listening address (useful with port 0).
func (s *Server) S3Addr() string {
	if s.s3Lis == nil {
		return ""
	}
	return s.s3Lis.Addr().String()
}

// S3TLSAddr is the gateway's HTTPS listening address.
func (s *Server) S3TLSAddr() string {
	if s.s3TLSLis == nil {
		return ""
	}
	return s.s3TLSLis.Addr().String()
}

// Err delivers the first failure of a listener after Start.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops every role: first the front door (S3), then the data and
// metadata services, and waits for their goroutines.
func (s *Server) Close() error {
	var errs []error
	if s.adminSrv != nil {
		// Probes see the process go away first.
		_ = s.adminSrv.Close()
	}
	s.console.close()
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = s.httpSrv.Close()
		}
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.buckets != nil {
		s.buckets.Close()
	}
	if s.maps != nil {
		s.maps.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.bodies != nil {
		_ = s.bodies.Close()
	}
	if s.reports != nil {
		s.reports.Close()
	}
	if s.mc != nil {
		_ = s.mc.Close()
	}
	if s.grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { s.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			s.grpcSrv.Stop()
			<-stopped
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.metaNode != nil {
		if err := s.metaNode.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}
