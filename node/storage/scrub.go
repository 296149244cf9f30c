package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	// scrubBurst is the limiter's bucket: about one bitrot read batch, so
	// the scrubber reads in modest steps and never bursts far above its
	// rate.
	scrubBurst = 1 << 20
	// reportTimeout bounds one report to the meta group.
	reportTimeout = 10 * time.Second
	// maxPendingDamage bounds the damage reports kept for a retry while
	// the meta group cannot be reached; the oldest go first (the next pass
	// finds them again).
	maxPendingDamage = 10000
	// scrubStateFile keeps, on each drive, when the last scrub pass ended.
	scrubStateFile    = "scrub.json"
	scrubStateVersion = 1
)

// ShardReporter is where the scrubber reports: the meta group's
// Meta.ReportShards, or a fake in tests.
type ShardReporter interface {
	ReportShards(ctx context.Context, req *metapb.ReportShardsRequest) error
}

// metaReporter reports to the meta group with the heartbeats' failover.
type metaReporter struct{ g *metaGroup }

func (r metaReporter) ReportShards(ctx context.Context, req *metapb.ReportShardsRequest) error {
	_, err := r.g.call(ctx, reportTimeout, "report shards", func(ctx context.Context, c metapb.MetaClient) error {
		_, err := c.ReportShards(ctx, req)
		return err
	})
	return err
}

// ScrubStats is the progress of the current scrub pass, or of the last one
// when none runs.
type ScrubStats struct {
	// Running is true while a pass runs.
	Running bool
	// Passes counts the passes completed since the node started.
	Passes uint64
	// PassStart and PassEnd bound the current or last pass; PassEnd is
	// zero while it runs.
	PassStart, PassEnd time.Time
	// ShardsVerified counts the shards read whole, damaged or not;
	// DamageFound those found corrupt or unreadable.
	ShardsVerified, DamageFound uint64
	// BytesRead counts the bytes read, every one through the limiter.
	BytesRead uint64
	// ReportFailures counts reports the meta group did not take.
	ReportFailures uint64
	// Rate is the limiter's rate in bytes per second, Burst its bucket.
	Rate, Burst int64
}

// ScrubStats returns the scrubber's progress.
func (s *Server) ScrubStats() ScrubStats {
	sc := s.scrub
	sc.mu.Lock()
	defer sc.mu.Unlock()
	st := sc.mu.stats
	st.Rate, st.Burst = int64(sc.limiter.rate), sc.limiter.burst
	return st
}

// scrubber walks every shard of the node at a bounded rate, verifies it
// whole, and reports what it found. Its loop is a goroutine of the Server.
type scrubber struct {
	s        *Server
	reporter ShardReporter // nil: log only
	limiter  *limiter
	kick     chan struct{}

	mu struct {
		sync.Mutex
		looping bool
		stats   ScrubStats
	}

	// Owned by the loop goroutine.
	pendingDamage []*metapb.ShardReport
	verified      []*metapb.ShardReport
}

func newScrubber(s *Server, reporter ShardReporter) *scrubber {
	return &scrubber{
		s:        s,
		reporter: reporter,
		limiter:  newLimiter(s.cfg.ScrubRate, scrubBurst, s.cfg.Now),
		kick:     make(chan struct{}, 1),
	}
}

// trigger asks for a pass now. It reports false when a pass is running
// already (it goes on) or no loop runs to start one.
func (sc *scrubber) trigger() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.mu.looping || sc.mu.stats.Running {
		return false
	}
	select {
	case sc.kick <- struct{}{}:
	default: // a pass is about to start already
	}
	return true
}

// loop runs passes: the first when the last one recorded on the drives is
// ScrubInterval old, then ScrubInterval after each pass ends, and whenever
// triggered. It returns when ctx ends.
func (sc *scrubber) loop(ctx context.Context) {
	sc.mu.Lock()
	sc.mu.looping = true
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		sc.mu.looping = false
		sc.mu.Unlock()
	}()
	interval := sc.s.cfg.ScrubInterval
	wait := time.Duration(-1)
	if interval >= 0 {
		wait = max(0, sc.lastPassEnd().Add(interval).Sub(sc.s.cfg.Now()))
	}
	for {
		var timer *time.Timer
		var fire <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-fire:
		case <-sc.kick:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		sc.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		wait = -1
		if interval >= 0 {
			wait = interval
		}
	}
}

