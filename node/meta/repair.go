package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/repair"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// repairerRetry is how soon a leader whose repairer did not start tries
// again.
const repairerRetry = time.Second

// errNoRepairer is returned on the leader before its repairer started.
var errNoRepairer = errors.New("meta: repairer not running yet")

// runRepairer runs a repairer while this node leads, a fresh one for each
// term of leadership (it keeps nothing: a new leader rescans). It runs
// until Close.
func (n *Node) runRepairer(ctx context.Context) {
	var (
		stop func()
		done chan struct{}
	)
	halt := func() {
		if stop != nil {
			stop()
			<-done
			stop = nil
			n.repairer.Store(nil)
		}
	}
	defer halt()
	var retry <-chan time.Time
	leading, changed := n.leading.state()
	for {
		if leading && stop == nil {
			r, err := n.newRepairer()
			if err != nil {
				n.log.Error("repairer not started", "err", err)
				retry = time.After(repairerRetry)
			} else {
				rctx, cancel := context.WithCancel(ctx)
				stop, done = cancel, make(chan struct{})
				n.repairer.Store(r)
				go func() {
					defer close(done)
					r.Run(rctx)
				}()
				n.log.Info("repairer started")
			}
		} else if !leading && stop != nil {
			halt()
			n.log.Info("repairer stopped: leadership lost")
		}
		select {
		case <-ctx.Done():
			return
		case <-retry:
			retry = nil
		case <-changed:
			was := leading
			leading, changed = n.leading.state()
			if was && leading && stop != nil {
				// Leadership was lost and regained since: the running
				// repairer belongs to an earlier term.
				halt()
				n.log.Info("repairer stopped: leadership regained in a new term")
			}
		}
	}
}

func (n *Node) newRepairer() (*repair.Repairer, error) {
	return repair.New(repair.Config{
		Metadata:    repairMeta{n: n},
		Proposer:    n,
		Rebuilder:   n.objio,
		Shards:      repairShards{n: n},
		Bandwidth:   n.cfg.RepairBandwidth,
		Concurrency: n.cfg.RepairConcurrency,
		DownAfter:   n.cfg.RepairDownAfter,
		Logger:      n.log.With("component", "repair"),
		Now:         n.cfg.Now,
	})
}

// repairMeta is the repairer's view of the FSM. The leader's FSM is read
// directly: the repairer runs only on the leader, and every decision it
// commits is a compare-and-set.
type repairMeta struct{ n *Node }

func toRepairBody(b metadata.Body) repair.Body {
	return repair.Body{
		Bucket: b.Bucket, Key: b.Key, VersionID: b.VersionID, UploadID: b.UploadID, PartNumber: b.PartNumber,
		DataID: b.DataID, Profile: b.Profile, Shards: b.Shards, Digests: b.Digests, StoredSize: b.StoredSize,
	}
}

func (m repairMeta) ScanBodies(_ context.Context, cursor []byte, limit int) ([]repair.Body, []byte, error) {
	bodies, next, err := m.n.fsm.ScanBodies(cursor, limit)
	if err != nil {
		return nil, nil, err
	}
	out := make([]repair.Body, len(bodies))
	for i, b := range bodies {
		out[i] = toRepairBody(b)
	}
	return out, next, nil
}

func (m repairMeta) LocateBody(_ context.Context, dataID string) (repair.Body, bool, error) {
	b, ok, err := m.n.fsm.LocateBody(dataID)
	return toRepairBody(b), ok, err
}

func (m repairMeta) HealPaused(context.Context) (bool, error) { return m.n.fsm.HealPaused() }

func (m repairMeta) ClusterMap(context.Context) (*metapb.ClusterMap, error) { return m.n.clusterMap() }

func (m repairMeta) Rebalance(context.Context) (*metapb.RebalanceState, error) {
	return m.n.fsm.Rebalance()
}

func (m repairMeta) HasBucket(_ context.Context, name string) (bool, error) {
	_, err := m.n.fsm.GetBucket(name)
	if errors.Is(err, metadata.ErrNoSuchBucket) {
		return false, nil
	}
	return err == nil, err
}

// storageFor returns a full storage client for a node of the map.
func (n *Node) storageFor(node string) (storagepb.StorageClient, error) {
	addr, ok := n.maps.Addr(placement.NodeID(node))
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "meta: storage node %s has no known address", node)
	}
	return n.objioDialer.Storage(addr)
}

// repairShards reaches storage nodes for the repairer's scrubs.
type repairShards struct{ n *Node }

