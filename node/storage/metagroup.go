package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/proto/metapb"
)

// metaGroup is the node's connections to the meta group, shared by the
// heartbeats and the scrubber's reports: a call goes to the address that
// last answered and fails over to the others in turn. Besides the
// configured addresses it keeps the group's current voters, learnt from
// Status (learn), so the node keeps its meta group when every configured
// address is gone but voters added later are alive.
type metaGroup struct {
	log *slog.Logger
	// dialer connects to learnt voters.
	dialer *dial.Dialer

	mu struct {
		sync.Mutex
		// conns is replaced, never changed in place: the configured
		// addresses, then the learnt ones.
		conns []metaConn
		// retired are learnt connections of voters that left; calls in
		// flight may still use them, so close closes them.
		retired []*grpc.ClientConn
		// next is the address to try first: the last one that answered.
		next string
	}
}

func (g *metaGroup) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.mu.conns)
}

// call runs fn against each meta address in turn, each try bounded by
// timeout, until one succeeds; it returns the address that answered, or
// the last error. It stops early when ctx ends.
func (g *metaGroup) call(ctx context.Context, timeout time.Duration, op string, fn func(context.Context, metapb.MetaClient) error) (string, error) {
	g.mu.Lock()
	conns, next := g.mu.conns, g.mu.next
	g.mu.Unlock()
	if len(conns) == 0 {
		return "", fmt.Errorf("%w: no meta addresses", ErrUnavailable)
	}
	first := max(0, slices.IndexFunc(conns, func(m metaConn) bool { return m.addr == next }))
	var lastErr error
	for i := range conns {
		m := conns[(first+i)%len(conns)]
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := fn(cctx, m.client)
		cancel()
		if err == nil {
			g.mu.Lock()
			g.mu.next = m.addr
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

// learn asks the group for its voters' gRPC addresses and adds the new
// ones, forgetting learnt ones no longer named, and makes the leader the
// address tried first. A failure changes nothing.
func (g *metaGroup) learn(ctx context.Context, timeout time.Duration) {
	if g.dialer == nil {
		return
	}
	var st *metapb.StatusResponse
	if _, err := g.call(ctx, timeout, "status", func(ctx context.Context, c metapb.MetaClient) error {
		var err error
		st, err = c.Status(ctx, &metapb.StatusRequest{})
		return err
	}); err != nil || len(st.GetVoterInfo()) == 0 {
		return
	}
	var group []string
	for _, v := range st.GetVoterInfo() {
		if a := v.GetGrpcAddr(); a != "" && !slices.Contains(group, a) {
			group = append(group, a)
		}
	}
	if len(group) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	next := make([]metaConn, 0, len(g.mu.conns)+len(group))
	for _, m := range g.mu.conns {
		if m.configured || slices.Contains(group, m.addr) {
			next = append(next, m)
			continue
		}
		g.log.Info("forgetting a meta node that left the group", "meta", m.addr)
		g.mu.retired = append(g.mu.retired, m.conn)
	}
	for _, a := range group {
		if slices.ContainsFunc(next, func(m metaConn) bool { return m.addr == a }) {
			continue
		}
		// Dialing is lazy (no I/O), so it may run under the lock.
		conn, err := g.dialer.GRPC(a)
		if err != nil {
			g.log.Warn("cannot connect to a meta node the group names", "meta", a, "err", err)
			continue
		}
		g.log.Info("learnt a meta node", "meta", a)
		next = append(next, metaConn{addr: a, conn: conn, client: metapb.NewMetaClient(conn)})
	}
	g.mu.conns = next
	// Calls go to the leader first: a follower would forward each of
	// them there, costing the group two calls instead of one (most of
	// an idle cluster's CPU is heartbeats).
	if leader := st.GetLeaderAddr(); leader != "" && slices.ContainsFunc(next, func(m metaConn) bool { return m.addr == leader }) {
		g.mu.next = leader
	}
}

// close closes every connection.
func (g *metaGroup) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for _, m := range g.mu.conns {
		if err := m.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("storage: close meta conn %s: %w", m.addr, err))
		}
	}
	for _, c := range g.mu.retired {
		_ = c.Close()
	}
	return errors.Join(errs...)
}
