package objio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errStalled is the cause a watchdog cancels a shard stream with.
var errStalled = errors.New("shard stream stalled")

// watchdog cancels a shard stream that makes no progress while the
// pipeline waits on it. It is armed only around waits on the peer (opening
// the stream, sending or receiving a message, awaiting the commit ack), never
// while the pipeline itself is busy or blocked on its own consumer, so a
// large object streamed slowly by its client is never cut, while a storage
// node that stops answering (a stopped process, a partition, a frozen drive)
// is detected within one timeout instead of hanging the request.
type watchdog struct {
	t      *time.Timer
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	armed  time.Duration // of the current arm, for the error message
}

// watch returns a context derived from ctx that the watchdog cancels when an
// armed wait outlasts its timeout; the watchdog starts disarmed. stop
// releases it.
func watch(ctx context.Context) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{cancel: cancel}
	w.t = time.AfterFunc(time.Hour, func() {
		w.mu.Lock()
		d := w.armed
		w.mu.Unlock()
		cancel(fmt.Errorf("%w: no progress for %v", errStalled, d))
	})
	w.t.Stop()
	return ctx, w
}

// arm starts (or restarts) the countdown of d.
func (w *watchdog) arm(d time.Duration) {
	w.mu.Lock()
	w.armed = d
	w.mu.Unlock()
	w.t.Reset(d)
}

// disarm stops the countdown: the pipeline is not waiting on the peer.
func (w *watchdog) disarm() { w.t.Stop() }

// stop disarms the watchdog and cancels its context.
func (w *watchdog) stop() {
	w.t.Stop()
	w.cancel(context.Canceled)
}

// check turns err, returned by an operation on the watched stream, into an
// Unavailable status if the watchdog cut the stream: a stalled peer is
// treated like an unreachable one (suspected, replaced, read around).
func (w *watchdog) check(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
		return status.Error(codes.Unavailable, cause.Error())
	}
	return err
}

// latencies keeps the most recent shard block read times, from which the
// hedging delay is derived.
type latencies struct {
	mu   sync.Mutex
	ring [256]time.Duration
	n    int // samples ever added
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ring[l.n%len(l.ring)] = d
	l.n++
	l.mu.Unlock()
}

// p95 returns the 95th percentile of the recent samples, 0 without any.
func (l *latencies) p95() time.Duration {
	l.mu.Lock()
	n := min(l.n, len(l.ring))
	s := slices.Clone(l.ring[:n])
	l.mu.Unlock()
	if n == 0 {
		return 0
	}
	slices.Sort(s)
	return s[(n*95)/100]
}
