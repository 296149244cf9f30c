package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// backupChunk is the payload size of one Backup stream message.
const backupChunk = 256 << 10

// peer returns the addresses of voter id. A node knows its own from its
// configuration; others come from the address book committed by AddVoter
// (newer than any node's start-up flags), then from the configured peers.
func (n *Node) peer(id raft.ServerID) (Peer, bool) {
	if string(id) == n.cfg.NodeID {
		return n.cfg.self(), true
	}
	if book, err := n.fsm.Voters(); err == nil {
		for _, v := range book {
			if v.GetId() == string(id) {
				return Peer{ID: v.GetId(), RaftAddr: v.GetRaftAddr(), GRPCAddr: v.GetGrpcAddr()}, true
			}
		}
	}
	p, ok := n.peers[id]
	return p, ok
}

// voterInfo lists this node's Raft configuration with what it knows of each
// server's addresses.
func (n *Node) voterInfo(ctx context.Context) ([]*metapb.VoterInfo, error) {
	f := n.raft.GetConfiguration()
	if err := n.await(ctx, f); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	_, leader := n.raft.LeaderWithID()
	var out []*metapb.VoterInfo
	for _, srv := range f.Configuration().Servers {
		vi := &metapb.VoterInfo{Id: string(srv.ID), RaftAddr: string(srv.Address), Suffrage: srv.Suffrage.String(), Leader: srv.ID == leader}
		if p, ok := n.peer(srv.ID); ok {
			vi.GrpcAddr = p.GRPCAddr
		}
		out = append(out, vi)
	}
	return out, nil
}

// lastContact is how long ago this follower heard from the leader; zero on
// the leader and when unknown.
func (n *Node) lastContact() time.Duration {
	if n.isLeader() {
		return 0
	}
	if t := n.raft.LastContact(); !t.IsZero() {
		return time.Since(t)
	}
	return 0
}

// AddVoter records the new voter's addresses in the address book, then
// adds it to the Raft configuration. The book entry comes first so that
// no node ever sees a voter it cannot forward to.
func (s *service) AddVoter(ctx context.Context, req *metapb.AddVoterRequest) (*metapb.AddVoterResponse, error) {
	if req.GetId() == "" || req.GetRaftAddr() == "" || req.GetGrpcAddr() == "" {
		return nil, status.Error(codes.InvalidArgument, "meta: add voter: ID, raft and gRPC addresses are required")
	}
	if err := checkAdvertisable(req.GetRaftAddr()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "meta: add voter: raft address: %v", err)
	}
	var resp *metapb.AddVoterResponse
	err := s.n.onLeader(ctx, "add voter",
		func(ctx context.Context) error {
			f := s.n.raft.GetConfiguration()
			if err := s.n.await(ctx, f); err != nil {
				return err
			}
			for _, srv := range f.Configuration().Servers {
				if srv.ID != raft.ServerID(req.GetId()) && srv.Address == raft.ServerAddress(req.GetRaftAddr()) {
					return status.Errorf(codes.AlreadyExists, "meta: add voter: raft address %s belongs to voter %s", srv.Address, srv.ID)
				}
			}
			if err := s.n.setVoterAddress(ctx, &metapb.VoterAddress{Id: req.GetId(), RaftAddr: req.GetRaftAddr(), GrpcAddr: req.GetGrpcAddr()}, false); err != nil {
				return err
			}
			timeout, err := enqueueTimeout(ctx)
			if err != nil {
				return err
			}
			af := s.n.raft.AddVoter(raft.ServerID(req.GetId()), raft.ServerAddress(req.GetRaftAddr()), 0, timeout)
			if err := s.n.await(ctx, af); err != nil {
				return err
			}
			s.n.log.Info("voter added", "voter", req.GetId(), "raft_addr", req.GetRaftAddr(), "grpc_addr", req.GetGrpcAddr(), "index", af.Index())
			resp = &metapb.AddVoterResponse{Index: af.Index()}
			return nil
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			var err error
			resp, err = c.AddVoter(ctx, req)
			return err
		})
	return resp, toStatus(err)
}

// RemoveVoter removes a server from the Raft configuration, then forgets
// its addresses. Removing the leader itself makes it step down once the
// change commits; a majority of the remaining voters must be up.
func (s *service) RemoveVoter(ctx context.Context, req *metapb.RemoveVoterRequest) (*metapb.RemoveVoterResponse, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "meta: remove voter: ID is required")
	}
	var resp *metapb.RemoveVoterResponse
	err := s.n.onLeader(ctx, "remove voter",
		func(ctx context.Context) error {
			f := s.n.raft.GetConfiguration()
			if err := s.n.await(ctx, f); err != nil {
				return err
			}
			found := false
			for _, srv := range f.Configuration().Servers {
				found = found || srv.ID == raft.ServerID(req.GetId())
			}
			if !found {
				return status.Errorf(codes.NotFound, "meta: remove voter: %q is not in the configuration", req.GetId())
			}
			timeout, err := enqueueTimeout(ctx)
			if err != nil {
				return err
			}
			rf := s.n.raft.RemoveServer(raft.ServerID(req.GetId()), 0, timeout)
			if err := s.n.await(ctx, rf); err != nil {
				return err
			}
			s.n.log.Info("voter removed", "voter", req.GetId(), "index", rf.Index())
			resp = &metapb.RemoveVoterResponse{Index: rf.Index()}
			// Through Propose: when the removed voter was this leader, the
			// next one commits it. A failure leaves a harmless stale entry,
			// which a later AddVoter of the same ID replaces.
			if err := s.n.setVoterAddress(ctx, &metapb.VoterAddress{Id: req.GetId()}, true); err != nil {
				s.n.log.Warn("voter removed but its address book entry remains", "voter", req.GetId(), "err", err)
			}
			return nil
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			var err error
			resp, err = c.RemoveVoter(ctx, req)
			return err
		})
	return resp, toStatus(err)
}

