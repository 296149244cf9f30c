// Package metaclient is a metapb.MetaClient that spreads over several meta
// nodes. Every meta node forwards writes and linearizable reads to the Raft
// leader, so any reachable node serves any call; the client therefore only
// has to find one that answers, preferring the leader (no forwarding hop).
//
// Imports: proto/metapb, node/dial and gRPC only.
//
// Every call is bounded: a read gets at most ReadTimeout and a Propose at
// most ProposeTimeout (or less, if the caller's context says so), so a meta
// group without quorum yields Unavailable or DeadlineExceeded within that
// bound instead of a hang. Within the call each node gets an attempt of at
// most AttemptTimeout (ProposeAttemptTimeout for proposals), so a node that
// hangs (a stopped process, a partition that drops packets) is abandoned and
// the next one tried; the last candidate gets whatever time is left. A node
// whose attempt timed out is avoided for AvoidFor: later calls try it only
// after every other node. The leader is learnt from Meta.Status, at start,
// every LeaderRefresh and after every failover, and is tried first.
//
// With Config.Learn (servers set it), the leader lookup also learns the
// group's current voters from Status (their gRPC addresses) and adds them
// to the configured ones, forgetting learnt voters that left, so the
// client keeps the group after every configured voter was replaced.
//
// A Propose that fails with Unavailable or times out may have reached the
// leader before the connection broke; retrying it on another node can apply
// it twice. Commands are written so that a replay is harmless (PutObject
// carries its version ID, CreateBucket answers BUCKET_ALREADY_EXISTS), which
// is why the client retries them like reads.
//
// Lock order: Client.mu is a leaf lock.
package metaclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Defaults for Config. A hung meta group therefore costs a read at most
// DefaultReadTimeout and a write at most DefaultProposeTimeout.
const (
	DefaultReadTimeout           = 6 * time.Second
	DefaultProposeTimeout        = 10 * time.Second
	DefaultAttemptTimeout        = 2 * time.Second
	DefaultProposeAttemptTimeout = 4 * time.Second
	DefaultAvoidFor              = 15 * time.Second
	DefaultLeaderRefresh         = 10 * time.Second
)

var (
	// ErrNoAddrs is returned by Dial when it is given no meta node address.
	ErrNoAddrs = errors.New("metaclient: no meta node addresses")
	// ErrInvalidConfig marks a Config that Validate rejects.
	ErrInvalidConfig = errors.New("metaclient: invalid config")
)

// Config configures a Client. Zero durations take the defaults above.
type Config struct {
	// Addrs are the meta nodes' gRPC addresses; required.
	Addrs []string
	// Dialer makes the connections; nil means dial.Default().
	Dialer *dial.Dialer
	// ReadTimeout bounds every call but Propose, failover included.
	ReadTimeout time.Duration
	// ProposeTimeout bounds a Propose, failover included.
	ProposeTimeout time.Duration
	// AttemptTimeout bounds one node's attempt at a read;
	// ProposeAttemptTimeout one node's attempt at a Propose. A proposal's
	// attempt must outlast a leader election, a read's need not.
	AttemptTimeout        time.Duration
	ProposeAttemptTimeout time.Duration
	// AvoidFor is how long a node whose attempt timed out is tried last.
	AvoidFor time.Duration
	// LeaderRefresh is how often the leader is looked up again.
	LeaderRefresh time.Duration
	// Now is the clock of avoidance; time.Now when nil.
	Now func() time.Time
	// Logger receives failovers; slog.Default() when nil.
	Logger *slog.Logger
	// Learn adds the meta group's current voters (their gRPC addresses,
	// from every leader lookup's Status) to Addrs, and forgets learnt ones
	// that left, so the client keeps the group when every configured
	// address is gone but voters added later are alive. Configured
	// addresses are always kept. Off for tools that ask given nodes.
	Learn bool
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.ProposeTimeout, DefaultProposeTimeout)
	def(&c.AttemptTimeout, DefaultAttemptTimeout)
	def(&c.ProposeAttemptTimeout, DefaultProposeAttemptTimeout)
	def(&c.AvoidFor, DefaultAvoidFor)
	def(&c.LeaderRefresh, DefaultLeaderRefresh)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Dialer == nil {
		c.Dialer = dial.Default()
	}
}

// Validate reports whether the Config, after defaults, can work.
func (c Config) Validate() error {
	c.setDefaults()
	if len(c.Addrs) == 0 {
		return ErrNoAddrs
	}
	for _, d := range []time.Duration{c.ReadTimeout, c.ProposeTimeout, c.AttemptTimeout, c.ProposeAttemptTimeout, c.AvoidFor, c.LeaderRefresh} {
		if d < 0 {
			return fmt.Errorf("%w: negative duration %v", ErrInvalidConfig, d)
		}
	}
	return nil
}

