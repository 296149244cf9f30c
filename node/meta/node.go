package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/metadata/raftlog"
	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/repair"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Sentinels. Errors returned by Node methods wrap these; the gRPC service
// maps them to codes in one table (see toStatus).
var (
	// ErrNoLeader means no leader was reachable before the deadline.
	ErrNoLeader = errors.New("meta: no leader")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("meta: node closed")
)

// Raft transport and timing. The timeouts are in Config: a killed leader
// is replaced within about two heartbeat timeouts.
const (
	transportMaxPool  = 3
	transportTimeout  = 10 * time.Second
	snapshotsRetained = 2
	// logCacheEntries bounds the in-memory cache of recent Raft entries:
	// at most 16 MiB with 64 KiB inline bodies.
	logCacheEntries = 256
	// defaultOpTimeout bounds an operation whose ctx has no deadline, so
	// that a leaderless group cannot hang a caller forever.
	defaultOpTimeout = 10 * time.Second
	// closeWaitLimit bounds how long Close waits for future waiters:
	// raft may drop futures queued for the FSM when it shuts down.
	closeWaitLimit = 5 * time.Second
)

func raftConfig(cfg *Config, l *slog.Logger) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(cfg.NodeID)
	c.HeartbeatTimeout = cfg.RaftHeartbeatTimeout
	c.ElectionTimeout = cfg.RaftElectionTimeout
	c.LeaderLeaseTimeout = cfg.RaftLeaderLeaseTimeout
	c.CommitTimeout = cfg.RaftCommitTimeout
	// The FSM is persistent and skips entries it has applied, so restoring
	// the last snapshot on start would only waste time.
	c.NoSnapshotRestoreOnStart = true
	// Let concurrent proposals share one log write.
	c.BatchApplyCh = true
	c.Logger = newHclog(l.With("component", "raft"))
	return c
}

// Node is one running meta voter.
type Node struct {
	cfg   Config
	log   *slog.Logger
	peers map[raft.ServerID]Peer

	lis   net.Listener // raft's; owned by trans once that exists
	raft  *raft.Raft
	fsm   *metadata.FSM
	logs  *raftlog.Store
	trans *raft.NetworkTransport

	// readyTerm is the last term in which this node, as leader, completed
	// a barrier; reads in that term need no further barrier.
	readyTerm atomic.Uint64
	// leaderSince is when this node, as leader, became ready to serve
	// reads; storage nodes get one NodeTimeout from then to find it.
	leaderSince atomic.Int64
	// leading tells the leader's duties when this node gains or loses
	// leadership (leadership.go).
	leading *leadership
	// live is the leader's soft state about storage nodes (liveness.go).
	live liveness
	// mapView is the map the cluster map watches send (mapwatch.go).
	mapView mapView
	met     *metrics
	// gcMu serializes GC rounds and guards gcCursor, the seq the next
	// round resumes after.
	gcMu     sync.Mutex
	gcCursor uint64

	stop      context.CancelFunc // stops the collector
	done      chan struct{}      // closed by Close
	closeOnce sync.Once
	closeErr  error

	wg      sync.WaitGroup // collector
	waiters sync.WaitGroup // future waiters; see closeWaitLimit
	// waitersMu guards waitersClosed, which stops new waiters once Close
	// waits for the old ones.
	waitersMu     sync.Mutex
	waitersClosed bool

	// The repairer's pieces: the store it rebuilds through, its
	// connections and map view; repairer is set while this node leads.
	objio       *objio.Store
	objioPool   *objio.Pool // nil when Config.Storage dials
	objioDialer objio.Dialer
	maps        *fsmMaps
	repairer    atomic.Pointer[repair.Repairer]

	mu struct {
		sync.Mutex
		peerConns    map[string]*grpc.ClientConn
		storageConns map[string]*grpc.ClientConn
	}
}

