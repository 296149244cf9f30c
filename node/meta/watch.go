package meta

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// DefaultWatchProgress is how often a bucket watch hears from the leader
// when nothing changes. It is the lease of a gateway's bucket cache: the
// gateway stops trusting the cache after a few intervals of silence.
const DefaultWatchProgress = time.Second

// WatchBuckets streams bucket and user changes (see metapb.Meta). The
// leader serves it; a follower relays the leader's stream, so that a
// client may open it on any node.
//
// Why a cache fed by this stream is safe: the leader sends the first
// (reset) event only after linearize, so every change committed before
// the stream opened is in the state the client reads afterwards, and it
// sends an event after it applies each later change (BucketChanges). The
// client drops its cache at each event and at every reconnect. A change
// reaches the client one event delivery after the leader applied it;
// while the stream is down or silent for longer than the client's lease,
// the client reads linearizably instead. The stream ends within a
// progress interval of the leader losing leadership, and a deposed leader
// steps down (LeaderLeaseTimeout) before a new one can be elected
// (ElectionTimeout ≥ HeartbeatTimeout ≥ the lease).
func (s *service) WatchBuckets(req *metapb.WatchBucketsRequest, stream grpc.ServerStreamingServer[metapb.BucketsEvent]) error {
	n := s.n
	ctx := stream.Context()
	if !n.isLeader() {
		return toStatus(n.relayWatch(ctx, req, stream))
	}
	lctx, cancel := context.WithTimeout(ctx, defaultOpTimeout)
	err := n.linearize(lctx)
	cancel()
	if err != nil {
		return toStatus(fmt.Errorf("meta: watch buckets: %w", err))
	}
	every := n.cfg.WatchProgress
	changed, next := n.fsm.BucketChanges()
	ev := &metapb.BucketsEvent{
		Index: n.fsm.AppliedIndex(), ChangedIndex: changed, Reset_: true,
		ProgressIntervalMs: uint32(every / time.Millisecond),
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := stream.Send(ev); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-n.done:
			return status.Error(codes.Unavailable, "meta: watch buckets: node closing")
		case <-next:
			changed, next = n.fsm.BucketChanges()
		case <-t.C:
			if !n.isLeader() {
				return status.Error(codes.Unavailable, "meta: watch buckets: leadership lost")
			}
		}
		ev = &metapb.BucketsEvent{Index: n.fsm.AppliedIndex(), ChangedIndex: changed, ProgressIntervalMs: uint32(every / time.Millisecond)}
	}
}

// relayWatch serves a watch on a follower by relaying the leader's.
func (n *Node) relayWatch(ctx context.Context, req *metapb.WatchBucketsRequest, stream grpc.ServerStreamingServer[metapb.BucketsEvent]) error {
	return relayStream(n, ctx, "watch buckets", stream, func(ctx context.Context, c metapb.MetaClient) (grpc.ServerStreamingClient[metapb.BucketsEvent], error) {
		return c.WatchBuckets(ctx, req)
	})
}

// relayStream serves a server-streaming call on a follower by opening the
// same call on the leader (marked forwarded, so it is not relayed again)
// and passing its events on until either side ends.
func relayStream[Ev any](n *Node, ctx context.Context, what string, stream grpc.ServerStreamingServer[Ev], open func(context.Context, metapb.MetaClient) (grpc.ServerStreamingClient[Ev], error)) error {
	p, ok := n.leader()
	if isForwarded(ctx) || !ok || p.ID == n.cfg.NodeID {
		return status.Errorf(codes.Unavailable, "meta: %s: no leader", what)
	}
	c, err := n.peerClient(p.GRPCAddr)
	if err != nil {
		return err
	}
	up, err := open(metadata.AppendToOutgoingContext(ctx, forwardedKey, "1"), c)
	if err != nil {
		return err
	}
	for {
		ev, err := up.Recv()
		if err != nil {
			return err
		}
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
}
