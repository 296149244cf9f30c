package repair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// proposeAttempts bounds the retries of a RepairShards whose outcome is
// unknown; the command is idempotent, so a retry answers OK or STALE.
const proposeAttempts = 3

// Repairer finds and repairs damaged bodies while Run runs (on the meta
// leader). Its methods are safe for concurrent use.
type Repairer struct {
	cfg  Config
	log  *slog.Logger
	lim  *limiter
	kick chan struct{}
	jobs chan string // buckets to scrub

	mu struct {
		sync.Mutex
		q       *queue
		damaged map[damageKey]bool
		view    *view
		fig     figures
		mem     memFigures
		paused  bool
		running bool
		started time.Time
	}
}

// New returns a Repairer; call Run to start it.
func New(cfg Config) (*Repairer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	r := &Repairer{
		cfg: cfg, log: cfg.Logger,
		lim:  newLimiter(max(cfg.Bandwidth, 0), cfg.Now, cfg.Sleep),
		kick: make(chan struct{}, 1),
		jobs: make(chan string, 4),
	}
	r.mu.q = newQueue(cfg.MaxQueue)
	r.mu.damaged = map[damageKey]bool{}
	r.mu.started = cfg.Now()
	r.mu.fig.scanning = true
	r.mu.mem = newMemFigures()
	return r, nil
}

