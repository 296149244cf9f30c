package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// appliedPoll is how often a read re-checks the FSM's applied index while
// it waits for in-flight entries to be applied.
const appliedPoll = time.Millisecond

// linearize makes a following FSM read linearizable. It must run on the
// leader: it confirms leadership and waits until the FSM has applied every
// entry committed when it was called.
func (n *Node) linearize(ctx context.Context) error {
	commit := n.raft.CommitIndex()
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		// A new leader's commit index may lag entries its predecessor
		// committed until an entry of its own term commits. A barrier
		// commits one and waits until everything before it is applied.
		timeout, err := enqueueTimeout(ctx)
		if err != nil {
			return err
		}
		if err := n.await(ctx, n.raft.Barrier(timeout)); err != nil {
			return fmt.Errorf("barrier: %w", err)
		}
		n.leaderSince.Store(n.cfg.Now().UnixNano())
		n.readyTerm.Store(term)
		return nil
	}
	if err := n.await(ctx, n.raft.VerifyLeader()); err != nil {
		return fmt.Errorf("verify leader: %w", err)
	}
	return n.waitApplied(ctx, commit)
}

// waitApplied waits until the FSM reflects every entry up to index.
//
// The FSM sees only command and configuration entries, so its applied
// index stops short of index when the last entries are no-ops or
// barriers. Those are found in the log and skipped: the wait is for the
// last entry the FSM will actually apply.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	applied := n.fsm.AppliedIndex()
	if applied >= index {
		return nil
	}
	target, err := n.lastFSMEntry(applied, index)
	if err != nil {
		return err
	}
	if target <= applied {
		return nil
	}
	t := time.NewTicker(appliedPoll)
	defer t.Stop()
	for n.fsm.AppliedIndex() < target {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for index %d to apply: %w", target, ctx.Err())
		case <-n.done:
			return ErrClosed
		case <-t.C:
		}
	}
	return nil
}

// lastFSMEntry returns the highest index in (after, upTo] of an entry the
// FSM applies, or after if there is none.
func (n *Node) lastFSMEntry(after, upTo uint64) (uint64, error) {
	for i := upTo; i > after; i-- {
		var l raft.Log
		err := n.logs.GetLog(i, &l)
		if errors.Is(err, raft.ErrLogNotFound) {
			// Compacted: a snapshot covers it, so it is applied and so is
			// everything before it.
			return after, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read log %d: %w", i, err)
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i, nil
		}
	}
	return after, nil
}
