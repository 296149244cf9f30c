package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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
}

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
	case ctx.Err() != nil:
	default:
		if !h.failing {
			s.log.Warn("heartbeat failed on every meta address", "count", len(s.metas.conns), "err", err)
		}
		h.failing = true
	}
}

// metaGroup is the node's connections to the meta group, shared by the
// heartbeats and the scrubber's reports: a call goes to the address that
// last answered and fails over to the others in turn.
type metaGroup struct {
	conns []metaConn
	log   *slog.Logger

	mu struct {
		sync.Mutex
		// next is the address to try first: the last one that answered.
		next int
	}
}

// call runs fn against each meta address in turn, each try bounded by
// timeout, until one succeeds; it returns the address that answered, or
// the last error. It stops early when ctx ends.
func (g *metaGroup) call(ctx context.Context, timeout time.Duration, op string, fn func(context.Context, metapb.MetaClient) error) (string, error) {
	if len(g.conns) == 0 {
		return "", fmt.Errorf("%w: no meta addresses", ErrUnavailable)
	}
	g.mu.Lock()
	next := g.mu.next
	g.mu.Unlock()
	var lastErr error
	for i := range g.conns {
		idx := (next + i) % len(g.conns)
		m := g.conns[idx]
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := fn(cctx, m.client)
		cancel()
		if err == nil {
			g.mu.Lock()
			g.mu.next = idx
			g.mu.Unlock()
			return m.addr, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		g.log.Debug("meta call failed", "op", op, "meta", m.addr, "err", err)
		lastErr = err
	}
	return "", lastErr
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