// Client calls the Meta service of one of several meta nodes, failing over
// between them. It is safe for concurrent use.
type Client struct {
	cfg Config
	// connect makes the client of a learnt address; nil disables
	// learning.
	connect func(addr string) (metapb.MetaClient, io.Closer, error)

	mu struct {
		sync.Mutex
		// nodes are the configured nodes, in configuration order, then
		// the learnt ones. The slice is replaced, never changed in
		// place, so order() can hand out its elements.
		nodes []*node
		// retired are the connections of learnt nodes that left the
		// group; calls in flight may still use them, so they are
		// closed by Close.
		retired []io.Closer
		// cur is the address of the node that answered last; leader
		// the one Status named leader, "" when unknown.
		cur, leader string
		// avoid[addr] is when a node may be tried in turn again.
		avoid map[string]time.Time
	}

	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ metapb.MetaClient = (*Client)(nil)

// node is one meta node the client calls.
type node struct {
	addr       string
	client     metapb.MetaClient
	closer     io.Closer // nil for test fakes
	configured bool
}

// Dial prepares connections to every address in addrs with the process's
// dial options (d; nil means dial.Default()) and the default timeouts.
func Dial(ctx context.Context, addrs []string, d *dial.Dialer) (*Client, error) {
	return New(ctx, Config{Addrs: addrs, Dialer: d})
}

// New prepares connections to every node of cfg. Connections are made
// lazily by gRPC, so New succeeds even when some nodes are down. It starts
// the leader lookup, which Close stops.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metaclient: dial: %w", err)
	}
	cfg.setDefaults()
	connect := func(addr string) (metapb.MetaClient, io.Closer, error) {
		cc, err := cfg.Dialer.GRPC(addr)
		if err != nil {
			return nil, nil, fmt.Errorf("metaclient: %w", err)
		}
		return metapb.NewMetaClient(cc), cc, nil
	}
	var nodes []*node
	for _, addr := range cfg.Addrs {
		m, cc, err := connect(addr)
		if err != nil {
			for _, n := range nodes {
				_ = n.closer.Close()
			}
			return nil, err
		}
		nodes = append(nodes, &node{addr: addr, client: m, closer: cc, configured: true})
	}
	if !cfg.Learn {
		connect = nil
	}
	return startNodes(cfg, nodes, connect), nil
}

// start builds a Client over given clients (tests pass fakes), one per
// configured address, and starts its leader lookup.
func start(cfg Config, clients []metapb.MetaClient) *Client {
	nodes := make([]*node, len(clients))
	for i, m := range clients {
		nodes[i] = &node{addr: cfg.Addrs[i], client: m, configured: true}
	}
	return startNodes(cfg, nodes, nil)
}

func startNodes(cfg Config, nodes []*node, connect func(string) (metapb.MetaClient, io.Closer, error)) *Client {
	cfg.setDefaults()
	c := &Client{cfg: cfg, connect: connect, kick: make(chan struct{}, 1)}
	c.mu.nodes = nodes
	c.mu.avoid = map[string]time.Time{}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.watchLeader(ctx)
	}()
	return c
}

// Close stops the leader lookup and closes every connection.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, n := range c.mu.nodes {
		if n.closer != nil {
			if err := n.closer.Close(); err != nil {
				errs = append(errs, fmt.Errorf("metaclient: close %s: %w", n.addr, err))
			}
		}
	}
	for _, cc := range c.mu.retired {
		_ = cc.Close()
	}
	return errors.Join(errs...)
}

// Leader returns the address of the node last named leader, if any.
func (c *Client) Leader() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.leader, c.mu.leader != ""
}

// Addrs returns the addresses the client calls: the configured ones, then
// the learnt ones.
func (c *Client) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.mu.nodes))
	for i, n := range c.mu.nodes {
		out[i] = n.addr
	}
	return out
}