// New opens the stores under cfg.DataDir, bootstraps the group on first
// start, and starts raft and the GC collector.
func New(ctx context.Context, cfg Config) (*Node, error) {
	cfg.setDefaults()
	err := cfg.Validate()
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("meta: start: %w", ctx.Err())
	}
	if err != nil {
		if cfg.RaftListener != nil {
			err = errors.Join(err, cfg.RaftListener.Close())
		}
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.NodeID),
		peers:   map[raft.ServerID]Peer{},
		done:    make(chan struct{}),
		lis:     cfg.RaftListener,
		leading: newLeadership(),
	}
	n.mu.peerConns = map[string]*grpc.ClientConn{}
	n.mu.storageConns = map[string]*grpc.ClientConn{}
	for _, p := range cfg.Peers {
		n.peers[raft.ServerID(p.ID)] = p
	}
	if err := n.newObjio(); err != nil {
		return nil, err
	}
	if err := n.open(); err != nil {
		return nil, errors.Join(err, n.closeStores())
	}
	n.met = newMetrics(cfg.Metrics, n, n.log)
	gcCtx, stop := context.WithCancel(context.Background())
	n.stop = stop
	n.wg.Go(func() { n.watchLeadership(gcCtx) })
	n.wg.Go(func() { n.runCollector(gcCtx) })
	n.wg.Go(func() { n.runUploadExpiry(gcCtx, uploadExpiryInterval) })
	n.wg.Go(func() { n.runSweeper(gcCtx) })
	n.wg.Go(func() { n.runLiveness(gcCtx) })
	n.wg.Go(func() { n.runRepairer(gcCtx) })
	n.wg.Go(func() { n.runLifecycle(gcCtx) })
	return n, nil
}

func (n *Node) open() error {
	dir := n.cfg.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("meta: create data dir: %w", err)
	}
	// The stores sync their own directories' entries in dir; dir's entry
	// in its parent must be durable too, or a crash soon after the first
	// start can lose the whole group state.
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("meta: sync data dir entry: %w", err)
	}
	var err error
	n.logs, err = raftlog.Open(filepath.Join(dir, "raft"), raftlog.Options{Logger: n.log})
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), snapshotsRetained,
		newHclog(n.log.With("component", "snapshots")))
	if err != nil {
		return fmt.Errorf("meta: snapshot store: %w", err)
	}
	n.fsm, err = metadata.Open(filepath.Join(dir, "fsm"), metadata.Options{Logger: n.log})
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	advertise, err := net.ResolveTCPAddr("tcp", n.cfg.self().RaftAddr)
	if err != nil {
		return fmt.Errorf("meta: raft advertise address: %w", err)
	}
	if n.lis == nil {
		if n.lis, err = net.Listen("tcp", n.cfg.RaftBind); err != nil {
			return fmt.Errorf("meta: raft listen %s: %w", n.cfg.RaftBind, err)
		}
	}
	var stream raft.StreamLayer = &streamLayer{Listener: n.lis, advertise: advertise, dialer: n.cfg.Dialer}
	if n.cfg.TLS != nil {
		stream = &tlsStreamLayer{Listener: n.lis, advertise: advertise, dialer: n.cfg.Dialer, tls: n.cfg.TLS}
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: transportMaxPool,
		Timeout: transportTimeout,
		Logger:  newHclog(n.log.With("component", "raft-transport")),
	})

	rc := raftConfig(&n.cfg, n.log)
	existing, err := raft.HasExistingState(n.logs, n.logs, snaps)
	if err != nil {
		return fmt.Errorf("meta: check raft state: %w", err)
	}
	switch {
	case existing:
		// Bootstrap happens once: a node with Raft state (a log, a
		// snapshot, a restored backup) takes its configuration from it.
	case n.cfg.Join:
		// A voter added to a running group starts empty and waits, without
		// elections, until the leader adds it and replicates to it.
		n.log.Info("joining: waiting to be added to the meta group (cairn admin meta add-voter)")
	default:
		// Every initial voter bootstraps with the same configuration;
		// raft treats identical bootstraps as one.
		var servers []raft.Server
		for _, p := range n.cfg.Peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
		}
		if err := raft.BootstrapCluster(rc, n.logs, n.logs, snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
			return fmt.Errorf("meta: bootstrap: %w", err)
		}
	}
	// Raft reads back every entry it appended: the leader once per
	// follower to replicate it. The cache serves recent entries from
	// memory instead of a Pebble read and decode each; it keeps only
	// entries the store has accepted.
	cached, err := raft.NewLogCache(logCacheEntries, n.logs)
	if err != nil {
		return fmt.Errorf("meta: raft log cache: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, cached, n.logs, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("meta: start raft: %w", err)
	}
	return nil
}

