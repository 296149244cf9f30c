package meta

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// DefaultMapRefresh is how often a cluster map watch sends the map when
// nothing placement depends on changed: the soft state it refreshes
// (heartbeat times, free bytes) may lag by that much.
const DefaultMapRefresh = 10 * time.Second

// WatchClusterMap streams the cluster map (see metapb.Meta). The leader
// serves it; a follower relays the leader's stream.
//
// Why it may replace a poll: the first map is read after linearize, like
// GetClusterMap's. The leader then looks at the map every WatchProgress —
// its own state, no Raft round trip — and sends it whenever its version
// changed, so a committed change (membership, drives, states) or a node
// going up or down reaches the client within a progress interval of the
// leader applying or seeing it, as a one-second poll did. What does not
// change the version is soft state, sent every MapRefresh: heartbeat
// times (which clear a client's suspicion of a node early; suspicions also
// expire) and drive capacity and free bytes (placement's reserve; a full
// drive also refuses writes, which the writer notes at once).
func (s *service) WatchClusterMap(req *metapb.WatchClusterMapRequest, stream grpc.ServerStreamingServer[metapb.ClusterMapEvent]) error {
	n := s.n
	ctx := stream.Context()
	if !n.isLeader() {
		return toStatus(n.relayMapWatch(ctx, req, stream))
	}
	lctx, cancel := context.WithTimeout(ctx, defaultOpTimeout)
	err := n.linearize(lctx)
	cancel()
	if err != nil {
		return toStatus(fmt.Errorf("meta: watch cluster map: %w", err))
	}
	refresh := n.cfg.MapRefresh
	t := time.NewTicker(n.cfg.WatchProgress)
	defer t.Stop()
	var sent uint64
	var sentAt time.Time
	for first := true; ; first = false {
		// The first map is read after the barrier, never from before it.
		m, v, err := n.mapView.get(n, first)
		if err != nil {
			return toStatus(fmt.Errorf("meta: watch cluster map: %w", err))
		}
		if now := n.cfg.Now(); first || v != sent || now.Sub(sentAt) >= refresh {
			ev := &metapb.ClusterMapEvent{Map: m, Version: v, RefreshIntervalMs: uint32(refresh / time.Millisecond)}
			if err := stream.Send(ev); err != nil {
				return err
			}
			sent, sentAt = v, now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-n.done:
			return status.Error(codes.Unavailable, "meta: watch cluster map: node closing")
		case <-t.C:
			if !n.isLeader() {
				return status.Error(codes.Unavailable, "meta: watch cluster map: leadership lost")
			}
		}
	}
}

// mapView shares one reading of the map and its version among the
// watches: every watch looks once per progress interval, and all of them
// together read and fingerprint the map about that often. A leaf lock.
type mapView struct {
	mu      sync.Mutex
	at      time.Time
	m       *metapb.ClusterMap
	version uint64
}

// get returns the map and its version, read again when fresh is set or
// the last reading is older than half a progress interval. The map is
// shared: callers only send it.
func (v *mapView) get(n *Node, fresh bool) (*metapb.ClusterMap, uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := n.cfg.Now()
	if !fresh && v.m != nil && now.Sub(v.at) < n.cfg.WatchProgress/2 && now.Sub(v.at) >= 0 {
		return v.m, v.version, nil
	}
	m, err := n.clusterMap()
	if err != nil {
		return nil, 0, err
	}
	v.at, v.m, v.version = now, m, mapVersion(m)
	return v.m, v.version, nil
}

// relayMapWatch serves a map watch on a follower by relaying the leader's.
func (n *Node) relayMapWatch(ctx context.Context, req *metapb.WatchClusterMapRequest, stream grpc.ServerStreamingServer[metapb.ClusterMapEvent]) error {
	return relayStream(n, ctx, "watch cluster map", stream, func(ctx context.Context, c metapb.MetaClient) (grpc.ServerStreamingClient[metapb.ClusterMapEvent], error) {
		return c.WatchClusterMap(ctx, req)
	})
}

// mapVersion fingerprints everything in m that placement and the clients'
// view of the cluster depend on: the epoch, nodes, addresses, failure
// domains, states, up and down, drives and their states. It leaves out the
// soft state that changes with every heartbeat: heartbeat times, software
// versions, drive capacity and free bytes.
func mapVersion(m *metapb.ClusterMap) uint64 {
	c := proto.CloneOf(m)
	for _, node := range c.GetNodes() {
		node.LastHeartbeatUnixNano = 0
		node.Version = ""
		for _, d := range node.GetDrives() {
			d.CapacityBytes, d.FreeBytes = 0, 0
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		// A map that cannot be marshalled cannot be sent either; a
		// version of 0 never equals a real one, so it is resent.
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return h.Sum64() | 1 // never 0
}
