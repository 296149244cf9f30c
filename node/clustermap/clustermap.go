// Package clustermap keeps a local copy of the cluster map that the meta
// group serves, converted to placement.Map, and keeps it current from the
// meta leader's WatchClusterMap stream: a new map arrives when anything
// placement depends on changes, and at least every refresh interval with
// the soft state (heartbeat times, free bytes). While the stream is down,
// and against a meta group that does not serve it, the cache polls
// GetClusterMap every Interval instead.
//
// Imports: placement and proto/metapb only; it never imports a role.
//
// The served map carries liveness (up, committed down) and drive usage;
// the cache adds the free-space Reserve from its Config, so that placement
// skips drives below it.
//
// On top of the served map it keeps local suspicions: a caller that failed to
// reach a storage node marks it suspect for a while, and Map reports it down
// until then. This lets the next PUTs avoid a dead node at once instead of
// waiting for the meta group's heartbeat timeout. A suspicion ends early when
// a refreshed map shows a heartbeat from the node stamped after the
// suspicion began: the node is alive again (restarted, resumed), so it is
// used again within a heartbeat and a poll instead of a whole suspicion.
// A drive can be suspected on its own (it reported itself full): Map then
// reports that drive inactive until the suspicion ends.
//
// Lock order: Cache.mu is a leaf lock; nothing is called while holding it.
package clustermap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
)

// DefaultInterval is how often the cache polls the meta group by default
// when it cannot watch the map, and how soon it reopens a watch that
// ended.
const DefaultInterval = time.Second

// watchRetry is how long a cache whose meta group does not serve
// WatchClusterMap (an older version) polls before it tries again.
const watchRetry = time.Minute

// silentRefreshes is how many refresh intervals a watch may stay silent
// before the cache takes its leader for gone and reopens it.
const silentRefreshes = 3

var (
	// ErrInvalidConfig marks a Config that cannot work.
	ErrInvalidConfig = errors.New("clustermap: invalid config")
	// ErrStarted is returned by Start when the cache is already running.
	ErrStarted = errors.New("clustermap: already started")
)

// Config configures a Cache.
type Config struct {
	// Meta serves the cluster map. Required.
	Meta metapb.MetaClient
	// Interval between polls; DefaultInterval when zero.
	Interval time.Duration
	// Logger receives poll failures; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock used for suspicions; time.Now when nil.
	Now func() time.Time
	// Reserve is the free space every drive keeps back from new shards
	// (placement.Map.Reserve). Nil means placement.DefaultReserve; point
	// at a zero Reserve to hold back nothing but full drives.
	Reserve *placement.Reserve
}

func (c *Config) setDefaults() {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Reserve == nil {
		r := placement.DefaultReserve
		c.Reserve = &r
	}
}

