package repair

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Body is one erasure-coded body, named as RepairShards names it.
type Body struct {
	Bucket     string
	Key        string
	VersionID  string
	UploadID   string
	PartNumber uint32
	DataID     string
	Profile    *metapb.ErasureProfile
	Shards     []*metapb.ShardPlacement
	Digests    [][]byte
	StoredSize int64
}

func (b *Body) k() int { return int(b.Profile.GetDataShards()) }
func (b *Body) m() int { return int(b.Profile.GetParityShards()) }

// shardSize is the bytes of one shard of b.
func (b *Body) shardSize() int64 {
	k, bs := int64(b.k()), int64(b.Profile.GetBlockSize())
	if k == 0 || bs == 0 {
		return 0
	}
	stripe := k * bs
	full := b.StoredSize / stripe
	rest := b.StoredSize % stripe
	return full*bs + (rest+k-1)/k
}

// damageKey names one reported damaged shard at one place.
type damageKey struct {
	shard string // "<data_id>.<i>"
	node  string
	drive string
}

// view is what the repairer decides from: the cluster map with each
// node's liveness settled, and the damaged shards reported.
type view struct {
	nodes   map[string]*metapb.Node
	lost    map[string]bool // nodes down or gone for good
	pm      placement.Map   // eligible targets only
	damaged map[damageKey]bool
}

// newView builds a view. A node is lost when committed down, or, with
// downAfter > 0, when it has not been up for downAfter (silentSince gives
// when its silence started as this repairer can tell).
func newView(m *metapb.ClusterMap, damaged map[damageKey]bool, isLost func(*metapb.Node) bool) *view {
	v := &view{nodes: map[string]*metapb.Node{}, lost: map[string]bool{}, damaged: damaged}
	v.pm.Epoch = m.GetEpoch()
	for _, n := range m.GetNodes() {
		v.nodes[n.GetNodeId()] = n
		lost := isLost(n)
		v.lost[n.GetNodeId()] = lost
		pn := placement.Node{
			ID:     placement.NodeID(n.GetNodeId()),
			Domain: n.GetFailureDomain(),
			Up:     n.GetUp() && !lost && n.GetAddr() != "",
			// Pending nodes take no shards either, until admitted.
			Draining: n.GetState() != metapb.NodeState_NODE_ACTIVE,
		}
		for _, d := range n.GetDrives() {
			pn.Drives = append(pn.Drives, placement.Drive{
				ID: placement.DriveID(d.GetDriveId()), CapacityBytes: d.GetCapacityBytes(), FreeBytes: d.GetFreeBytes(),
				Active: d.GetState() == metapb.DriveState_DRIVE_ACTIVE,
			})
		}
		v.pm.Nodes = append(v.pm.Nodes, pn)
	}
	return v
}

// shardState says why a shard needs work.
type shardState int

const (
	shardOK        shardState = iota
	shardLost                 // node or drive lost: rebuild elsewhere
	shardDamaged              // reported damaged on a healthy drive: rewrite in place
	shardMisplace             // healthy, but shares a node: move to spread
	shardDrain                // readable, on a draining node or drive: move off
	shardRebalance            // healthy, on an over-full drive: move (task.preset)
)

// task is the work a body needs.
type task struct {
	body      Body
	states    []shardState
	surviving int
	// bytes is what rebuilding the shards costs to write.
	bytes int64
	// preset holds the targets the rebalancer chose (shardRebalance).
	preset map[int]*metapb.ShardPlacement
}

// Queue order biases: moves that only drain or rebalance wait behind
// every body at risk, whatever its margin.
const (
	drainBias     = 1000
	rebalanceBias = 2000
)

// margin is how many more shards the body can lose: the risk order. A
// body that only needs moving (drain, rebalance) queues behind those at
// risk.
func (t *task) margin() int {
	m := t.surviving - t.body.k()
	if t.lostCount() > 0 {
		return m
	}
	switch {
	case t.preset != nil:
		return m + rebalanceBias
	case t.count(shardDrain) > 0:
		return m + drainBias
	}
	return m
}

// count is the number of shards in state s.
func (t *task) count(s shardState) int {
	n := 0
	for _, x := range t.states {
		if x == s {
			n++
		}
	}
	return n
}

// lostCount is the number of shards to rebuild (not to move).
func (t *task) lostCount() int {
	n := 0
	for _, s := range t.states {
		if s == shardLost || s == shardDamaged {
			n++
		}
	}
	return n
}

// assess decides what b needs; nil means nothing.
func (v *view) assess(b Body) *task {
	n := b.k() + b.m()
	if b.k() == 0 || len(b.Shards) != n {
		return nil
	}
	t := &task{body: b, states: make([]shardState, n)}
	perNode := map[string][]int{}
	for i, sh := range b.Shards {
		node, ok := v.nodes[sh.GetNodeId()]
		switch {
		case !ok || v.lost[sh.GetNodeId()] || !hasUsableDrive(node, sh.GetDriveId()):
			t.states[i] = shardLost
		case v.damaged[damageKey{shard: shardID(b.DataID, i), node: sh.GetNodeId(), drive: sh.GetDriveId()}]:
			t.states[i] = shardDamaged
		case draining(node, sh.GetDriveId()):
			// Still readable, so it still protects the body; it just
			// has to leave.
			t.states[i] = shardDrain
			t.surviving++
		default:
			perNode[sh.GetNodeId()] = append(perNode[sh.GetNodeId()], i)
			t.surviving++
		}
	}
	// Several healthy shards on one node: spread them when the map has
	// room for every shard on its own node.
	spread := false
	for _, idx := range perNode {
		spread = spread || len(idx) > 1
	}
	if spread && v.eligibleNodes() >= n {
		for _, idx := range perNode {
			for _, i := range idx[1:] {
				t.states[i] = shardMisplace
			}
		}
	}
	work := false
	for _, s := range t.states {
		work = work || s != shardOK
	}
	if !work {
		return nil
	}
	t.bytes = int64(t.lostCount()) * b.shardSize()
	return t
}