// Run repairs until ctx ends, then joins every goroutine it started.
// Nothing it holds outlives it: a new Run (on a new leader) starts from a
// fresh scan.
func (r *Repairer) Run(ctx context.Context) {
	r.mu.Lock()
	r.mu.running = true
	r.mu.started = r.cfg.Now()
	r.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { r.runScrubs(ctx) })
	defer wg.Wait()

	var (
		lastPrint string
		lastScan  time.Time
		rescan    = true
		// rebalancing: the last scan found a rebalance running and the
		// drives outside the band.
		rebalancing bool
		retry       = newRetry()
	)
	for ctx.Err() == nil {
		v, print, err := r.refreshView(ctx)
		if err != nil {
			r.log.Warn("repair: read cluster map", "err", err)
		} else {
			if print != lastPrint || r.cfg.Now().Sub(lastScan) >= r.cfg.ScanInterval {
				rescan = true
			}
			if rescan {
				if res, err := r.scan(ctx, v); err != nil {
					r.log.Warn("repair: scan incomplete", "err", err)
				} else {
					// again: a rebalance needs a second scan to plan
					// from the fills the first one measured.
					lastPrint, lastScan, rescan = print, r.cfg.Now(), res.again
					rebalancing = res.rebalancing
				}
			}
			if r.work(ctx) > 0 {
				// Repairs change what the next scan finds (and
				// figures must show the rest): scan again at once.
				rescan = true
				retry.reset()
				continue
			}
			// A rebalance round that committed nothing (its moves
			// failed or were dropped, or its plan found none on the
			// view it had) plans again after a few polls, backing
			// off, not at the next ScanInterval: an operator started
			// it and waits for it to end.
			if rebalancing && !rescan && retry.due() {
				r.log.Info("repair: rebalance round moved nothing; planning again", "after_polls", retry.waited())
				rescan = true
				continue
			}
		}
		t := time.NewTimer(r.cfg.PollInterval)
		select {
		case <-ctx.Done():
		case <-r.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// refreshView reads the map and returns a view and a fingerprint of what
// makes shards lost: a change of it prompts a rescan.
func (r *Repairer) refreshView(ctx context.Context) (*view, string, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	m, err := r.cfg.Metadata.ClusterMap(cctx)
	if err != nil {
		return nil, "", err
	}
	reb, err := r.cfg.Metadata.Rebalance(cctx)
	if err != nil {
		return nil, "", err
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	started := r.mu.started
	isLost := func(n *metapb.Node) bool {
		if n.GetDown() {
			return true
		}
		if r.cfg.DownAfter <= 0 || n.GetUp() {
			return false
		}
		since := max(n.GetLastHeartbeatUnixNano(), started.UnixNano())
		return now.UnixNano()-since > r.cfg.DownAfter.Nanoseconds()
	}
	v := newView(m, r.mu.damaged, isLost)
	// Node states (drain, admission) and the rebalance setting change
	// what work there is, too.
	parts := []string{fmt.Sprintf("rebalance:%v:%v", reb.GetRunning(), reb.GetBandPercent())}
	for _, n := range m.GetNodes() {
		parts = append(parts, fmt.Sprintf("state:%s:%d", n.GetNodeId(), n.GetState()))
		if v.lost[n.GetNodeId()] {
			parts = append(parts, "lost:"+n.GetNodeId())
		}
		if n.GetUp() && !v.lost[n.GetNodeId()] {
			parts = append(parts, "up:"+n.GetNodeId())
		}
		for _, d := range n.GetDrives() {
			parts = append(parts, fmt.Sprintf("%s/%s:%d", n.GetNodeId(), d.GetDriveId(), d.GetState()))
		}
	}
	sort.Strings(parts)
	r.mu.view = v
	return v, strings.Join(parts, ","), nil
}

// scanResult is what a scan tells the loop about the next one.
type scanResult struct {
	// again: another scan is needed at once (a rebalance that had no
	// fills to plan from yet).
	again bool
	// rebalancing: a rebalance runs and the drives are outside the band.
	rebalancing bool
}

// scan walks every body and queues what needs work, and recounts the
// bodies at risk, the shards left to drain and the bytes on every drive.
// While a rebalance runs it queues moves off over-full drives for bodies
// needing nothing else.
func (r *Repairer) scan(ctx context.Context, v *view) (scanResult, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	reb, err := r.cfg.Metadata.Rebalance(cctx)
	cancel()
	if err != nil {
		return scanResult{}, fmt.Errorf("repair: read rebalance: %w", err)
	}
	r.mu.Lock()
	r.mu.fig.scanning = true
	r.mu.fig.cur = map[levelKey]*level{}
	r.mu.mem.beginScan(v, reb)
	planning := r.mu.mem.plan != nil
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.mu.fig.scanning = false
		r.mu.Unlock()
	}()
	var cursor []byte
	queued, found, moves := 0, 0, 0
	for {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
		bodies, next, err := r.cfg.Metadata.ScanBodies(cctx, cursor, r.cfg.PageSize)
		cancel()
		if err != nil {
			return scanResult{}, fmt.Errorf("repair: scan bodies: %w", err)
		}
		r.mu.Lock()
		v.damaged = r.mu.damaged
		for _, b := range bodies {
			r.mu.mem.tally(v, b)
			t := v.assess(b)
			if t == nil && r.mu.mem.plan != nil {
				if planned := r.mu.mem.plan.plan(b, b.m()); len(planned) > 0 {
					if r.mu.q.push(rebalanceTask(b, planned)) {
						moves += len(planned)
					}
					r.mu.mem.curPlanned = true
				}
				continue
			}
			if t == nil {
				continue
			}
			found++
			r.mu.fig.count(r.mu.fig.cur, t, 1)
			if r.mu.q.push(t) {
				queued++
			}
		}
		r.mu.Unlock()
		if next == nil {
			break
		}
		cursor = next
	}
	r.mu.Lock()
	r.mu.fig.last, r.mu.fig.cur = r.mu.fig.cur, nil
	r.mu.fig.lastScan = r.cfg.Now()
	balanced := r.mu.mem.endScan(v, r.cfg.Now())
	r.mu.Unlock()
	if found > 0 {
		r.log.Info("repair: scan", "needing_work", found, "queued", queued)
	}
	if planning {
		r.log.Info("repair: rebalance planned", "shard_moves", moves, "balanced", balanced)
	}
	if reb.GetRunning() && balanced && found == 0 {
		r.finishRebalance(ctx, reb)
	}
	// A scan that only measured (no plan yet, or the last one's moves
	// done since) is followed by one that plans.
	return scanResult{again: reb.GetRunning() && !balanced && !planning, rebalancing: reb.GetRunning() && !balanced}, nil
}

// maxRetryPolls bounds the backoff between the rounds of a rebalance
// that moves nothing (a target refusing writes, say): about a minute at
// the default poll interval.
const maxRetryPolls = 64

// retry paces rounds that made no progress: due reports true after 1,
// then 2, 4 … up to maxRetryPolls idle polls; reset starts over.
type retry struct{ wait, polls, last int }

func newRetry() *retry { return &retry{wait: 1} }

func (b *retry) reset() { *b = retry{wait: 1} }

// waited is how many polls the last due waited.
func (b *retry) waited() int { return b.last }

func (b *retry) due() bool {
	b.polls++
	if b.polls < b.wait {
		return false
	}
	b.last, b.polls = b.polls, 0
	b.wait = min(2*b.wait, maxRetryPolls)
	return true
}

// paused reads the pause flag, remembering it for Status.
func (r *Repairer) paused(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	p, err := r.cfg.Metadata.HealPaused(cctx)
	if err != nil {
		r.log.Warn("repair: read pause flag", "err", err)
		return true
	}
	r.mu.Lock()
	r.mu.paused = p
	r.mu.Unlock()
	return p
}

// work drains the queue with Concurrency workers unless paused, and
// returns the number of bodies repaired.
func (r *Repairer) work(ctx context.Context) int {
	r.mu.Lock()
	empty := r.mu.q.len() == 0
	r.mu.Unlock()
	if empty || r.paused(ctx) {
		return 0
	}
	r.mu.Lock()
	r.mu.fig.started(r.cfg.Now())
	r.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				if r.paused(ctx) {
					return
				}
				r.mu.Lock()
				t, ok := r.mu.q.pop()
				r.mu.Unlock()
				if !ok {
					return
				}
				repaired := r.repair(ctx, t)
				r.mu.Lock()
				r.mu.q.done(t)
				r.mu.Unlock()
				if repaired {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return done
}

// repair rebuilds what t needs and commits it; it reports whether the
// body's record changed.
func (r *Repairer) repair(ctx context.Context, t *task) bool {
	b := &t.body
	log := r.log.With("bucket", b.Bucket, "key", b.Key, "version", b.VersionID, "upload", b.UploadID, "part", b.PartNumber, "data_id", b.DataID)
	// The task may be older than the view: decide on the newest. The
	// view reads the damage map, which r.mu guards.
	r.mu.Lock()
	v := r.mu.view
	v.damaged = r.mu.damaged
	fresh := v.assess(*b)
	if fresh == nil && t.preset != nil && v.usableTargets(t.preset) {
		// A rebalance move: nothing else is needed, and its targets
		// still take shards, so make it.
		fresh = t
	}
	var (
		targets map[int]*metapb.ShardPlacement
		under   bool
		err     error
	)
	if fresh != nil {
		*t = *fresh
		targets, under, err = v.targets(t)
	}
	r.mu.Unlock()
	if fresh == nil {
		return false
	}
	if err != nil {
		r.failed(log, "choose targets", err)
		return false
	}
	ver := &metapb.ObjectVersion{
		Bucket: b.Bucket, Key: b.Key, VersionId: b.VersionID, DataId: b.DataID,
		Profile: b.Profile, Shards: b.Shards, ShardDigests: b.Digests, Size: b.StoredSize,
	}
	var avoid []int
	for i, s := range t.states {
		if s != shardOK && targets[i] == nil {
			avoid = append(avoid, i)
		}
	}
	throttle := func(ctx context.Context, n int) error {
		if err := r.lim.wait(ctx, n); err != nil {
			return err
		}
		// n bytes read make len(targets)/K as many bytes of new shards.
		r.mu.Lock()
		r.mu.fig.progress(int64(n)*int64(len(targets))/int64(b.k()), r.cfg.Now())
		r.mu.Unlock()
		return nil
	}
	var rebuilt []objio.RebuiltShard
	if movesOnly(t, targets) {
		// Every shard to write is still readable where it is (a drain,
		// a rebalance, a spread): copying it reads one shard, not K.
		copyThrottle := func(ctx context.Context, n int) error {
			if err := r.lim.wait(ctx, n); err != nil {
				return err
			}
			r.mu.Lock()
			r.mu.fig.progress(int64(n), r.cfg.Now())
			r.mu.Unlock()
			return nil
		}
		rebuilt, err = r.cfg.Rebuilder.CopyShards(ctx, ver, targets, objio.RebuildOptions{Throttle: copyThrottle})
		if err != nil && ctx.Err() == nil {
			log.Info("repair: copy failed; rebuilding from the other shards instead", "err", err)
		}
	}
	if rebuilt == nil && ctx.Err() == nil {
		rebuilt, err = r.cfg.Rebuilder.RebuildShards(ctx, ver, targets, objio.RebuildOptions{Avoid: avoid, Throttle: throttle})
	}
	if err != nil {
		if ctx.Err() == nil {
			r.failed(log, "rebuild", err)
		}
		return false
	}
	cmd := &metapb.RepairShards{
		Bucket: b.Bucket, Key: b.Key, VersionId: b.VersionID, UploadId: b.UploadID, PartNumber: b.PartNumber,
		DataId: b.DataID, UnderSpread: under, UnixNano: r.cfg.Now().UnixNano(),
	}
	var size int64
	for _, rs := range rebuilt {
		cmd.Moves = append(cmd.Moves, &metapb.ShardMove{Index: uint32(rs.Index), From: b.Shards[rs.Index], To: rs.Target, Digest: rs.Digest})
		size += int64(rs.Size)
	}
	res, err := r.propose(ctx, cmd)
	if err != nil {
		r.failed(log, "commit", err)
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range b.Shards {
		delete(r.mu.damaged, damageKey{shard: shardID(b.DataID, i), node: b.Shards[i].GetNodeId(), drive: b.Shards[i].GetDriveId()})
	}
	switch res.GetCode() {
	case metapb.ErrorCode_OK:
		r.mu.fig.repaired(t, len(rebuilt), size, r.cfg.Now())
		for _, rs := range rebuilt {
			r.mu.mem.movedOff(v, t, b.Shards[rs.Index], rs.Size, r.cfg.Now())
		}
		log.Info("repair: shards rebuilt", "shards", len(rebuilt), "bytes", size, "surviving", t.surviving, "under_spread", under)
		return true
	case metapb.ErrorCode_STALE:
		// A concurrent overwrite, delete or repair won; the rebuilt
		// shards are on the GC queue.
		log.Info("repair: body changed meanwhile; rebuilt shards dropped", "reason", res.GetMessage())
		return true
	default:
		r.mu.fig.failures++
		log.Warn("repair: commit refused", "code", res.GetCode(), "reason", res.GetMessage())
		return false
	}
}

func (r *Repairer) failed(log *slog.Logger, what string, err error) {
	r.mu.Lock()
	r.mu.fig.failures++
	r.mu.Unlock()
	log.Warn("repair: "+what+" failed", "err", err)
}

// propose commits cmd, retrying an unknown outcome: a replay answers OK
// and a lost race STALE, so a retry never applies it twice.
func (r *Repairer) propose(ctx context.Context, c *metapb.RepairShards) (*metapb.CommandResult, error) {
	cmd := &metapb.Command{Op: &metapb.Command_RepairShards{RepairShards: c}}
	var err error
	for range proposeAttempts {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
		var res *metapb.CommandResult
		res, err = r.cfg.Proposer.Propose(cctx, cmd)
		cancel()
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// Report queues the damaged shards among reports (from scrubs and
// reads). A SHARD_OK report counts as damage when its digest differs from
// the one the body's record keeps. A SHARD_OK report without a digest
// proves nothing about the shard: it asks for the body to be assessed
// against the current map (a gateway sends one for each body it committed
// under-spread, which the repairer spreads at once when the map has the
// nodes, rather than at its next periodic scan). Reports of shards no live
// body holds at the reported place are ignored. It returns how many
// bodies were queued.
func (r *Repairer) Report(ctx context.Context, reports []*metapb.ShardReport) (int, error) {
	damaged, checked := 0, 0
	for _, rep := range reports {
		dataID, idx, ok := parseShardID(rep.GetShardId())
		if !ok {
			continue
		}
		check := false
		switch rep.GetHealth() {
		case metapb.ShardHealth_SHARD_CORRUPT, metapb.ShardHealth_SHARD_MISSING:
		case metapb.ShardHealth_SHARD_OK:
			check = len(rep.GetDigest()) == 0
		default:
			// Unreadable: the node or drive, not the shard; liveness
			// and drive states deal with it.
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
		b, found, err := r.cfg.Metadata.LocateBody(cctx, dataID)
		cancel()
		if err != nil {
			return damaged + checked, fmt.Errorf("repair: report %s: %w", rep.GetShardId(), err)
		}
		if !found || idx >= len(b.Shards) {
			continue
		}
		sh := b.Shards[idx]
		if sh.GetNodeId() != rep.GetNodeId() || (rep.GetDriveId() != "" && sh.GetDriveId() != rep.GetDriveId()) {
			// Moved or rewritten since: whoever did it placed it
			// against a newer map.
			continue
		}
		if check {
			if r.assessNow(b) {
				checked++
			}
			continue
		}
		if rep.GetHealth() == metapb.ShardHealth_SHARD_OK {
			if idx >= len(b.Digests) || len(b.Digests[idx]) == 0 || bytes.Equal(b.Digests[idx], rep.GetDigest()) {
				continue
			}
		}
		if r.markDamaged(b, idx) {
			damaged++
		}
	}
	if damaged+checked > 0 {
		r.log.Info("repair: reported bodies queued", "damaged", damaged, "checked", checked)
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return damaged + checked, nil
}

// markDamaged records shard idx of b as damaged where b has it and queues
// b; it reports whether b was queued.
func (r *Repairer) markDamaged(b Body, idx int) bool {
	sh := b.Shards[idx]
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.mu.damaged) >= 4*r.cfg.MaxQueue {
		return false
	}
	r.mu.damaged[damageKey{shard: shardID(b.DataID, idx), node: sh.GetNodeId(), drive: sh.GetDriveId()}] = true
	if r.mu.view == nil {
		// Not running yet: the first scan picks the damage up.
		return true
	}
	r.queueLocked(b)
	return true
}

// assessNow queues b if the current view finds work for it (a spread, when
// the map now has a node for every shard); it reports whether b was
// queued. Nothing is remembered otherwise: with too few nodes the body
// waits for a map change, whose scan finds it, so nothing polls for it.
func (r *Repairer) assessNow(b Body) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.view == nil {
		// Not running yet: the first scan assesses every body.
		return false
	}
	return r.queueLocked(b)
}

// queueLocked assesses b against the current view and queues the work it
// needs; it reports whether b was queued. r.mu is held.
func (r *Repairer) queueLocked(b Body) bool {
	v := r.mu.view
	v.damaged = r.mu.damaged
	t := v.assess(b)
	return t != nil && r.mu.q.push(t)
}

// parseShardID splits "<data_id>.<index>".
func parseShardID(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 || n > 255 {
		return "", 0, false
	}
	return s[:i], n, true
}

// Status returns the repairer's figures.
func (r *Repairer) Status() *metapb.HealStatusResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.fig.status(r.cfg.Now(), r.mu.paused)
}

// errors for Scrub.
var (
	// ErrNoSuchNode: Scrub named a node the map does not have.
	ErrNoSuchNode = errors.New("repair: no such storage node")
	// ErrNoSuchBucket: Scrub named a bucket that does not exist.
	ErrNoSuchBucket = errors.New("repair: no such bucket")
	// ErrScrubUnsupported: the storage nodes cannot scrub on demand.
	ErrScrubUnsupported = errors.New("repair: storage nodes do not support scrub")
	// ErrBusy: too many bucket scrubs are queued already.
	ErrBusy = errors.New("repair: scrub queue full")
)
