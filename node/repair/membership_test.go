package repair

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestDrainTargets checks where shards on a draining node or drive go.
func TestDrainTargets(t *testing.T) {
	cases := []struct {
		name string
		mod  func(m *metapb.ClusterMap)
		// the shard index that must move, and nodes it must not go to
		index int
		notTo []string
		// sameNode: the target is on the source node (a drive drain)
		sameNode bool
	}{
		{name: "node drain goes to a node without the body", index: 2,
			mod:   func(m *metapb.ClusterMap) { node(m, "n2").State = metapb.NodeState_NODE_DRAINING },
			notTo: []string{"n0", "n1", "n2", "n3", "n4", "n5"}},
		{name: "pending nodes take nothing", index: 2,
			mod: func(m *metapb.ClusterMap) {
				node(m, "n2").State = metapb.NodeState_NODE_DRAINING
				node(m, "n6").State = metapb.NodeState_NODE_PENDING
			},
			notTo: []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6"}},
		{name: "drive drain may stay on its node", index: 3, sameNode: true,
			mod: func(m *metapb.ClusterMap) {
				for _, n := range m.Nodes {
					n.Drives = append(n.Drives, &metapb.Drive{DriveId: "e", CapacityBytes: 1 << 40, FreeBytes: 1 << 40})
				}
				node(m, "n3").Drives[0].State = metapb.DriveState_DRIVE_DRAINING
				// No other node is free: the body's nodes hold a shard each.
				m.Nodes = m.Nodes[:6]
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterMap(8, 0)
			tc.mod(m)
			v := newView(m, nil, downLost)
			tk := v.assess(body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"))
			require.NotNil(t, tk)
			require.Greater(t, tk.margin(), drainBias-1, "a drain queues behind bodies at risk")
			got, under, err := v.targets(tk)
			require.NoError(t, err)
			require.False(t, under)
			require.Len(t, got, 1)
			to := got[tc.index]
			require.NotNil(t, to)
			require.NotContains(t, tc.notTo, to.NodeId)
			if tc.sameNode {
				require.Equal(t, "n3", to.NodeId)
				require.Equal(t, "e", to.DriveId)
			}
		})
	}
}

// TestDrainBehindRisk checks that drains take room after lost shards: a
// body with one shard lost and two draining rebuilds the lost one and one
// drained one (M = 2), the other drain waiting for a later round.
func TestDrainBehindRisk(t *testing.T) {
	m := clusterMap(9, 0)
	node(m, "n0").Down = true
	node(m, "n1").State = metapb.NodeState_NODE_DRAINING
	node(m, "n2").State = metapb.NodeState_NODE_DRAINING
	v := newView(m, nil, downLost)
	tk := v.assess(body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"))
	require.Equal(t, "LRR... surviving=5", states(tk))
	require.Equal(t, 1, tk.margin(), "a lost shard keeps the body's risk order")
	got, _, err := v.targets(tk)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NotNil(t, got[0])
	require.NotNil(t, got[1])
}

// TestFillPlan checks the rebalance planner: which shards move where, and
// when the drives count as balanced.
func TestFillPlan(t *testing.T) {
	const shard = 16384 // body()'s shard size
	cases := []struct {
		name     string
		nodes    int
		bodies   []Body
		band     float64
		draining string
		// reach: the planned moves bring every drive within the band.
		reach    bool
		balanced bool
		// wantMoves is the number of shards planned over all bodies;
		// every move goes to one of wantTo.
		wantMoves int
		wantTo    []string
	}{
		{name: "even spread is balanced", nodes: 3, band: 10, balanced: true,
			bodies: repeat(6, 2, 1, "n0", "n1", "n2")},
		{name: "a new empty node takes shards", nodes: 4, band: 10, balanced: false,
			// 12 bodies x 3 shards on n0..n2: 36 shards, 9 each is fair;
			// n3 can take one shard per body.
			bodies: repeat(12, 2, 1, "n0", "n1", "n2"), wantMoves: 8, wantTo: []string{"n3"}, reach: true},
		{name: "moves keep the body spread", nodes: 4, band: 10, balanced: false,
			// n0 holds two shards of every body: one of them goes to an
			// empty node, never onto n3 which holds the third.
			bodies: repeat(6, 2, 1, "n0", "n0", "n3"), wantMoves: 6, wantTo: []string{"n1", "n2"}},
		{name: "draining drives are no targets", nodes: 4, band: 10, balanced: true, draining: "n3",
			bodies: repeat(6, 2, 1, "n0", "n1", "n2")},
		{name: "a wide band accepts a small gap", nodes: 3, band: 50, balanced: true,
			bodies: append(repeat(4, 1, 1, "n0", "n1"), repeat(2, 1, 1, "n1", "n2")...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterMap(tc.nodes, 0)
			if tc.draining != "" {
				node(m, tc.draining).State = metapb.NodeState_NODE_DRAINING
			}
			v := newView(m, nil, downLost)
			held := map[driveKey]int64{}
			for _, b := range tc.bodies {
				for _, sh := range b.Shards {
					held[driveKey{sh.NodeId, sh.DriveId}] += b.shardSize()
				}
			}
			p := newFillPlan(v, held, tc.band, shard)
			require.Equal(t, tc.balanced, p.balanced())
			moves := 0
			for _, b := range tc.bodies {
				for i, to := range p.plan(b, b.m()) {
					moves++
					require.Contains(t, tc.wantTo, to.NodeId)
					for j, sh := range b.Shards {
						if j != i {
							require.NotEqual(t, sh.NodeId, to.NodeId, "a move must keep the body spread")
						}
					}
				}
			}
			require.Equal(t, tc.wantMoves, moves)
			if tc.reach {
				require.True(t, p.balanced(), "the planned moves reach the band")
			}
		})
	}
}

func repeat(n, k, m int, nodes ...string) []Body {
	out := make([]Body, n)
	for i := range out {
		out[i] = body(fmt.Sprintf("b%d", i), k, m, nodes...)
	}
	return out
}

// TestRepairerDrainAndRebalance runs a repairer over a map with a draining
// node until nothing is left on it, then rebalances onto an empty node
// until the drives are within the band, and checks the figures.
func TestRepairerDrainAndRebalance(t *testing.T) {
	m := clusterMap(4, 0)
	node(m, "n0").State = metapb.NodeState_NODE_DRAINING
	bodies := repeat(8, 2, 1, "n0", "n1", "n2")
	h := newHarness(t, m, bodies)
	h.run(t)
	waitFor(t, "the drain", func() bool {
		st := h.r.Membership()
		return st.Scanned && len(st.Drains) == 0 && len(h.prop.commands()) >= 8
	})
	require.Equal(t, h.rb.count(), h.rb.copyCount(), "drained shards are copied, not rebuilt")
	for _, c := range h.prop.commands() {
		require.Len(t, c.Moves, 1)
		require.Equal(t, "n0", c.Moves[0].From.NodeId)
		require.Equal(t, "n3", c.Moves[0].To.NodeId)
	}
	// Add n4 and rebalance onto it.
	h.meta.mu.Lock()
	m2 := clusterMap(5, 0)
	node(m2, "n0").State = metapb.NodeState_NODE_DRAINING
	h.meta.m = m2
	h.meta.reb = &metapb.RebalanceState{Running: true, BandPercent: 10}
	h.meta.mu.Unlock()
	waitFor(t, "the rebalance to finish", func() bool {
		st := h.r.Membership()
		reb, _ := h.meta.Rebalance(t.Context())
		return !reb.Running && st.Balanced
	})
	st := h.r.Membership()
	require.NotZero(t, st.RebalanceBytesMoved)
	for _, f := range st.Fills {
		require.NotEqual(t, "n0", f.NodeId, "a draining node is not a rebalance target")
	}
}

// TestUsableTargets checks that a planned rebalance move is dropped when
// its target stopped taking shards.
func TestUsableTargets(t *testing.T) {
	cases := []struct {
		name string
		mod  func(m *metapb.ClusterMap)
		want bool
	}{
		{"active", func(*metapb.ClusterMap) {}, true},
		{"node draining", func(m *metapb.ClusterMap) { node(m, "n2").State = metapb.NodeState_NODE_DRAINING }, false},
		{"node pending", func(m *metapb.ClusterMap) { node(m, "n2").State = metapb.NodeState_NODE_PENDING }, false},
		{"node down", func(m *metapb.ClusterMap) { node(m, "n2").Down = true }, false},
		{"drive draining", func(m *metapb.ClusterMap) { node(m, "n2").Drives[0].State = metapb.DriveState_DRIVE_DRAINING }, false},
		{"node gone", func(m *metapb.ClusterMap) { m.Nodes = m.Nodes[:2] }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterMap(3, 0)
			tc.mod(m)
			v := newView(m, nil, downLost)
			require.Equal(t, tc.want, v.usableTargets(map[int]*metapb.ShardPlacement{0: {NodeId: "n2", DriveId: "d"}}))
		})
	}
}

// TestMovesOnly checks which tasks are copied rather than rebuilt: only
// those whose every target moves a readable shard to another drive.
func TestMovesOnly(t *testing.T) {
	other := &metapb.ShardPlacement{NodeId: "n9", DriveId: "d"}
	cases := []struct {
		name    string
		states  []shardState
		targets map[int]*metapb.ShardPlacement
		want    bool
	}{
		{"drain", []shardState{shardOK, shardDrain, shardOK}, map[int]*metapb.ShardPlacement{1: other}, true},
		{"rebalance", []shardState{shardRebalance, shardOK, shardOK}, map[int]*metapb.ShardPlacement{0: other}, true},
		{"misplaced", []shardState{shardOK, shardOK, shardMisplace}, map[int]*metapb.ShardPlacement{2: other}, true},
		{"lost and drained", []shardState{shardLost, shardDrain, shardOK}, map[int]*metapb.ShardPlacement{0: other, 1: other}, false},
		{"damaged in place", []shardState{shardDamaged, shardOK, shardOK}, map[int]*metapb.ShardPlacement{0: {NodeId: "n0", DriveId: "d"}}, false},
		{"nothing", []shardState{shardOK, shardOK, shardOK}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk := &task{body: body("a", 2, 1, "n0", "n1", "n2"), states: tc.states}
			require.Equal(t, tc.want, movesOnly(tk, tc.targets))
		})
	}
}

// TestRebalanceRetriesARoundThatMovedNothing: when every move of a
// rebalance round fails (a target refusing writes, say), the repairer
// plans again after a few polls rather than at the next full-scan
// interval, and the rebalance ends once the moves succeed. The fake clock
// stands still, so the scan interval never comes to the rescue.
func TestRebalanceRetriesARoundThatMovedNothing(t *testing.T) {
	bodies := repeat(8, 2, 1, "n0", "n1", "n2")
	h := newHarness(t, clusterMap(4, 0), bodies)
	h.rb.mu.Lock()
	h.rb.err = errors.New("target refuses writes")
	h.rb.mu.Unlock()
	h.meta.mu.Lock()
	h.meta.reb = &metapb.RebalanceState{Running: true, BandPercent: 10}
	h.meta.mu.Unlock()
	h.run(t)
	// The plan moves 5 shards onto n3, each tried once as a copy (then
	// as a rebuild) a round: without a retry the copies stop at 5. Two
	// whole rounds fail; the second is the retry.
	const movesPerRound = 5
	waitFor(t, "two rounds of failed moves", func() bool { return h.rb.copyCount() >= 2*movesPerRound })
	require.Empty(t, h.prop.commands(), "a failed move commits nothing")
	h.rb.mu.Lock()
	h.rb.err = nil
	h.rb.mu.Unlock()
	waitFor(t, "the rebalance to finish", func() bool {
		st := h.r.Membership()
		reb, _ := h.meta.Rebalance(t.Context())
		return !reb.Running && st.Balanced
	})
	require.NotZero(t, h.r.Membership().RebalanceBytesMoved)
}

// TestRetryBackoff checks the pacing of rounds without progress.
func TestRetryBackoff(t *testing.T) {
	b := newRetry()
	var waits []int
	for range 300 {
		if b.due() {
			waits = append(waits, b.waited())
		}
	}
	require.Equal(t, []int{1, 2, 4, 8, 16, 32, 64, 64, 64}, waits[:9])
	b.reset()
	require.True(t, b.due(), "after progress, the next idle poll retries")
}
