package meta

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/node/repair"
	"github.com/cairn-io/cairn/proto/metapb"
)

// service implements metapb.MetaServer on a Node. Every method returns
// errors through toStatus; not-found results are response codes.
type service struct {
	metapb.UnimplementedMetaServer
	n *Node
}

func (s *service) Propose(ctx context.Context, req *metapb.ProposeRequest) (*metapb.ProposeResponse, error) {
	res, err := s.n.Propose(ctx, req.GetCommand())
	if err != nil {
		return nil, toStatus(err)
	}
	return &metapb.ProposeResponse{Result: res}, nil
}

func (s *service) GetBucket(ctx context.Context, req *metapb.GetBucketRequest) (*metapb.GetBucketResponse, error) {
	resp, err := read(ctx, s.n, "get bucket",
		func() (*metapb.GetBucketResponse, error) {
			b, err := s.n.fsm.GetBucket(req.GetName())
			if code, ok := notFoundCode(err); ok {
				return &metapb.GetBucketResponse{Code: code}, nil
			}
			return &metapb.GetBucketResponse{Bucket: b}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.GetBucketResponse, error) {
			return c.GetBucket(ctx, req)
		})
	return resp, toStatus(err)
}

func (s *service) ListBuckets(ctx context.Context, req *metapb.ListBucketsRequest) (*metapb.ListBucketsResponse, error) {
	resp, err := read(ctx, s.n, "list buckets",
		func() (*metapb.ListBucketsResponse, error) {
			bs, err := s.n.fsm.ListBuckets()
			return &metapb.ListBucketsResponse{Buckets: bs}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ListBucketsResponse, error) {
			return c.ListBuckets(ctx, req)
		})
	return resp, toStatus(err)
}

func (s *service) GetObject(ctx context.Context, req *metapb.GetObjectRequest) (*metapb.GetObjectResponse, error) {
	resp, err := read(ctx, s.n, "get object",
		func() (*metapb.GetObjectResponse, error) {
			v, err := s.n.fsm.GetObject(req.GetBucket(), req.GetKey(), req.GetVersionId())
			if code, ok := notFoundCode(err); ok {
				return &metapb.GetObjectResponse{Code: code}, nil
			}
			return &metapb.GetObjectResponse{Version: v}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.GetObjectResponse, error) {
			return c.GetObject(ctx, req)
		})
	return resp, toStatus(err)
}

func (s *service) ListObjects(ctx context.Context, req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	resp, err := read(ctx, s.n, "list objects",
		func() (*metapb.ListObjectsResponse, error) {
			r, err := s.n.fsm.ListObjects(req)
			if code, ok := notFoundCode(err); ok {
				return &metapb.ListObjectsResponse{Code: code}, nil
			}
			return r, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ListObjectsResponse, error) {
			return c.ListObjects(ctx, req)
		})
	return resp, toStatus(err)
}

func (s *service) GetClusterMap(ctx context.Context, req *metapb.GetClusterMapRequest) (*metapb.GetClusterMapResponse, error) {
	resp, err := read(ctx, s.n, "get cluster map",
		func() (*metapb.GetClusterMapResponse, error) {
			m, err := s.n.clusterMap()
			return &metapb.GetClusterMapResponse{Map: m}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.GetClusterMapResponse, error) {
			return c.GetClusterMap(ctx, req)
		})
	return resp, toStatus(err)
}

// Heartbeat records a storage node's heartbeat in the leader's soft state,
// stamped with the leader's clock. Only a change of what placement depends
// on (a new node, address, failure domain, drives, a drive failing or
// recovering, a return from down) is committed through Raft.
func (s *service) Heartbeat(ctx context.Context, req *metapb.HeartbeatRequest) (*metapb.HeartbeatResponse, error) {
	if req.GetNode().GetNodeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "meta: heartbeat: empty node ID")
	}
	var resp *metapb.HeartbeatResponse
	err := s.n.onLeader(ctx, "heartbeat",
		func(ctx context.Context) error {
			var err error
			resp, err = s.n.heartbeat(ctx, req.GetNode())
			return err
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			var err error
			resp, err = c.Heartbeat(ctx, req)
			return err
		})
	if err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

// Status answers from this node's own view; it is never forwarded.
func (s *service) Status(ctx context.Context, _ *metapb.StatusRequest) (*metapb.StatusResponse, error) {
	n := s.n
	resp := &metapb.StatusResponse{
		NodeId:       n.cfg.NodeID,
		RaftState:    n.raft.State().String(),
		AppliedIndex: n.raft.AppliedIndex(),
		Version:      n.cfg.Version,
	}
	if p, ok := n.leader(); ok {
		resp.LeaderId, resp.LeaderAddr = p.ID, p.GRPCAddr
	}
	f := n.raft.GetConfiguration()
	if err := n.await(ctx, f); err != nil {
		return nil, toStatus(fmt.Errorf("meta: status: configuration: %w", err))
	}
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			resp.Voters = append(resp.Voters, string(srv.ID))
		}
	}
	vi, err := n.voterInfo(ctx)
	if err != nil {
		return nil, toStatus(fmt.Errorf("meta: status: %w", err))
	}
	resp.VoterInfo = vi
	resp.LastContactNanos = int64(n.lastContact())
	resp.Term = n.raft.CurrentTerm()
	return resp, nil
}