// Validate reports whether the Config, after defaults, can work.
func (c Config) Validate() error {
	c.setDefaults()
	if c.Meta == nil {
		return fmt.Errorf("%w: Meta is nil", ErrInvalidConfig)
	}
	if c.Interval < 0 {
		return fmt.Errorf("%w: negative Interval %v", ErrInvalidConfig, c.Interval)
	}
	if err := c.Reserve.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Cache holds the latest cluster map. It is safe for concurrent use.
type Cache struct {
	cfg Config

	mu struct {
		sync.Mutex
		m        placement.Map
		addrs    map[placement.NodeID]string
		beats    map[placement.NodeID]int64 // last heartbeat, unix nanos
		suspects map[placement.NodeID]suspicion
		drives   map[placement.DriveID]time.Time // suspected drives, until when
		cancel   context.CancelFunc
	}
	wg sync.WaitGroup
}

// suspicion is one suspected node.
type suspicion struct {
	since, until time.Time
	beat         int64 // the node's last heartbeat when suspected
}

// New returns an empty cache; call Refresh or Start to fill it.
func New(cfg Config) *Cache {
	cfg.setDefaults()
	c := &Cache{cfg: cfg}
	c.mu.addrs = map[placement.NodeID]string{}
	c.mu.suspects = map[placement.NodeID]suspicion{}
	c.mu.drives = map[placement.DriveID]time.Time{}
	c.mu.beats = map[placement.NodeID]int64{}
	return c
}

// Start watches the map (see the package doc), polling when it cannot,
// until ctx ends or Close is called. Failures are logged and retried at
// the next tick; the last good map stays in use meanwhile.
func (c *Cache) Start(ctx context.Context) error {
	if err := c.cfg.Validate(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.cancel != nil {
		return ErrStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	c.mu.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(ctx)
	}()
	return nil
}

func (c *Cache) run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	var noWatchUntil time.Time
	for {
		if time.Now().After(noWatchUntil) {
			err := c.watch(ctx)
			if ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.Unimplemented {
				noWatchUntil = time.Now().Add(watchRetry)
				c.cfg.Logger.Info("cluster map watch not served; polling", slog.Any("err", err))
			} else {
				c.cfg.Logger.Debug("cluster map watch ended", slog.Any("err", err))
			}
		}
		// One poll while the watch is down keeps the map fresh; the
		// watch is reopened at the next tick.
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("cluster map poll failed", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watch applies the maps of one WatchClusterMap stream until it ends. A
// stream silent for silentRefreshes refresh intervals is given up: its
// leader may be gone without closing the connection.
func (c *Cache) watch(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.cfg.Meta.WatchClusterMap(ctx, &metapb.WatchClusterMapRequest{})
	if err != nil {
		return fmt.Errorf("clustermap: watch: %w", err)
	}
	var silence *time.Timer
	defer func() {
		if silence != nil {
			silence.Stop()
		}
	}()
	for {
		ev, err := st.Recv()
		if err != nil {
			return fmt.Errorf("clustermap: watch: %w", err)
		}
		limit := silentRefreshes * time.Duration(ev.GetRefreshIntervalMs()) * time.Millisecond
		if limit <= 0 {
			limit = silentRefreshes * c.cfg.Interval
		}
		if silence == nil {
			silence = time.AfterFunc(limit, cancel)
		} else {
			silence.Reset(limit)
		}
		c.apply(ev.GetMap())
	}
}

// Close stops polling and waits for the poller to exit.
func (c *Cache) Close() {
	c.mu.Lock()
	cancel := c.mu.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
}

// Refresh fetches the map now. A map older (lower epoch) than the one held
// is ignored, so a lagging answer never undoes a newer one.
func (c *Cache) Refresh(ctx context.Context) error {
	if c.cfg.Meta == nil {
		return fmt.Errorf("%w: Meta is nil", ErrInvalidConfig)
	}
	resp, err := c.cfg.Meta.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
	if err != nil {
		return fmt.Errorf("clustermap: get cluster map: %w", err)
	}
	c.apply(resp.GetMap())
	return nil
}

// apply installs a served map unless it is older (lower epoch) than the
// one held, so a lagging answer never undoes a newer one.
func (c *Cache) apply(pm *metapb.ClusterMap) {
	m, addrs, beats := convert(pm)
	m.Reserve = *c.cfg.Reserve
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Epoch < c.mu.m.Epoch {
		return
	}
	c.mu.m = m
	c.mu.addrs = addrs
	c.mu.beats = beats
	for id, s := range c.mu.suspects {
		if b := beats[id]; b > s.beat && b > s.since.UnixNano() {
			delete(c.mu.suspects, id)
		}
	}
}

func convert(pm *metapb.ClusterMap) (placement.Map, map[placement.NodeID]string, map[placement.NodeID]int64) {
	m := placement.Map{Epoch: pm.GetEpoch(), Nodes: make([]placement.Node, 0, len(pm.GetNodes()))}
	addrs := make(map[placement.NodeID]string, len(pm.GetNodes()))
	beats := make(map[placement.NodeID]int64, len(pm.GetNodes()))
	for _, pn := range pm.GetNodes() {
		n := placement.Node{
			ID:     placement.NodeID(pn.GetNodeId()),
			Domain: pn.GetFailureDomain(),
			Up:     pn.GetUp(),
			Down:   pn.GetDown(),
			// Draining and pending (not yet admitted) nodes take no
			// new shards; their shards stay readable.
			Draining: pn.GetState() != metapb.NodeState_NODE_ACTIVE,
			Drives:   make([]placement.Drive, 0, len(pn.GetDrives())),
		}
		for _, pd := range pn.GetDrives() {
			n.Drives = append(n.Drives, placement.Drive{
				ID:            placement.DriveID(pd.GetDriveId()),
				CapacityBytes: pd.GetCapacityBytes(),
				FreeBytes:     pd.GetFreeBytes(),
				Active:        pd.GetState() == metapb.DriveState_DRIVE_ACTIVE,
			})
		}
		m.Nodes = append(m.Nodes, n)
		addrs[n.ID] = pn.GetAddr()
		beats[n.ID] = pn.GetLastHeartbeatUnixNano()
	}
	return m, addrs, beats
}

// Map returns the current map with suspected nodes marked down. The Nodes
// slice is the caller's own; the Drives slices are shared and must be
// treated as read-only.
func (c *Cache) Map() placement.Map {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	m := placement.Map{Epoch: c.mu.m.Epoch, Nodes: append([]placement.Node(nil), c.mu.m.Nodes...), Reserve: c.mu.m.Reserve}
	for id, s := range c.mu.suspects {
		if !now.Before(s.until) {
			delete(c.mu.suspects, id)
		}
	}
	for id, until := range c.mu.drives {
		if !now.Before(until) {
			delete(c.mu.drives, id)
		}
	}
	if len(c.mu.suspects) == 0 && len(c.mu.drives) == 0 {
		return m
	}
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if _, ok := c.mu.suspects[n.ID]; ok {
			n.Up = false
		}
		copied := false
		for j, d := range n.Drives {
			if _, ok := c.mu.drives[d.ID]; !ok {
				continue
			}
			if !copied {
				// The cached slice is shared: copy before the first change.
				n.Drives = append([]placement.Drive(nil), n.Drives...)
				copied = true
			}
			n.Drives[j].Active = false
		}
	}
	return m
}

// CaughtUp reports, as an error naming what lags, whether the cache holds
// what served (a map just read from the meta group) says about placement:
// its epoch or a later one, and every node served as up known, at the
// same address, and up. A gateway that has just started, or whose watch
// is reconnecting, would otherwise place shards on the nodes it knows so
// far: two of a body on one node when it knows fewer than a stripe's
// worth. Local suspicions do not count: they are this process's own,
// deliberate view.
func (c *Cache) CaughtUp(served *metapb.ClusterMap) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.m.Epoch < served.GetEpoch() {
		return fmt.Errorf("clustermap: map at epoch %d, the meta group's at %d", c.mu.m.Epoch, served.GetEpoch())
	}
	up := make(map[placement.NodeID]bool, len(c.mu.m.Nodes))
	for _, n := range c.mu.m.Nodes {
		up[n.ID] = n.Up && !n.Down
	}
	var behind []string
	for _, n := range served.GetNodes() {
		id := placement.NodeID(n.GetNodeId())
		if n.GetUp() && !n.GetDown() && (!up[id] || c.mu.addrs[id] != n.GetAddr()) {
			behind = append(behind, n.GetNodeId())
		}
	}
	if len(behind) > 0 {
		return fmt.Errorf("clustermap: nodes up in the meta group's map but not in this one: %v", behind)
	}
	return nil
}

// Addr returns the storage gRPC address of node.
func (c *Cache) Addr(node placement.NodeID) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.mu.addrs[node]
	return a, ok && a != ""
}

// Suspect makes Map report node as down for d from now, whatever the meta
// group says. A later call extends the suspicion, never shortens it.
func (c *Cache) Suspect(node placement.NodeID, d time.Duration) {
	now := c.cfg.Now()
	until := now.Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.mu.suspects[node]; ok && cur.until.After(until) {
		return
	}
	c.mu.suspects[node] = suspicion{since: now, until: until, beat: c.mu.beats[node]}
}

// SuspectDrive makes Map report drive as inactive for d from now; a later
// call extends the suspicion, never shortens it.
func (c *Cache) SuspectDrive(drive placement.DriveID, d time.Duration) {
	until := c.cfg.Now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.mu.drives[drive]; ok && cur.After(until) {
		return
	}
	c.mu.drives[drive] = until
}