// pass verifies every shard of every drive that is not faulty.
func (sc *scrubber) pass(ctx context.Context) {
	s := sc.s
	start := s.cfg.Now()
	sc.mu.Lock()
	sc.mu.stats = ScrubStats{Running: true, Passes: sc.mu.stats.Passes, PassStart: start, ReportFailures: sc.mu.stats.ReportFailures}
	sc.mu.Unlock()
	s.log.Info("scrub pass started", "rate_bytes_per_second", sc.limiter.rate)
	for _, id := range s.order {
		d := s.drives[id]
		if faulty, _ := d.health.faulty(); faulty {
			continue
		}
		// Shards written after the pass began are fresh; they wait for
		// the next pass.
		err := d.walk(ctx, start, func(name string, _ time.Time) error {
			return sc.verifyShard(ctx, d, name)
		})
		sc.flushVerified(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil && !errors.Is(err, errDriveFaulty) {
			s.noteErr(d, err)
			s.log.Warn("scrub: walk of drive failed", "drive_id", id, "err", err)
		}
	}
	end := s.cfg.Now()
	done := ctx.Err() == nil
	if done {
		for _, id := range s.order {
			if err := s.drives[id].saveScrubEnd(end); err != nil {
				s.log.Warn("scrub: record pass end", "drive_id", id, "err", err)
			}
		}
	}
	sc.mu.Lock()
	st := &sc.mu.stats
	st.Running = false
	if done {
		st.PassEnd = end
		st.Passes++
	}
	stats := *st
	sc.mu.Unlock()
	if !done {
		return
	}
	s.log.Info("scrub pass ended", "shards", stats.ShardsVerified, "damaged", stats.DamageFound,
		"bytes", stats.BytesRead, "took", end.Sub(start))
}

// errDriveFaulty stops the walk of a drive that became faulty mid-pass.
var errDriveFaulty = errors.New("storage: scrub: drive became faulty")

// verifyShard reads one shard whole through the limiter and files the
// outcome. Only the end of ctx, or the drive turning faulty, stops the
// walk; a damaged shard is reported and the walk goes on.
func (sc *scrubber) verifyShard(ctx context.Context, d *drive, name string) error {
	if faulty, _ := d.health.faulty(); faulty {
		return errDriveFaulty
	}
	var read int64
	info, err := sc.readShard(ctx, d, name, &read)
	sc.mu.Lock()
	sc.mu.stats.BytesRead += uint64(read)
	sc.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted since it was listed
	}
	report := &metapb.ShardReport{NodeId: sc.s.cfg.NodeID, DriveId: d.id, ShardId: name}
	switch {
	case err == nil:
		report.Health, report.Digest = metapb.ShardHealth_SHARD_OK, info.Digest
	case errors.Is(err, bitrot.ErrCorrupt) || errors.Is(err, bitrot.ErrBadHeader):
		report.Health, report.Detail = metapb.ShardHealth_SHARD_CORRUPT, err.Error()
	default:
		sc.s.noteErr(d, err)
		report.Health, report.Detail = metapb.ShardHealth_SHARD_UNREADABLE, pathless(err)
	}
	sc.mu.Lock()
	sc.mu.stats.ShardsVerified++
	if report.Health != metapb.ShardHealth_SHARD_OK {
		sc.mu.stats.DamageFound++
	}
	sc.mu.Unlock()
	if report.Health == metapb.ShardHealth_SHARD_OK {
		sc.verified = append(sc.verified, report)
		if len(sc.verified) >= sc.s.cfg.ScrubBatch {
			sc.flushVerified(ctx)
		}
		return nil
	}
	sc.s.log.Warn("scrub: shard damaged", "drive_id", d.id, "shard_id", name, "health", report.Health, "detail", report.Detail)
	sc.reportDamage(ctx, report)
	return nil
}

func (sc *scrubber) readShard(ctx context.Context, d *drive, name string, read *int64) (bitrot.Info, error) {
	sf, err := d.open(name)
	if err != nil {
		return bitrot.Info{}, err
	}
	defer sf.f.Close()
	return sf.verify(&limitedReaderAt{ctx: ctx, r: sf.f, l: sc.limiter, read: read}, nil)
}

// reportDamage sends damage at once, with any earlier damage reports the
// meta group did not take.
func (sc *scrubber) reportDamage(ctx context.Context, r *metapb.ShardReport) {
	sc.pendingDamage = append(sc.pendingDamage, r)
	if n := len(sc.pendingDamage); n > maxPendingDamage {
		sc.pendingDamage = sc.pendingDamage[n-maxPendingDamage:]
	}
	if sc.send(ctx, sc.pendingDamage) {
		sc.pendingDamage = nil
	}
}