func (n *Node) setVoterAddress(ctx context.Context, v *metapb.VoterAddress, remove bool) error {
	res, err := n.Propose(ctx, &metapb.Command{Op: &metapb.Command_SetVoterAddress{SetVoterAddress: &metapb.SetVoterAddress{Voter: v, Remove: remove}}})
	if err != nil {
		return err
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return status.Errorf(codes.InvalidArgument, "meta: voter address book: %s", res.GetMessage())
	}
	return nil
}

// TransferLeader hands leadership to the named voter, or to the most
// up-to-date follower, and waits until the transfer is done.
func (s *service) TransferLeader(ctx context.Context, req *metapb.TransferLeaderRequest) (*metapb.TransferLeaderResponse, error) {
	err := s.n.onLeader(ctx, "transfer leader",
		func(ctx context.Context) error {
			if req.GetId() == s.n.cfg.NodeID {
				return nil // already leading
			}
			var f raft.Future
			if req.GetId() == "" {
				f = s.n.raft.LeadershipTransfer()
			} else {
				p, ok := s.n.peer(raft.ServerID(req.GetId()))
				if !ok {
					return status.Errorf(codes.NotFound, "meta: transfer leader: unknown voter %q", req.GetId())
				}
				f = s.n.raft.LeadershipTransferToServer(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr))
			}
			err := s.n.await(ctx, f)
			if errors.Is(err, raft.ErrLeadershipTransferInProgress) {
				// Not retryable here: a transfer is already on its way.
				return status.Error(codes.Aborted, "meta: transfer leader: a transfer is already in progress")
			}
			return err
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			_, err := c.TransferLeader(ctx, req)
			return err
		})
	if err != nil {
		return nil, toStatus(err)
	}
	_, id := s.n.raft.LeaderWithID()
	return &metapb.TransferLeaderResponse{LeaderId: string(id)}, nil
}

// Backup streams a backup of the state machine taken at one applied index,
// after a barrier: it holds every write acknowledged before the call. Only
// the leader serves it (a stream is not forwarded); a follower answers
// FailedPrecondition naming the leader.
func (s *service) Backup(_ *metapb.BackupRequest, stream metapb.Meta_BackupServer) error {
	n := s.n
	ctx := stream.Context()
	if !n.isLeader() {
		leader := "unknown"
		if p, ok := n.leader(); ok {
			leader = p.ID + " at " + p.GRPCAddr
		}
		return status.Errorf(codes.FailedPrecondition, "meta: backup: %s is not the leader (leader: %s)", n.cfg.NodeID, leader)
	}
	lctx, cancel := context.WithTimeout(ctx, defaultOpTimeout)
	err := n.linearize(lctx)
	cancel()
	if err != nil {
		return toStatus(fmt.Errorf("meta: backup: %w", err))
	}
	snap, err := n.fsm.NewBackup()
	if err != nil {
		return toStatus(err)
	}
	defer snap.Close()
	h := &metapb.BackupHeader{
		ClusterId:       n.cfg.ClusterID,
		Index:           snap.Index(),
		Term:            n.termOf(snap.Index()),
		NodeId:          n.cfg.NodeID,
		CreatedUnixNano: n.cfg.Now().UnixNano(),
	}
	if err := stream.Send(&metapb.BackupChunk{Header: h}); err != nil {
		return err
	}
	w := &chunkWriter{send: stream.Send}
	if err := snap.Write(w); err != nil {
		return toStatus(err)
	}
	if err := w.flush(); err != nil {
		return err
	}
	n.log.Info("backup streamed", "index", h.Index, "term", h.Term, "bytes", strconv.FormatInt(w.total, 10))
	return nil
}

// termOf is the term of the entry at index, or the current term when the
// entry was compacted away (never lower than the entry's).
func (n *Node) termOf(index uint64) uint64 {
	var l raft.Log
	if err := n.logs.GetLog(index, &l); err == nil {
		return l.Term
	}
	return n.raft.CurrentTerm()
}

// chunkWriter cuts a byte stream into Backup messages.
type chunkWriter struct {
	send  func(*metapb.BackupChunk) error
	buf   []byte
	total int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), backupChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		written += k
		if len(w.buf) == backupChunk {
			if err := w.flush(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.total += int64(len(w.buf))
	err := w.send(&metapb.BackupChunk{Data: w.buf})
	w.buf = make([]byte, 0, backupChunk)
	return err
}

var _ io.Writer = (*chunkWriter)(nil)
