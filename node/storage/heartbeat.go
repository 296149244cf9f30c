package storage

import (
	"context"
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// minHeartbeatTimeout keeps short test intervals from timing out a call
// that is still connecting.
const minHeartbeatTimeout = time.Second

func (s *Server) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	hb := heartbeater{s: s}
	for {
		hb.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// heartbeater is owned by the heartbeat goroutine; it needs no lock.
type heartbeater struct {
	s *Server
	// next is the meta address to try first: the last one that answered.
	next int
	// failing suppresses repeated warnings while the meta group is out of
	// reach.
	failing bool
}

func (h *heartbeater) beat(ctx context.Context) {
	s := h.s
	req := &metapb.HeartbeatRequest{Node: s.nodeInfo()}
	timeout := max(s.cfg.HeartbeatInterval, minHeartbeatTimeout)
	var lastErr error
	for i := range s.metas {
		idx := (h.next + i) % len(s.metas)
		m := s.metas[idx]
		cctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := m.client.Heartbeat(cctx, req)
		cancel()
		if err == nil {
			if h.failing {
				s.log.Info("heartbeat recovered", "meta", m.addr)
			}
			h.next, h.failing = idx, false
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Debug("heartbeat failed", "meta", m.addr, "err", err)
		lastErr = err
	}
	if !h.failing {
		s.log.Warn("heartbeat failed on every meta address", "count", len(s.metas), "err", lastErr)
	}
	h.failing = true
}

// nodeInfo describes this node and the current usage of its drives.
func (s *Server) nodeInfo() *metapb.Node {
	n := &metapb.Node{
		NodeId:        s.cfg.NodeID,
		Addr:          s.cfg.Addr,
		FailureDomain: s.cfg.FailureDomain,
	}
	for _, id := range s.order {
		d := s.drives[id]
		dr := &metapb.Drive{DriveId: id}
		capacity, free, err := s.cfg.FS.DiskUsage(d.root)
		if err != nil {
			dr.State = metapb.DriveState_DRIVE_FAILED
			s.log.Debug("drive usage unavailable", "drive_id", id, "err", err)
		} else {
			dr.CapacityBytes, dr.FreeBytes = capacity, free
		}
		n.Drives = append(n.Drives, dr)
	}
	return n
}
