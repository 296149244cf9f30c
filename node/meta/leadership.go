package meta

import (
	"context"
	"sync"
)

// leadership publishes this node's Raft leadership to the leader's
// background duties (whileLeading, the repairer), so that on a follower
// they sleep until it leads instead of waking every interval to ask.
// Idle wakeups are most of an idle cluster's CPU: four a second on each
// voter cost a sixth of it. A leaf lock.
type leadership struct {
	mu      sync.Mutex
	leading bool
	changed chan struct{} // closed at the next notification
}

func newLeadership() *leadership {
	return &leadership{changed: make(chan struct{})}
}

// set records a notification from Raft: leadership gained (true) or lost.
// Every notification is a transition, so two gains in a row mean it was
// lost and regained in between.
func (l *leadership) set(leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leading = leading
	close(l.changed)
	l.changed = make(chan struct{})
}

// state returns whether this node leads, as last notified, and a channel
// closed at the next notification.
func (l *leadership) state() (bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading, l.changed
}

// watchLeadership feeds n.leading from Raft's leadership notifications
// until ctx ends (Close). Raft keeps the latest notification for a
// receiver that is late, so none is lost before this starts.
func (n *Node) watchLeadership(ctx context.Context) {
	ch := n.raft.LeaderCh()
	for {
		select {
		case <-ctx.Done():
			return
		case leading := <-ch:
			n.leading.set(leading)
		}
	}
}