// flushVerified sends the verified shards gathered so far, with any damage
// still pending. Verified shards the meta group does not take are
// dropped: the next pass verifies them again.
func (sc *scrubber) flushVerified(ctx context.Context) {
	if len(sc.verified) == 0 && len(sc.pendingDamage) == 0 {
		return
	}
	all := append(append([]*metapb.ShardReport(nil), sc.pendingDamage...), sc.verified...)
	if sc.send(ctx, all) {
		sc.pendingDamage = nil
	}
	sc.verified = nil
}

func (sc *scrubber) send(ctx context.Context, shards []*metapb.ShardReport) bool {
	if sc.reporter == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	err := sc.reporter.ReportShards(cctx, &metapb.ReportShardsRequest{Reporter: sc.s.cfg.NodeID, Shards: shards})
	if err == nil {
		return true
	}
	sc.mu.Lock()
	sc.mu.stats.ReportFailures++
	first := sc.mu.stats.ReportFailures == 1
	sc.mu.Unlock()
	switch {
	case ctx.Err() != nil:
	case first:
		// Once: a meta group without a repairer refuses every report.
		sc.s.log.Warn("scrub: report to the meta group failed", "shards", len(shards), "err", err)
	default:
		sc.s.log.Debug("scrub: report to the meta group failed", "shards", len(shards), "err", err)
	}
	return false
}

// lastPassEnd is the oldest pass end recorded on the drives; zero when a
// drive has none, so a new drive is scrubbed soon.
func (sc *scrubber) lastPassEnd() time.Time {
	var oldest time.Time
	for i, id := range sc.s.order {
		t := sc.s.drives[id].loadScrubEnd()
		if i == 0 || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}

// scrubState is persisted on each drive in scrubStateFile. Bump
// scrubStateVersion on any change.
type scrubState struct {
	Version             int   `json:"version"`
	LastPassEndUnixNano int64 `json:"last_pass_end_unix_nano"`
}

func (d *drive) loadScrubEnd() time.Time {
	b, err := vfs.ReadFile(d.fs, d.path(scrubStateFile))
	if err != nil {
		return time.Time{}
	}
	var st scrubState
	if json.Unmarshal(b, &st) != nil || st.Version != scrubStateVersion {
		return time.Time{}
	}
	return time.Unix(0, st.LastPassEndUnixNano)
}

func (d *drive) saveScrubEnd(t time.Time) error {
	if faulty, _ := d.health.faulty(); faulty {
		return nil
	}
	b, err := json.Marshal(scrubState{Version: scrubStateVersion, LastPassEndUnixNano: t.UnixNano()})
	if err != nil {
		return err
	}
	tmp := d.path(tmpDir, scrubStateFile)
	if err := d.fs.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := writeFileSync(d.fs, tmp, b); err != nil {
		return fmt.Errorf("write %s: %w", scrubStateFile, err)
	}
	// Not fsync'd into its directory: losing it in a crash only brings
	// the next pass forward.
	return d.fs.Rename(tmp, d.path(scrubStateFile))
}

// limiter is a token bucket of bytes: wait(n) returns once n more bytes
// fit in rate bytes per second with bursts of at most burst bytes.
type limiter struct {
	rate  float64
	burst int64
	now   func() time.Time

	mu struct {
		sync.Mutex
		tokens float64
		last   time.Time
		// taken counts every byte admitted.
		taken int64
	}
}

func newLimiter(rate, burst int64, now func() time.Time) *limiter {
	l := &limiter{rate: float64(rate), burst: burst, now: now}
	l.mu.tokens = float64(burst)
	l.mu.last = now()
	return l
}

// wait blocks until n bytes may be read, in steps of at most burst bytes,
// or ctx ends.
func (l *limiter) wait(ctx context.Context, n int64) error {
	for n > 0 {
		k := min(n, l.burst)
		l.mu.Lock()
		now := l.now()
		l.mu.tokens = min(float64(l.burst), l.mu.tokens+now.Sub(l.mu.last).Seconds()*l.rate)
		l.mu.last = now
		l.mu.tokens -= float64(k)
		l.mu.taken += k
		var d time.Duration
		if l.mu.tokens < 0 {
			d = time.Duration(-l.mu.tokens / l.rate * float64(time.Second))
		}
		l.mu.Unlock()
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		n -= k
	}
	return nil
}

// admitted returns the bytes the limiter let through.
func (l *limiter) admitted() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.taken
}

// limitedReaderAt paces reads through a limiter and counts them.
type limitedReaderAt struct {
	ctx  context.Context
	r    io.ReaderAt
	l    *limiter
	read *int64
}

func (r *limitedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := r.l.wait(r.ctx, int64(len(p))); err != nil {
		return 0, err
	}
	n, err := r.r.ReadAt(p, off)
	*r.read += int64(n)
	return n, err
}