func hasUsableDrive(n *metapb.Node, drive string) bool {
	for _, d := range n.GetDrives() {
		if d.GetDriveId() == drive {
			return d.GetState() != metapb.DriveState_DRIVE_FAILED
		}
	}
	return false
}

func (v *view) eligibleNodes() int {
	c := 0
	for _, n := range v.pm.Nodes {
		if n.Up && !n.Draining && slices.ContainsFunc(n.Drives, func(d placement.Drive) bool { return d.Active && d.FreeBytes > 0 }) {
			c++
		}
	}
	return c
}

var (
	// errNoTarget means no drive can take a shard now.
	errNoTarget = errors.New("repair: no target drive")
	// errUnrecoverable means fewer than K shards of a body survive.
	errUnrecoverable = errors.New("repair: too few shards left to rebuild from")
)

// targets chooses a drive for every shard of t that needs work: a damaged
// shard on a healthy drive is rewritten in place; the others go to nodes
// holding no other shard of the body, in failure domains the body does
// not use yet when the map allows, else in used domains, else (too few
// nodes) on nodes holding fewer than M shards, which leaves the body
// under-spread. It reports whether the result is under-spread.
func (v *view) targets(t *task) (map[int]*metapb.ShardPlacement, bool, error) {
	b := &t.body
	if t.lostCount() > b.m() {
		return nil, false, fmt.Errorf("%w: %s has %d of %d shards left, needs %d", errUnrecoverable, b.DataID, len(b.Shards)-t.lostCount(), len(b.Shards), b.k())
	}
	out := map[int]*metapb.ShardPlacement{}
	var move []int
	keep := map[string]int{} // node → shards staying there
	domains := map[string]bool{}
	// One rebuild writes at most M shards: lost ones first, then as many
	// misplaced ones as fit; the rest move in a later round.
	room := b.m() - t.lostCount()
	states := slices.Clone(t.states)
	for _, want := range []shardState{shardDrain, shardMisplace} {
		for i, s := range states {
			if s != want {
				continue
			}
			if room == 0 {
				states[i] = shardOK
			} else {
				room--
			}
		}
	}
	for i, s := range states {
		sh := b.Shards[i]
		switch s {
		case shardRebalance:
			out[i] = t.preset[i]
			keep[t.preset[i].GetNodeId()]++
			continue
		case shardOK:
			keep[sh.GetNodeId()]++
			if d := v.nodes[sh.GetNodeId()].GetFailureDomain(); d != "" {
				domains[d] = true
			}
		case shardDamaged:
			out[i] = sh
			keep[sh.GetNodeId()]++
		default:
			move = append(move, i)
		}
	}
	if len(move) > 0 {
		picked, err := v.choose(b.DataID, len(move), keep, domains, b.m())
		if err != nil {
			return nil, false, fmt.Errorf("%w: %d shards of %s: %w", errNoTarget, len(move), b.DataID, err)
		}
		for j, i := range move {
			out[i] = picked[j]
			keep[picked[j].GetNodeId()]++
		}
	}
	under := false
	for _, c := range keep {
		under = under || c > 1
	}
	return out, under, nil
}

// choose picks count drives on distinct nodes, none holding a shard of
// the body (keep), avoiding the body's failure domains if it can; failing
// that, it doubles up on nodes holding fewer than m shards.
func (v *view) choose(key string, count int, keep map[string]int, domains map[string]bool, m int) ([]*metapb.ShardPlacement, error) {
	var busy, inDomain []placement.NodeID
	for _, n := range v.pm.Nodes {
		if keep[string(n.ID)] > 0 {
			busy = append(busy, n.ID)
		} else if n.Domain != "" && domains[n.Domain] {
			inDomain = append(inDomain, n.ID)
		}
	}
	for _, exclude := range [][]placement.NodeID{append(slices.Clone(busy), inDomain...), busy} {
		res, err := placement.Choose(v.pm, key, count, 0, exclude...)
		if err == nil {
			return toProto(res.Shards), nil
		}
	}
	// Too few nodes: any eligible node with room under m shards, fewest
	// shards first, drives ranked by placement for the body.
	type cand struct {
		id    placement.NodeID
		drive placement.DriveID
		load  int
	}
	var cands []cand
	for _, n := range v.pm.Nodes {
		if !n.Up || n.Draining {
			continue
		}
		one := placement.Map{Epoch: v.pm.Epoch, Nodes: []placement.Node{n}}
		r, err := placement.Choose(one, key, 1, 0)
		if err != nil {
			continue
		}
		cands = append(cands, cand{id: n.ID, drive: r.Shards[0].Drive, load: keep[string(n.ID)]})
	}
	var out []*metapb.ShardPlacement
	for range count {
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].load < cands[b].load })
		if len(cands) == 0 || cands[0].load >= m {
			return nil, placement.ErrInsufficient
		}
		out = append(out, &metapb.ShardPlacement{NodeId: string(cands[0].id), DriveId: string(cands[0].drive)})
		cands[0].load++
	}
	return out, nil
}

func toProto(shards []placement.Shard) []*metapb.ShardPlacement {
	out := make([]*metapb.ShardPlacement, len(shards))
	for i, s := range shards {
		out[i] = &metapb.ShardPlacement{NodeId: string(s.Node), DriveId: string(s.Drive)}
	}
	return out
}

func shardID(dataID string, i int) string { return fmt.Sprintf("%s.%d", dataID, i) }