// watchLeader looks the leader up at start, every LeaderRefresh and when
// kicked, until ctx ends.
func (c *Client) watchLeader(ctx context.Context) {
	t := time.NewTicker(c.cfg.LeaderRefresh)
	defer t.Stop()
	for {
		c.refreshLeader(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
	}
}

func (c *Client) refreshLeader(ctx context.Context) {
	st, err := callNodes(ctx, c, c.cfg.ReadTimeout, c.cfg.AttemptTimeout, false, func(ctx context.Context, m metapb.MetaClient) (*metapb.StatusResponse, error) {
		return m.Status(ctx, &metapb.StatusRequest{})
	})
	if err != nil {
		return
	}
	if c.connect != nil {
		c.learn(groupAddrs(st))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.leader = ""
	if slices.ContainsFunc(c.mu.nodes, func(n *node) bool { return n.addr == st.GetLeaderAddr() }) {
		c.mu.leader = st.GetLeaderAddr()
	}
}

// groupAddrs lists the gRPC addresses of a node's Raft configuration (and
// its leader), or nil when the node does not tell them (an older release).
func groupAddrs(st *metapb.StatusResponse) []string {
	if len(st.GetVoterInfo()) == 0 {
		return nil
	}
	var out []string
	for _, v := range st.GetVoterInfo() {
		if a := v.GetGrpcAddr(); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if a := st.GetLeaderAddr(); a != "" && !slices.Contains(out, a) {
		out = append(out, a)
	}
	return out
}

// learn makes the node set the configured nodes plus group (the group's
// current addresses): learnt nodes no longer in group are dropped, new
// addresses dialed. Nothing changes when group is empty.
func (c *Client) learn(group []string) {
	if len(group) == 0 {
		return
	}
	c.mu.Lock()
	var missing []string
	for _, a := range group {
		if !slices.ContainsFunc(c.mu.nodes, func(n *node) bool { return n.addr == a }) {
			missing = append(missing, a)
		}
	}
	c.mu.Unlock()
	var added []*node
	for _, a := range missing {
		m, cc, err := c.connect(a)
		if err != nil {
			c.cfg.Logger.Warn("cannot connect to a meta node the group names", "addr", a, "err", err)
			continue
		}
		added = append(added, &node{addr: a, client: m, closer: cc})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make([]*node, 0, len(c.mu.nodes)+len(added))
	for _, n := range c.mu.nodes {
		if n.configured || slices.Contains(group, n.addr) {
			next = append(next, n)
			continue
		}
		c.cfg.Logger.Info("forgetting a meta node that left the group", "addr", n.addr)
		delete(c.mu.avoid, n.addr)
		if n.closer != nil {
			c.mu.retired = append(c.mu.retired, n.closer)
		}
	}
	for _, n := range added {
		if slices.ContainsFunc(next, func(o *node) bool { return o.addr == n.addr }) {
			_ = n.closer.Close() // learnt concurrently
			continue
		}
		c.cfg.Logger.Info("learnt a meta node", "addr", n.addr)
		next = append(next, n)
	}
	c.mu.nodes = next
}

// kickLeader asks watchLeader for a lookup without waiting for it.
func (c *Client) kickLeader() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// order returns the node indexes in the order a call tries them: the
// leader, then the node that answered last, then the others; nodes being
// avoided go last, soonest-forgiven first.
func (c *Client) order() []*node {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	nodes := c.mu.nodes
	n := len(nodes)
	out := make([]*node, 0, n)
	cur := max(0, slices.IndexFunc(nodes, func(x *node) bool { return x.addr == c.mu.cur }))
	for i := range n {
		if x := nodes[(cur+i)%n]; x.addr == c.mu.leader {
			out = append([]*node{x}, out...)
		} else {
			out = append(out, x)
		}
	}
	avoided := func(x *node) bool { return now.Before(c.mu.avoid[x.addr]) }
	slices.SortStableFunc(out, func(a, b *node) int {
		switch aa, ab := avoided(a), avoided(b); {
		case aa && ab:
			return c.mu.avoid[a.addr].Compare(c.mu.avoid[b.addr])
		case aa:
			return 1
		case ab:
			return -1
		}
		return 0
	})
	return out
}

// answered records that node x served a call.
func (c *Client) answered(x *node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.cur = x.addr
	delete(c.mu.avoid, x.addr)
}

// hung records that node x let an attempt time out.
func (c *Client) hung(x *node) {
	c.mu.Lock()
	c.mu.avoid[x.addr] = c.cfg.Now().Add(c.cfg.AvoidFor)
	if c.mu.leader == x.addr {
		c.mu.leader = ""
	}
	c.mu.Unlock()
	c.cfg.Logger.Warn("meta node did not answer in time; avoiding it", "addr", x.addr, "for", c.cfg.AvoidFor)
}

// retryable reports whether err says the node could not serve the call, as
// opposed to the call itself failing. A DeadlineExceeded caused by the
// call's own deadline is final: another node would not have more time.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// call runs fn against the nodes in order() until one answers or fails with
// a non-retryable error, all within timeout (or the caller's deadline, if
// sooner). Each attempt but the last gets at most attempt.
func call[T any](ctx context.Context, c *Client, timeout, attempt time.Duration, fn func(context.Context, metapb.MetaClient) (T, error)) (T, error) {
	return callNodes(ctx, c, timeout, attempt, true, fn)
}

// callNodes is call; a call that is not sticky (the leader lookup, a
// background probe) leaves the preferred node and the lookups alone, so
// that only real traffic moves them.
func callNodes[T any](ctx context.Context, c *Client, timeout, attempt time.Duration, sticky bool, fn func(context.Context, metapb.MetaClient) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		zero    T
		lastErr error
	)
	order := c.order()
	for n, x := range order {
		actx, acancel := ctx, context.CancelFunc(func() {})
		if n < len(order)-1 {
			actx, acancel = context.WithTimeout(ctx, attempt)
		}
		resp, err := fn(actx, x.client)
		timedOut := actx.Err() != nil && ctx.Err() == nil
		acancel()
		if err == nil {
			if sticky {
				c.answered(x)
				if n > 0 {
					c.kickLeader()
				}
			}
			return resp, nil
		}
		lastErr = err
		if timedOut {
			c.hung(x)
			if sticky {
				c.kickLeader()
			}
			err = status.Errorf(codes.DeadlineExceeded, "metaclient: %s did not answer within %v: %v", x.addr, attempt, err)
			lastErr = err
		}
		if !retryable(ctx, err) {
			return zero, err
		}
	}
	// The gRPC status is returned unwrapped so callers can still read its
	// code with status.Code.
	return zero, lastErr
}

// read runs a read-only call with the read bounds.
func read[T any](ctx context.Context, c *Client, fn func(context.Context, metapb.MetaClient) (T, error)) (T, error) {
	return call(ctx, c, c.cfg.ReadTimeout, c.cfg.AttemptTimeout, fn)
}

// Propose implements metapb.MetaClient.
func (c *Client) Propose(ctx context.Context, in *metapb.ProposeRequest, opts ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	return call(ctx, c, c.cfg.ProposeTimeout, c.cfg.ProposeAttemptTimeout, func(ctx context.Context, m metapb.MetaClient) (*metapb.ProposeResponse, error) {
		return m.Propose(ctx, in, opts...)
	})
}

// GetBucket implements metapb.MetaClient.
func (c *Client) GetBucket(ctx context.Context, in *metapb.GetBucketRequest, opts ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.GetBucketResponse, error) {
		return m.GetBucket(ctx, in, opts...)
	})
}

// ListBuckets implements metapb.MetaClient.
func (c *Client) ListBuckets(ctx context.Context, in *metapb.ListBucketsRequest, opts ...grpc.CallOption) (*metapb.ListBucketsResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ListBucketsResponse, error) {
		return m.ListBuckets(ctx, in, opts...)
	})
}

