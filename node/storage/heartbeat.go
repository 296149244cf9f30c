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
	// failing suppresses repeated warnings while the meta group is out of
	// reach.
	failing bool
	// beats counts successful heartbeats; every learnEvery-th (the first
	// included) and every failover also learns the group's voters.
	beats int
	last  string
}

// learnEvery is how many successful heartbeats pass between two lookups
// of the meta group's voters.
const learnEvery = 10

func (h *heartbeater) beat(ctx context.Context) {
	s := h.s
	// The drive check runs first, so a vanished drive is reported in the
	// heartbeat that follows it.
	s.checkDrives()
	req := &metapb.HeartbeatRequest{Node: s.nodeInfo()}
	timeout := max(s.cfg.HeartbeatInterval, minHeartbeatTimeout)
	addr, err := s.metas.call(ctx, timeout, "heartbeat", func(ctx context.Context, c metapb.MetaClient) error {
		_, err := c.Heartbeat(ctx, req)
		return err
	})
	switch {
	case err == nil:
		if h.failing {
			s.log.Info("heartbeat recovered", "meta", addr)
		}
		h.failing = false
		if h.beats%learnEvery == 0 || addr != h.last {
			s.metas.learn(ctx, timeout)
		}
		h.beats++
		h.last = addr
	case ctx.Err() != nil:
	default:
		if !h.failing {
			s.log.Warn("heartbeat failed on every meta address", "count", s.metas.count(), "err", err)
		}
		h.failing = true
	}
}

// nodeInfo describes this node and the current usage of its drives.
func (s *Server) nodeInfo() *metapb.Node {
	n := &metapb.Node{
		NodeId:        s.cfg.NodeID,
		Addr:          s.cfg.Addr,
		FailureDomain: s.cfg.FailureDomain,
		Version:       s.cfg.Version,
	}
	for _, id := range s.order {
		d := s.drives[id]
		dr := &metapb.Drive{DriveId: id}
		capacity, free, err := s.cfg.FS.DiskUsage(d.root)
		if err != nil {
			dr.State = metapb.DriveState_DRIVE_FAILED
			dr.Fault = "disk usage unavailable: " + pathless(err)
			s.log.Debug("drive usage unavailable", "drive_id", id, "err", err)
		} else {
			dr.CapacityBytes, dr.FreeBytes = capacity, free
		}
		if faulty, reason := d.health.faulty(); faulty {
			dr.State, dr.Fault = metapb.DriveState_DRIVE_FAILED, reason
		}
		n.Drives = append(n.Drives, dr)
	}
	return n
}
