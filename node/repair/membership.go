package repair

import (
	"context"
	"sort"
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// DefaultBandPercent is the rebalance band when none is given: every drive
// ends within +/- 10 % of its fair share of the bytes held.
const DefaultBandPercent = 10

// driveKey names a drive; with drive "" it names a whole node (a node
// drain).
type driveKey struct{ node, drive string }

// draining reports whether a shard on drive of n has to leave: the node
// or the drive is draining.
func draining(n *metapb.Node, drive string) bool {
	if n.GetState() == metapb.NodeState_NODE_DRAINING {
		return true
	}
	for _, d := range n.GetDrives() {
		if d.GetDriveId() == drive {
			return d.GetState() == metapb.DriveState_DRIVE_DRAINING
		}
	}
	return false
}

// drainKeyOf is where a shard's drain is reported: its node when the node
// drains, else its drive when that drains.
func drainKeyOf(n *metapb.Node, drive string) (driveKey, bool) {
	if n == nil {
		return driveKey{}, false
	}
	if n.GetState() == metapb.NodeState_NODE_DRAINING {
		return driveKey{node: n.GetNodeId()}, true
	}
	if draining(n, drive) {
		return driveKey{node: n.GetNodeId(), drive: drive}, true
	}
	return driveKey{}, false
}

type drainLeft struct {
	shards, bytes uint64
	lost          bool
}

// memFigures are the membership numbers (drains, rebalance); guarded by
// Repairer.mu. left and held are of the last complete scan.
type memFigures struct {
	left, curLeft     map[driveKey]*drainLeft
	held, curHeld     map[driveKey]int64
	maxShard, curMax  int64
	moved             map[driveKey]uint64
	since             map[driveKey]time.Time
	rebMoved          uint64
	rebStart          time.Time
	rebalance         *metapb.RebalanceState
	balanced, scanned bool
	// plan projects the fills while a scan queues rebalance moves.
	plan *fillPlan
	// planned: the last scan queued rebalance moves, so its counts are
	// stale once they are done: the next scan only measures.
	planned, curPlanned bool
}

func newMemFigures() memFigures {
	return memFigures{moved: map[driveKey]uint64{}, since: map[driveKey]time.Time{}}
}

// tally counts b's shards into the scan under way: bytes held per drive,
// and shards left on draining nodes and drives.
func (m *memFigures) tally(v *view, b Body) {
	size := b.shardSize()
	m.curMax = max(m.curMax, size)
	for _, sh := range b.Shards {
		m.curHeld[driveKey{sh.GetNodeId(), sh.GetDriveId()}] += size
		k, ok := drainKeyOf(v.nodes[sh.GetNodeId()], sh.GetDriveId())
		if !ok {
			continue
		}
		l := m.curLeft[k]
		if l == nil {
			l = &drainLeft{lost: v.lost[k.node]}
			m.curLeft[k] = l
		}
		l.shards++
		l.bytes += uint64(size)
	}
}

// fillPlan is the rebalancer's picture of the eligible drives (active,
// on up and active nodes): the bytes each holds, projected with the moves
// queued, against its fair share.
type fillPlan struct {
	band  float64
	slack int64
	keys  []driveKey // sorted
	fills map[driveKey]*fill
}

type fill struct{ held, target int64 }

// newFillPlan shares the bytes held on eligible drives among them in
// proportion to capacity (equally when a capacity is unknown). A drive is
// within the band when it is within band % of its share, or within slack
// (the largest shard: moves cannot be finer).
func newFillPlan(v *view, held map[driveKey]int64, band float64, slack int64) *fillPlan {
	if band <= 0 {
		band = DefaultBandPercent
	}
	p := &fillPlan{band: band, slack: slack, fills: map[driveKey]*fill{}}
	caps := map[driveKey]uint64{}
	known := true
	var total int64
	for _, n := range v.pm.Nodes {
		if !n.Up || n.Down || n.Draining {
			continue
		}
		for _, d := range n.Drives {
			if !d.Active {
				continue
			}
			k := driveKey{string(n.ID), string(d.ID)}
			p.keys = append(p.keys, k)
			p.fills[k] = &fill{held: held[k]}
			caps[k] = d.CapacityBytes
			known = known && d.CapacityBytes > 0
			total += held[k]
		}
	}
	sort.Slice(p.keys, func(i, j int) bool {
		a, b := p.keys[i], p.keys[j]
		return a.node < b.node || (a.node == b.node && a.drive < b.drive)
	})
	var sum float64
	for _, k := range p.keys {
		if !known {
			caps[k] = 1
		}
		sum += float64(caps[k])
	}
	for _, k := range p.keys {
		if sum > 0 {
			p.fills[k].target = int64(float64(total) * float64(caps[k]) / sum)
		}
	}
	return p
}

func (p *fillPlan) tol(f *fill) int64 {
	return max(int64(p.band/100*float64(f.target)), p.slack)
}

// balanced reports whether every eligible drive is within the band.
func (p *fillPlan) balanced() bool {
	for _, k := range p.keys {
		f := p.fills[k]
		if d := f.held - f.target; d > p.tol(f) || -d > p.tol(f) {
			return false
		}
	}
	return true
}

// plan chooses up to limit shards of b to move from drives above their
// share to drives below it, while some drive is outside the band, where
// the move keeps every shard of b on its own node (or moves it within its
// node) and leaves both drives within the band of their shares; it
// projects the moves.
func (p *fillPlan) plan(b Body, limit int) map[int]*metapb.ShardPlacement {
	size := b.shardSize()
	if size <= 0 || limit <= 0 {
		return nil
	}
	holders := map[string]int{}
	for _, sh := range b.Shards {
		holders[sh.GetNodeId()]++
	}
	var out map[int]*metapb.ShardPlacement
	for i, sh := range b.Shards {
		if len(out) == limit {
			break
		}
		src := driveKey{sh.GetNodeId(), sh.GetDriveId()}
		f := p.fills[src]
		if f == nil || f.held <= f.target || f.held-size < f.target-p.tol(f) {
			continue
		}
		srcOver := f.held-f.target > p.tol(f)
		var best driveKey
		var bestGap int64
		found := false
		for _, k := range p.keys {
			t := p.fills[k]
			if k == src || (holders[k.node] > 0 && k.node != src.node) {
				continue
			}
			if t.held >= t.target || t.held+size > t.target+p.tol(t) {
				continue
			}
			if !srcOver && t.target-t.held <= p.tol(t) {
				continue // both within the band: nothing to gain
			}
			if gap := t.target - t.held; !found || gap > bestGap {
				best, bestGap, found = k, gap, true
			}
		}
		if !found {
			continue
		}
		if out == nil {
			out = map[int]*metapb.ShardPlacement{}
		}
		out[i] = &metapb.ShardPlacement{NodeId: best.node, DriveId: best.drive}
		f.held -= size
		p.fills[best].held += size
		holders[src.node]--
		holders[best.node]++
	}
	return out
}

// usableTargets reports whether every target is an active drive of an up,
// active node in v: a rebalance planned on an older view is dropped when
// not (the next plan decides afresh).
func (v *view) usableTargets(targets map[int]*metapb.ShardPlacement) bool {
	for _, sh := range targets {
		ok := false
		for _, n := range v.pm.Nodes {
			if string(n.ID) != sh.GetNodeId() || !n.Up || n.Down || n.Draining {
				continue
			}
			for _, d := range n.Drives {
				ok = ok || (string(d.ID) == sh.GetDriveId() && d.Active)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// movesOnly reports whether every target of t moves a shard that is still
// readable where it is (drained, rebalanced or misplaced) to another
// drive: such shards can be copied rather than rebuilt.
func movesOnly(t *task, targets map[int]*metapb.ShardPlacement) bool {
	if len(targets) == 0 {
		return false
	}
	for i, to := range targets {
		switch t.states[i] {
		case shardDrain, shardRebalance, shardMisplace:
		default:
			return false
		}
		if from := t.body.Shards[i]; from.GetNodeId() == to.GetNodeId() && from.GetDriveId() == to.GetDriveId() {
			return false
		}
	}
	return true
}

// rebalanceTask is the task moving b's shards to the planned drives.
func rebalanceTask(b Body, moves map[int]*metapb.ShardPlacement) *task {
	t := &task{body: b, states: make([]shardState, len(b.Shards)), surviving: len(b.Shards), preset: moves}
	for i := range moves {
		t.states[i] = shardRebalance
	}
	return t
}

// beginScan resets the counts of the scan under way and, while a
// rebalance runs and an earlier scan measured the drives, starts a plan.
func (m *memFigures) beginScan(v *view, reb *metapb.RebalanceState) {
	m.curLeft, m.curHeld, m.curMax = map[driveKey]*drainLeft{}, map[driveKey]int64{}, 0
	m.rebalance = reb
	m.plan = nil
	m.curPlanned = false
	if reb.GetRunning() && m.scanned && !m.planned {
		m.plan = newFillPlan(v, m.held, reb.GetBandPercent(), m.maxShard)
	}
}

// endScan makes the scan's counts current and reports whether the drives
// are balanced.
func (m *memFigures) endScan(v *view, now time.Time) bool {
	m.left, m.held, m.maxShard = m.curLeft, m.curHeld, m.curMax
	m.scanned, m.planned = true, m.curPlanned
	for k := range m.left {
		if _, ok := m.since[k]; !ok {
			m.since[k] = now
		}
	}
	for k := range m.since {
		if m.left[k] == nil {
			delete(m.since, k)
			delete(m.moved, k)
		}
	}
	m.balanced = newFillPlan(v, m.held, m.rebalance.GetBandPercent(), m.maxShard).balanced()
	return m.balanced
}

// movedOff records bytes moved off the shard's place by a committed task.
func (m *memFigures) movedOff(v *view, t *task, from *metapb.ShardPlacement, bytes uint64, now time.Time) {
	if k, ok := drainKeyOf(v.nodes[from.GetNodeId()], from.GetDriveId()); ok {
		m.moved[k] += bytes
	}
	if t.preset != nil {
		if m.rebStart.IsZero() {
			m.rebStart = now
		}
		m.rebMoved += bytes
	}
}

func (m *memFigures) status(v *view, now time.Time) *metapb.MembershipStatusResponse {
	resp := &metapb.MembershipStatusResponse{
		Rebalance: m.rebalance, Balanced: m.balanced, Scanned: m.scanned,
		RebalanceBytesMoved: m.rebMoved,
	}
	if !m.rebStart.IsZero() {
		if s := now.Sub(m.rebStart).Seconds(); s >= minRateSpan.Seconds() {
			resp.RebalanceRateBytesPerSec = float64(m.rebMoved) / s
		}
	}
	keys := make([]driveKey, 0, len(m.left))
	for k := range m.left {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.node < b.node || (a.node == b.node && a.drive < b.drive)
	})
	for _, k := range keys {
		l := m.left[k]
		d := &metapb.DrainProgress{NodeId: k.node, DriveId: k.drive, ShardsLeft: l.shards, BytesLeft: l.bytes, BytesMoved: m.moved[k], Lost: l.lost, EtaSeconds: -1}
		if s := now.Sub(m.since[k]).Seconds(); s >= minRateSpan.Seconds() && d.BytesMoved > 0 {
			d.RateBytesPerSec = float64(d.BytesMoved) / s
			d.EtaSeconds = float64(d.BytesLeft) / d.RateBytesPerSec
		}
		resp.Drains = append(resp.Drains, d)
	}
	if v != nil && m.scanned {
		p := newFillPlan(v, m.held, m.rebalance.GetBandPercent(), m.maxShard)
		for _, k := range p.keys {
			f := p.fills[k]
			resp.Fills = append(resp.Fills, &metapb.DriveFill{NodeId: k.node, DriveId: k.drive, HeldBytes: uint64(f.held), TargetBytes: uint64(f.target), CapacityBytes: capacityOf(v, k)})
		}
	}
	return resp
}

func capacityOf(v *view, k driveKey) uint64 {
	for _, d := range v.nodes[k.node].GetDrives() {
		if d.GetDriveId() == k.drive {
			return d.GetCapacityBytes()
		}
	}
	return 0
}

// Membership returns the progress of drains and of the rebalance.
func (r *Repairer) Membership() *metapb.MembershipStatusResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.mem.status(r.mu.view, r.cfg.Now())
}

// finishRebalance commits the end of a rebalance whose drives are within
// the band, so that status shows it done and a later imbalance waits for
// an operator.
func (r *Repairer) finishRebalance(ctx context.Context, reb *metapb.RebalanceState) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	_, err := r.cfg.Proposer.Propose(cctx, &metapb.Command{Op: &metapb.Command_SetRebalance{SetRebalance: &metapb.SetRebalance{Running: false, BandPercent: reb.GetBandPercent()}}})
	if err != nil {
		r.log.Warn("repair: commit rebalance done", "err", err)
		return
	}
	r.log.Info("repair: rebalance done: every drive within the band", "band_percent", reb.GetBandPercent())
}
