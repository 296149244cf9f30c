package meta

import (
	"context"
	"time"

	"github.com/cairn-io/cairn/node/lifecycle"
	"github.com/cairn-io/cairn/proto/metapb"
)

// runLifecycle runs the lifecycle worker while this node leads: a round
// every LifecycleInterval, a fresh worker (and scan) for each term of
// leadership. It runs until ctx ends (Close).
func (n *Node) runLifecycle(ctx context.Context) {
	t := time.NewTicker(n.cfg.LifecycleInterval)
	defer t.Stop()
	var w *lifecycle.Worker
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.isLeader() {
			w = nil
			continue
		}
		if w == nil {
			var err error
			w, err = lifecycle.New(lifecycle.Config{
				Store: lifecycleStore{n: n}, Day: n.cfg.LifecycleDay, Rate: n.cfg.LifecycleRate,
				Now: n.cfg.Now, Logger: n.log.With("component", "lifecycle"),
			})
			if err != nil {
				n.log.Error("lifecycle worker not started", "err", err)
				continue
			}
		}
		st, err := w.Round(ctx)
		if err != nil {
			n.log.Warn("lifecycle round failed; retrying next round", "err", err, "expired", st.Expired)
		} else if st.Expired > 0 || st.Refused > 0 {
			n.log.Info("lifecycle round", "scanned", st.Scanned, "expired", st.Expired, "refused", st.Refused)
		}
	}
}

// lifecycleStore is the worker's view: the leader's FSM, read directly
// (the worker runs only on the leader, and every delete it commits is
// decided again by the state machine), and Raft.
type lifecycleStore struct{ n *Node }

func (s lifecycleStore) ListBuckets(context.Context) ([]*metapb.Bucket, error) {
	return s.n.fsm.ListBuckets()
}

func (s lifecycleStore) ListObjectVersions(_ context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	return s.n.fsm.ListObjectVersions(req)
}

func (s lifecycleStore) Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	return s.n.Propose(ctx, cmd)
}