func (s repairShards) VerifyShard(ctx context.Context, node string, in *storagepb.VerifyShardRequest) (*storagepb.VerifyShardResponse, error) {
	c, err := s.n.storageFor(node)
	if err != nil {
		return nil, err
	}
	return c.VerifyShard(ctx, in)
}

func (s repairShards) StatShard(ctx context.Context, node string, in *storagepb.StatShardRequest) (*storagepb.StatShardResponse, error) {
	c, err := s.n.storageFor(node)
	if err != nil {
		return nil, err
	}
	return c.StatShard(ctx, in)
}

func (s repairShards) Scrub(ctx context.Context, node string) (*storagepb.ScrubResponse, error) {
	c, err := s.n.storageFor(node)
	if err != nil {
		return nil, err
	}
	return c.Scrub(ctx, &storagepb.ScrubRequest{})
}

// storageDialer adapts Config.Storage to objio.Dialer: its clients must be
// full storage clients.
type storageDialer struct{ dial StorageDialer }

func (d storageDialer) Storage(addr string) (storagepb.StorageClient, error) {
	c, err := d.dial(addr)
	if err != nil {
		return nil, err
	}
	sc, ok := c.(storagepb.StorageClient)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "meta: storage client for %s cannot read or write shards", addr)
	}
	return sc, nil
}

// fsmMaps is objio.Maps over the FSM's cluster map, as the leader sees it
// (liveness from its clock), refreshed at most once a second.
type fsmMaps struct {
	n *Node

	mu       sync.Mutex
	at       time.Time
	m        placement.Map
	addrs    map[placement.NodeID]string
	suspects map[placement.NodeID]time.Time
}

const mapsMaxAge = time.Second

func (f *fsmMaps) refreshLocked() {
	now := f.n.cfg.Now()
	if f.addrs != nil && now.Sub(f.at) < mapsMaxAge {
		return
	}
	pm, err := f.n.clusterMap()
	if err != nil {
		f.n.log.Warn("repair: read cluster map", "err", err)
		return
	}
	f.at = now
	f.m = placement.Map{Epoch: pm.GetEpoch()}
	f.addrs = map[placement.NodeID]string{}
	for _, node := range pm.GetNodes() {
		id := placement.NodeID(node.GetNodeId())
		pn := placement.Node{ID: id, Domain: node.GetFailureDomain(), Up: node.GetUp() && !node.GetDown(),
			Draining: node.GetState() != metapb.NodeState_NODE_ACTIVE}
		for _, d := range node.GetDrives() {
			pn.Drives = append(pn.Drives, placement.Drive{ID: placement.DriveID(d.GetDriveId()),
				CapacityBytes: d.GetCapacityBytes(), FreeBytes: d.GetFreeBytes(), Active: d.GetState() == metapb.DriveState_DRIVE_ACTIVE})
		}
		f.m.Nodes = append(f.m.Nodes, pn)
		if node.GetAddr() != "" {
			f.addrs[id] = node.GetAddr()
		}
	}
}

// Map implements objio.Maps.
func (f *fsmMaps) Map() placement.Map {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked()
	now := f.n.cfg.Now()
	out := placement.Map{Epoch: f.m.Epoch, Nodes: append([]placement.Node(nil), f.m.Nodes...)}
	for i := range out.Nodes {
		if until, ok := f.suspects[out.Nodes[i].ID]; ok && now.Before(until) {
			out.Nodes[i].Up = false
		}
	}
	return out
}

// Addr implements objio.Maps.
func (f *fsmMaps) Addr(node placement.NodeID) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked()
	a, ok := f.addrs[node]
	return a, ok
}

// Suspect implements objio.Maps.
func (f *fsmMaps) Suspect(node placement.NodeID, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.suspects == nil {
		f.suspects = map[placement.NodeID]time.Time{}
	}
	f.suspects[node] = f.n.cfg.Now().Add(d)
}

// newObjio builds the store the repairer rebuilds shards through.
func (n *Node) newObjio() error {
	if n.cfg.Storage != nil {
		n.objioDialer = storageDialer{dial: n.cfg.Storage}
	} else {
		pool := objio.NewPool(n.cfg.Dialer)
		n.objioPool = pool
		n.objioDialer = pool
	}
	n.maps = &fsmMaps{n: n}
	s, err := objio.New(objio.Config{Maps: n.maps, Dialer: n.objioDialer, Logger: n.log.With("component", "objio"), Now: n.cfg.Now})
	if err != nil {
		return fmt.Errorf("meta: objio: %w", err)
	}
	n.objio = s
	return nil
}