// errRejected marks a command the FSM refused where the RPC has no result
// code to carry the refusal.
var errRejected = errors.New("meta: command rejected")

// read serves a linearizable read on the leader, forwarding it there from
// a follower.
func read[T any](ctx context.Context, n *Node, op string,
	local func() (T, error),
	remote func(ctx context.Context, c metapb.MetaClient) (T, error),
) (T, error) {
	var out T
	err := n.onLeader(ctx, op,
		func(ctx context.Context) error {
			if err := n.linearize(ctx); err != nil {
				return err
			}
			var err error
			out, err = local()
			return err
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			var err error
			out, err = remote(ctx, c)
			return err
		})
	return out, err
}

// notFoundCode maps the FSM's not-found sentinels to response codes.
func notFoundCode(err error) (metapb.ErrorCode, bool) {
	switch {
	case errors.Is(err, metadata.ErrNoSuchBucket):
		return metapb.ErrorCode_NO_SUCH_BUCKET, true
	case errors.Is(err, metadata.ErrNoSuchKey):
		return metapb.ErrorCode_NO_SUCH_KEY, true
	case errors.Is(err, metadata.ErrNoSuchVersion):
		return metapb.ErrorCode_NO_SUCH_VERSION, true
	}
	return metapb.ErrorCode_OK, false
}

// clusterMap reads the committed map and merges the leader's soft state
// into it: up, last heartbeat, drive usage and reported drive faults. It
// runs on the leader after linearize, which sets leaderSince for the
// current term. Heartbeats only reach a leader, so after an election (or a
// restart of the whole group) every node has one NodeTimeout from the new
// leader's start to check in before it is reported down; otherwise the
// whole cluster would look dead for the length of the election.
func (n *Node) clusterMap() (*metapb.ClusterMap, error) {
	m, err := n.fsm.ClusterMap()
	if err != nil {
		return nil, err
	}
	seen := n.live.view(n.readyTerm.Load())
	r := n.rules()
	for _, node := range m.GetNodes() {
		s, ok := seen[node.GetNodeId()]
		merge(node, s, ok, r)
	}
	return m, nil
}

// onRepairer runs fn with the leader's repairer, forwarding from a
// follower like any leader-only call.
func onRepairer[T any](ctx context.Context, n *Node, op string,
	local func(ctx context.Context, r *repair.Repairer) (T, error),
	remote func(ctx context.Context, c metapb.MetaClient) (T, error),
) (T, error) {
	var out T
	err := n.onLeader(ctx, op,
		func(ctx context.Context) error {
			r := n.repairer.Load()
			if r == nil {
				return errNoRepairer
			}
			var err error
			out, err = local(ctx, r)
			return err
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			var err error
			out, err = remote(ctx, c)
			return err
		})
	return out, err
}

// ReportShards queues reported damage with the leader's repairer.
func (s *service) ReportShards(ctx context.Context, req *metapb.ReportShardsRequest) (*metapb.ReportShardsResponse, error) {
	resp, err := onRepairer(ctx, s.n, "report shards",
		func(ctx context.Context, r *repair.Repairer) (*metapb.ReportShardsResponse, error) {
			q, err := r.Report(ctx, req.GetShards())
			return &metapb.ReportShardsResponse{Queued: uint32(q)}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ReportShardsResponse, error) {
			return c.ReportShards(ctx, req)
		})
	return resp, toStatus(err)
}

// gcBacklogLimit bounds the GC entries HealStatus counts.
const gcBacklogLimit = 1_000_000

// HealStatus returns the leader's repairer's figures.
func (s *service) HealStatus(ctx context.Context, req *metapb.HealStatusRequest) (*metapb.HealStatusResponse, error) {
	resp, err := onRepairer(ctx, s.n, "heal status",
		func(ctx context.Context, r *repair.Repairer) (*metapb.HealStatusResponse, error) {
			st := r.Status()
			st.LeaderId = s.n.cfg.NodeID
			// The pause flag is committed: report it even before the
			// repairer first read it.
			p, err := s.n.fsm.HealPaused()
			if err != nil {
				return nil, err
			}
			st.Paused = p
			// Counted up to a bound: a backlog that large is reported
			// as "at least".
			st.GcBacklog, _, err = s.n.fsm.CountGC(gcBacklogLimit)
			return st, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.HealStatusResponse, error) {
			return c.HealStatus(ctx, req)
		})
	return resp, toStatus(err)
}

// Scrub starts a scrub pass through the leader's repairer.
func (s *service) Scrub(ctx context.Context, req *metapb.ScrubRequest) (*metapb.ScrubResponse, error) {
	if req.GetBucket() != "" && req.GetNodeId() != "" {
		return nil, status.Error(codes.InvalidArgument, "meta: scrub: give a node or a bucket, not both")
	}
	resp, err := onRepairer(ctx, s.n, "scrub",
		func(ctx context.Context, r *repair.Repairer) (*metapb.ScrubResponse, error) {
			n, err := r.Scrub(ctx, req)
			return &metapb.ScrubResponse{Started: n}, err
		},
		func(ctx context.Context, c metapb.MetaClient) (*metapb.ScrubResponse, error) {
			return c.Scrub(ctx, req)
		})
	return resp, toStatus(err)
}