// GetObject implements metapb.MetaClient.
func (c *Client) GetObject(ctx context.Context, in *metapb.GetObjectRequest, opts ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.GetObjectResponse, error) {
		return m.GetObject(ctx, in, opts...)
	})
}

// ListObjects implements metapb.MetaClient.
func (c *Client) ListObjects(ctx context.Context, in *metapb.ListObjectsRequest, opts ...grpc.CallOption) (*metapb.ListObjectsResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ListObjectsResponse, error) {
		return m.ListObjects(ctx, in, opts...)
	})
}

// GetClusterMap implements metapb.MetaClient.
func (c *Client) GetClusterMap(ctx context.Context, in *metapb.GetClusterMapRequest, opts ...grpc.CallOption) (*metapb.GetClusterMapResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.GetClusterMapResponse, error) {
		return m.GetClusterMap(ctx, in, opts...)
	})
}

// Heartbeat implements metapb.MetaClient.
func (c *Client) Heartbeat(ctx context.Context, in *metapb.HeartbeatRequest, opts ...grpc.CallOption) (*metapb.HeartbeatResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.HeartbeatResponse, error) {
		return m.Heartbeat(ctx, in, opts...)
	})
}

// Status implements metapb.MetaClient. It answers for whichever node it
// reaches, which is what tools asking "is any node up" want.
func (c *Client) Status(ctx context.Context, in *metapb.StatusRequest, opts ...grpc.CallOption) (*metapb.StatusResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.StatusResponse, error) {
		return m.Status(ctx, in, opts...)
	})
}

// ListObjectVersions implements metapb.MetaClient.
func (c *Client) ListObjectVersions(ctx context.Context, in *metapb.ListObjectVersionsRequest, opts ...grpc.CallOption) (*metapb.ListObjectVersionsResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ListObjectVersionsResponse, error) {
		return m.ListObjectVersions(ctx, in, opts...)
	})
}