// Close stops the collector and raft, then closes connections and stores.
// It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.done)
		n.stop()
		n.wg.Wait()
		var errs []error
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("meta: raft shutdown: %w", err))
		}
		n.waitWaiters()
		n.mu.Lock()
		for _, m := range []map[string]*grpc.ClientConn{n.mu.peerConns, n.mu.storageConns} {
			for addr, cc := range m {
				if err := cc.Close(); err != nil {
					errs = append(errs, fmt.Errorf("meta: close connection to %s: %w", addr, err))
				}
				delete(m, addr)
			}
		}
		n.mu.Unlock()
		errs = append(errs, n.closeStores())
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// waitWaiters joins the future waiters. Raft answers every future it has
// accepted except, at shutdown, ones already queued for the FSM; a waiter
// stuck on such a future is abandoned after closeWaitLimit rather than
// hanging Close forever.
func (n *Node) waitWaiters() {
	n.waitersMu.Lock()
	n.waitersClosed = true
	n.waitersMu.Unlock()
	joined := make(chan struct{})
	go func() {
		n.waiters.Wait()
		close(joined)
	}()
	t := time.NewTimer(closeWaitLimit)
	defer t.Stop()
	select {
	case <-joined:
	case <-t.C:
		n.log.Warn("raft left futures unanswered at shutdown; abandoning their waiters")
	}
}

func (n *Node) closeStores() error {
	var errs []error
	switch {
	case n.trans != nil && n.raft == nil:
		// raft closes the transport on shutdown; without raft we must.
		errs = append(errs, n.trans.Close())
	case n.trans == nil && n.lis != nil:
		errs = append(errs, n.lis.Close())
	}
	if n.objio != nil {
		errs = append(errs, n.objio.Close())
	}
	if n.objioPool != nil {
		errs = append(errs, n.objioPool.Close())
	}
	if n.fsm != nil {
		errs = append(errs, n.fsm.Close())
	}
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	return errors.Join(errs...)
}

// Register registers the Meta service on s.
func (n *Node) Register(s *grpc.Server) {
	metapb.RegisterMetaServer(s, &service{n: n})
}

// closed reports whether Close has begun.
func (n *Node) closed() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// leader returns the leader's peer entry, if a leader is known.
func (n *Node) leader() (Peer, bool) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return Peer{}, false
	}
	return n.peer(id)
}

func (n *Node) isLeader() bool { return n.raft.State() == raft.Leader }

// peerClient returns a Meta client for a peer's gRPC address, dialing and
// caching the connection on first use.
func (n *Node) peerClient(addr string) (metapb.MetaClient, error) {
	cc, err := n.cachedConn(addr, false)
	if err != nil {
		return nil, err
	}
	return metapb.NewMetaClient(cc), nil
}

// cachedConn returns the cached connection to a peer (or, with storage
// set, a storage node) at addr, creating it on first use. Connections are
// closed by Close.
func (n *Node) cachedConn(addr string, storage bool) (*grpc.ClientConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed() {
		return nil, ErrClosed
	}
	m := n.mu.peerConns
	if storage {
		m = n.mu.storageConns
	}
	if cc, ok := m[addr]; ok {
		return cc, nil
	}
	cc, err := n.cfg.Dialer.GRPC(addr)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	m[addr] = cc
	return cc, nil
}

// streamLayer is raft's TCP stream layer over a listener we own, so that
// tests and fault injection can supply the listener.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	dialer    *dial.Dialer
}

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dialer.DialContext(ctx, "tcp", string(addr))
}

func (s *streamLayer) Addr() net.Addr { return s.advertise }

// syncDir fsyncs a directory, making its entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
