package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/repair"
	"github.com/cairn-io/cairn/proto/metapb"
)

// forwardedKey marks a request forwarded by a follower (gRPC metadata).
const forwardedKey = "cairn-meta-forwarded"

// Retry pacing while there is no leader or leadership is moving.
const (
	retryMin = 10 * time.Millisecond
	retryMax = 200 * time.Millisecond
	// retryMarginMax caps how much of the caller's time is kept back to
	// deliver a "no leader" answer before its deadline.
	retryMarginMax = 100 * time.Millisecond
)

// Propose applies cmd through raft and returns the FSM's result. On a
// follower it forwards cmd to the leader's Meta service. While there is no
// leader, or leadership changes, it retries until ctx is done and then
// returns an error wrapping ErrNoLeader.
//
// A command that fails with raft.ErrLeadershipLost may still have been
// committed; Propose retries it, so commands must tolerate being applied
// twice (the FSM's commands are idempotent or report a code such as
// BUCKET_ALREADY_EXISTS).
func (n *Node) Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	data, err := proto.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("meta: propose: encode command: %w", err)
	}
	var res *metapb.CommandResult
	err = n.onLeader(ctx, "propose",
		func(ctx context.Context) error {
			var err error
			res, err = n.apply(ctx, data)
			return err
		},
		func(ctx context.Context, c metapb.MetaClient) error {
			resp, err := c.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
			if err == nil {
				res = resp.GetResult()
			}
			return err
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// apply is the one caller of raft.Apply. It must run on the leader.
func (n *Node) apply(ctx context.Context, data []byte) (*metapb.CommandResult, error) {
	timeout, err := enqueueTimeout(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	f := n.raft.Apply(data, timeout)
	if err := n.await(ctx, f); err != nil {
		return nil, err
	}
	n.met.apply.Observe(time.Since(start).Seconds())
	switch r := f.Response().(type) {
	case *metapb.CommandResult:
		return r, nil
	case error:
		return nil, fmt.Errorf("meta: apply index %d: %w", f.Index(), r)
	default:
		return nil, fmt.Errorf("meta: apply index %d: unexpected FSM response %T", f.Index(), r)
	}
}

// enqueueTimeout converts ctx's deadline into raft's enqueue timeout.
func enqueueTimeout(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d, ok := ctx.Deadline()
	if !ok {
		return defaultOpTimeout, nil
	}
	t := time.Until(d)
	if t <= 0 {
		return 0, context.DeadlineExceeded
	}
	return t, nil
}

// await waits for f or ctx, whichever comes first. Raft futures cannot be
// cancelled, so the wait runs in a tracked goroutine that finishes when
// raft answers; an abandoned command may still be applied.
func (n *Node) await(ctx context.Context, f raft.Future) error {
	// Add must not race the Wait in Close: once Close has begun, no new
	// waiter starts (raft is shutting down and would answer with an error
	// anyway).
	n.waitersMu.Lock()
	if n.waitersClosed {
		n.waitersMu.Unlock()
		return ErrClosed
	}
	n.waiters.Add(1)
	n.waitersMu.Unlock()
	res := make(chan error, 1)
	go func() {
		defer n.waiters.Done()
		res <- f.Error()
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryableRaft reports errors after which the operation may succeed on
// another attempt, possibly on another leader.
func retryableRaft(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) ||
		errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress) ||
		errors.Is(err, raft.ErrEnqueueTimeout) ||
		errors.Is(err, raft.ErrAbortedByRestore)
}

// onLeader runs local if this node is the leader and otherwise forwards
// via remote to the leader, retrying with backoff until ctx is done while
// there is no leader or it changes. A request that was itself forwarded is
// not forwarded again (see the package doc).
func (n *Node) onLeader(ctx context.Context, op string,
	local func(ctx context.Context) error,
	remote func(ctx context.Context, c metapb.MetaClient) error,
) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultOpTimeout)
		defer cancel()
	}
	forwarded := isForwarded(ctx)
	giveUp := retryDeadline(ctx)
	wait := retryMin
	var last error
	for {
		if n.closed() {
			return fmt.Errorf("meta: %s: %w", op, ErrClosed)
		}
		var err error
		if n.isLeader() {
			err = local(ctx)
			if err == nil || !retryableRaft(err) {
				return wrapOp(op, err)
			}
		} else if forwarded {
			err = raft.ErrNotLeader
		} else if p, ok := n.leader(); ok && p.ID != n.cfg.NodeID {
			var c metapb.MetaClient
			if c, err = n.peerClient(p.GRPCAddr); err == nil {
				err = remote(metadata.AppendToOutgoingContext(ctx, forwardedKey, "1"), c)
			}
			if err == nil || status.Code(err) != codes.Unavailable {
				return wrapOp(op, err)
			}
		} else {
			err = ErrNoLeader
		}
		last = err
		if forwarded {
			// Let the follower that forwarded this retry against the
			// leader it sees; bouncing it here could loop.
			return fmt.Errorf("meta: %s: %w: %w", op, ErrNoLeader, last)
		}
		left := time.Until(giveUp)
		if left <= 0 || ctx.Err() != nil {
			return fmt.Errorf("meta: %s: %w (last: %v)", op, ErrNoLeader, last)
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("meta: %s: %w: %w (last: %v)", op, ErrNoLeader, ctx.Err(), last)
		case <-n.done:
			t.Stop()
			return fmt.Errorf("meta: %s: %w", op, ErrClosed)
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}

// retryDeadline is when onLeader stops waiting for a leader: a little
// before ctx's deadline, so that a remote caller receives Unavailable
// rather than running into its own timeout.
func retryDeadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline() // onLeader always sets one
	margin := min(retryMarginMax, time.Until(d)/10)
	return d.Add(-margin)
}

func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		// Already a gRPC status from the leader: pass it through as is.
		return err
	}
	return fmt.Errorf("meta: %s: %w", op, err)
}

func isForwarded(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	return ok && len(md.Get(forwardedKey)) > 0
}

// toStatus is the one table from this package's errors to gRPC codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	var code codes.Code
	switch {
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrClosed), errors.Is(err, errNoRepairer),
		errors.Is(err, raft.ErrRaftShutdown), retryableRaft(err):
		code = codes.Unavailable
	case errors.Is(err, repair.ErrNoSuchNode), errors.Is(err, repair.ErrNoSuchBucket):
		code = codes.NotFound
	case errors.Is(err, repair.ErrScrubUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, repair.ErrBusy):
		code = codes.ResourceExhausted
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		code = codes.Internal
	}
	return status.Error(code, err.Error())
}