// GetUser implements metapb.MetaClient.
func (c *Client) GetUser(ctx context.Context, in *metapb.GetUserRequest, opts ...grpc.CallOption) (*metapb.GetUserResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.GetUserResponse, error) {
		return m.GetUser(ctx, in, opts...)
	})
}

// ListUsers implements metapb.MetaClient.
func (c *Client) ListUsers(ctx context.Context, in *metapb.ListUsersRequest, opts ...grpc.CallOption) (*metapb.ListUsersResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ListUsersResponse, error) {
		return m.ListUsers(ctx, in, opts...)
	})
}

// GetMultipartUpload implements metapb.MetaClient.
func (c *Client) GetMultipartUpload(ctx context.Context, in *metapb.GetMultipartUploadRequest, opts ...grpc.CallOption) (*metapb.GetMultipartUploadResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.GetMultipartUploadResponse, error) {
		return m.GetMultipartUpload(ctx, in, opts...)
	})
}

// ListMultipartUploads implements metapb.MetaClient.
func (c *Client) ListMultipartUploads(ctx context.Context, in *metapb.ListMultipartUploadsRequest, opts ...grpc.CallOption) (*metapb.ListMultipartUploadsResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ListMultipartUploadsResponse, error) {
		return m.ListMultipartUploads(ctx, in, opts...)
	})
}

// UnknownData implements metapb.MetaClient.
func (c *Client) UnknownData(ctx context.Context, in *metapb.UnknownDataRequest, opts ...grpc.CallOption) (*metapb.UnknownDataResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.UnknownDataResponse, error) {
		return m.UnknownData(ctx, in, opts...)
	})
}

// ReportShards implements metapb.MetaClient.
func (c *Client) ReportShards(ctx context.Context, in *metapb.ReportShardsRequest, opts ...grpc.CallOption) (*metapb.ReportShardsResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ReportShardsResponse, error) {
		return m.ReportShards(ctx, in, opts...)
	})
}

// HealStatus implements metapb.MetaClient.
func (c *Client) HealStatus(ctx context.Context, in *metapb.HealStatusRequest, opts ...grpc.CallOption) (*metapb.HealStatusResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.HealStatusResponse, error) {
		return m.HealStatus(ctx, in, opts...)
	})
}

// MembershipStatus implements metapb.MetaClient.
func (c *Client) MembershipStatus(ctx context.Context, in *metapb.MembershipStatusRequest, opts ...grpc.CallOption) (*metapb.MembershipStatusResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.MembershipStatusResponse, error) {
		return m.MembershipStatus(ctx, in, opts...)
	})
}

// RemoveNode implements metapb.MetaClient. A retry after an unknown
// outcome is safe: removing a removed node answers removed.
func (c *Client) RemoveNode(ctx context.Context, in *metapb.RemoveNodeRequest, opts ...grpc.CallOption) (*metapb.RemoveNodeResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.RemoveNodeResponse, error) {
		return m.RemoveNode(ctx, in, opts...)
	})
}

// Scrub implements metapb.MetaClient.
func (c *Client) Scrub(ctx context.Context, in *metapb.ScrubRequest, opts ...grpc.CallOption) (*metapb.ScrubResponse, error) {
	return read(ctx, c, func(ctx context.Context, m metapb.MetaClient) (*metapb.ScrubResponse, error) {
		return m.Scrub(ctx, in, opts...)
	})
}

// WatchBuckets implements metapb.MetaClient. The stream lives as long as
// ctx, without the read bounds: it is opened on the first node of the
// call order (the leader when known; a follower relays the leader's
// stream), and the caller reopens it when it ends.
func (c *Client) WatchBuckets(ctx context.Context, in *metapb.WatchBucketsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BucketsEvent], error) {
	var lastErr error
	for _, x := range c.order() {
		st, err := x.client.WatchBuckets(ctx, in, opts...)
		if err == nil {
			return st, nil
		}
		lastErr = err
		if !retryable(ctx, err) {
			return nil, err
		}
	}
	return nil, lastErr
}

// WatchClusterMap implements metapb.MetaClient, opened as WatchBuckets is.
func (c *Client) WatchClusterMap(ctx context.Context, in *metapb.WatchClusterMapRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.ClusterMapEvent], error) {
	var lastErr error
	for _, x := range c.order() {
		st, err := x.client.WatchClusterMap(ctx, in, opts...)
		if err == nil {
			return st, nil
		}
		lastErr = err
		if !retryable(ctx, err) {
			return nil, err
		}
	}
	return nil, lastErr
}
