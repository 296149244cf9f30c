package repair

import (
	"context"
	"sync"
	"time"
)

// limiter paces reads to a bandwidth: a token bucket of one second's
// worth of bytes that starts empty, so that even the first second keeps to
// the rate (and the repair rate shown, and so the ETA, is right from the
// start). A zero rate never waits.
type limiter struct {
	rate  float64 // bytes per second; 0 = unlimited
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(rate int64, now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{rate: float64(rate), now: now, sleep: sleep, last: now()}
}

// wait takes n bytes from the bucket, sleeping until they are there.
// Requests larger than the bucket go into debt, paid back before the next
// one passes.
func (l *limiter) wait(ctx context.Context, n int) error {
	if l.rate <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.now()
	l.tokens = min(l.rate, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	debt := -l.tokens
	l.mu.Unlock()
	if debt <= 0 {
		return ctx.Err()
	}
	return l.sleep(ctx, time.Duration(debt/l.rate*float64(time.Second)))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
