package repair

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func allLost(*metapb.Node) bool { return false }

func downLost(n *metapb.Node) bool { return n.GetDown() }

func states(t *task) string {
	if t == nil {
		return "healthy"
	}
	s := ""
	for _, st := range t.states {
		s += [...]string{".", "L", "D", "M", "R", "B"}[st]
	}
	return fmt.Sprintf("%s surviving=%d", s, t.surviving)
}

// TestAssess checks what makes a shard need work.
func TestAssess(t *testing.T) {
	cases := []struct {
		name    string
		nodes   int
		mod     func(m *metapb.ClusterMap)
		damaged []damageKey
		body    Body
		want    string
	}{
		{name: "healthy", nodes: 7, body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "healthy"},
		{name: "node down", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n1").Down = true },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: ".L.... surviving=5"},
		{name: "node only not up is not lost", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n1").Up = false },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "healthy"},
		{name: "node gone from the map", nodes: 5, body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: ".....L surviving=5"},
		{name: "drive failed", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n2").Drives[0].State = metapb.DriveState_DRIVE_FAILED },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "..L... surviving=5"},
		{name: "drive gone", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n2").Drives[0].DriveId = "other" },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "..L... surviving=5"},
		{name: "draining drive still readable", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n2").Drives[0].State = metapb.DriveState_DRIVE_DRAINING },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "..R... surviving=6"},
		{name: "draining node still readable", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n3").State = metapb.NodeState_NODE_DRAINING },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "...R.. surviving=6"},
		{name: "draining and down node is lost", nodes: 7, mod: func(m *metapb.ClusterMap) {
			node(m, "n3").State = metapb.NodeState_NODE_DRAINING
			node(m, "n3").Down = true
		}, body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "...L.. surviving=5"},
		{name: "pending node holds nothing to move", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n6").State = metapb.NodeState_NODE_PENDING },
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "healthy"},
		{name: "reported damaged", nodes: 7, damaged: []damageKey{{shard: "a.4", node: "n4", drive: "d"}},
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "....D. surviving=5"},
		{name: "damage reported elsewhere is stale", nodes: 7, damaged: []damageKey{{shard: "a.4", node: "n6", drive: "d"}},
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "healthy"},
		{name: "under-spread with room", nodes: 7, body: body("a", 4, 2, "n0", "n1", "n2", "n0", "n1", "n5"),
			want: "...MM. surviving=6"},
		{name: "under-spread without room", nodes: 4, body: body("a", 4, 2, "n0", "n1", "n2", "n0", "n1", "n3"), want: "healthy"},
		{name: "two lost and one damaged", nodes: 7, mod: func(m *metapb.ClusterMap) { node(m, "n0").Down = true; node(m, "n5").Down = true },
			damaged: []damageKey{{shard: "a.2", node: "n2", drive: "d"}},
			body:    body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), want: "L.D..L surviving=3"},
		{name: "2+1", nodes: 4, mod: func(m *metapb.ClusterMap) { node(m, "n2").Down = true },
			body: body("a", 2, 1, "n0", "n1", "n2"), want: "..L surviving=2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterMap(tc.nodes, 0)
			if tc.mod != nil {
				tc.mod(m)
			}
			damaged := map[damageKey]bool{}
			for _, d := range tc.damaged {
				damaged[d] = true
			}
			v := newView(m, damaged, downLost)
			require.Equal(t, tc.want, states(v.assess(tc.body)))
		})
	}
}

// TestTargets checks where rebuilt shards go.
func TestTargets(t *testing.T) {
	cases := []struct {
		name    string
		nodes   int
		domains int
		down    []string
		damaged []damageKey
		body    Body
		// check the chosen targets; under is the expected flag.
		under bool
		check func(t *testing.T, b Body, got map[int]*metapb.ShardPlacement)
		err   bool
	}{
		{
			name: "lost shards go to nodes holding none of the body", nodes: 9, down: []string{"n0", "n1"},
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"),
			check: func(t *testing.T, b Body, got map[int]*metapb.ShardPlacement) {
				require.Len(t, got, 2)
				require.NotEqual(t, got[0].NodeId, got[1].NodeId)
				for _, g := range got {
					require.Contains(t, []string{"n6", "n7", "n8"}, g.NodeId)
				}
			},
		},
		{
			name: "failure domains the body does not use come first", nodes: 12, domains: 6, down: []string{"n0"},
			// n0..n5 hold the body, one per domain r0..r5; n6..n11 are
			// in r0..r5 as well: only r0's n6 is in the lost shard's
			// own domain, which the body no longer uses.
			body: body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"),
			check: func(t *testing.T, b Body, got map[int]*metapb.ShardPlacement) {
				require.Equal(t, "n6", got[0].NodeId)
			},
		},
		{
			name: "damaged shard on a healthy drive is rewritten in place", nodes: 7,
			damaged: []damageKey{{shard: "a.5", node: "n5", drive: "d"}},
			body:    body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"),
			check: func(t *testing.T, b Body, got map[int]*metapb.ShardPlacement) {
				require.Equal(t, map[int]*metapb.ShardPlacement{5: b.Shards[5]}, got)
			},
		},
		{
			name: "too few nodes: doubled up, never more than m per node", nodes: 6, down: []string{"n0", "n1"},
			body:  body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"),
			under: true,
			check: func(t *testing.T, b Body, got map[int]*metapb.ShardPlacement) {
				per := map[string]int{}
				for i, sh := range b.Shards {
					if g := got[i]; g != nil {
						sh = g
					}
					per[sh.NodeId]++
				}
				for n, c := range per {
					require.LessOrEqual(t, c, 2, n)
					require.NotContains(t, []string{"n0", "n1"}, n)
				}
			},
		},
		{
			name: "misplaced shards spread again", nodes: 7,
			body: body("a", 4, 2, "n0", "n1", "n2", "n0", "n4", "n5"),
			check: func(t *testing.T, b Body, got map[int]*metapb.ShardPlacement) {
				require.Len(t, got, 1)
				require.Contains(t, []string{"n3", "n6"}, got[3].NodeId, "a node holding none of the body")
			},
		},
		{
			name: "nowhere to go", nodes: 3, down: []string{"n0"},
			body: body("a", 2, 1, "n0", "n1", "n2"),
			err:  true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterMap(tc.nodes, tc.domains)
			for _, d := range tc.down {
				node(m, d).Down = true
			}
			damaged := map[damageKey]bool{}
			for _, d := range tc.damaged {
				damaged[d] = true
			}
			v := newView(m, damaged, downLost)
			task := v.assess(tc.body)
			require.NotNil(t, task)
			got, under, err := v.targets(task)
			if tc.err {
				require.ErrorIs(t, err, errNoTarget)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.under, under)
			tc.check(t, tc.body, got)
		})
	}
}

// TestQueueRiskOrder checks that the most at-risk body is worked first
// and that a full queue keeps the most at risk.
func TestQueueRiskOrder(t *testing.T) {
	q := newQueue(3)
	mk := func(id string, surviving int) *task {
		return &task{body: body(id, 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), surviving: surviving}
	}
	require.True(t, q.push(mk("a", 5)))
	require.True(t, q.push(mk("b", 4)))
	require.False(t, q.push(mk("b", 4)), "a body is queued once")
	require.True(t, q.push(mk("c", 5)))
	require.True(t, q.push(mk("d", 4)), "full: pushes out a less at-risk task")
	require.False(t, q.push(mk("e", 5)), "full of tasks as much at risk or more")
	var order []string
	for {
		t, ok := q.pop()
		if !ok {
			break
		}
		order = append(order, t.body.DataID)
		q.done(t)
	}
	require.Equal(t, []string{"b", "d", "a"}, order)
}

// TestRepairerRiskOrder runs the repairer over bodies that lost more or
// fewer shards and checks that it repairs the most at risk first and
// moves every lost shard off the lost nodes.
func TestRepairerRiskOrder(t *testing.T) {
	m := clusterMap(9, 0)
	node(m, "n0").Down = true
	node(m, "n1").Down = true
	bodies := []Body{
		body("one-lost", 4, 2, "n0", "n2", "n3", "n4", "n5", "n6"),
		body("healthy", 4, 2, "n2", "n3", "n4", "n5", "n6", "n7"),
		body("two-lost", 4, 2, "n0", "n1", "n3", "n4", "n5", "n6"),
		body("rr-lost", 2, 1, "n3", "n1", "n8"),
	}
	h := newHarness(t, m, bodies)
	h.run(t)
	waitFor(t, "three repairs", func() bool { return len(h.prop.commands()) >= 3 })
	cmds := h.prop.commands()
	// "two-lost" and "rr-lost" both have no margin left: they come
	// before "one-lost", in scan order.
	require.Equal(t, "two-lost", cmds[0].DataId)
	require.Equal(t, "rr-lost", cmds[1].DataId)
	require.Equal(t, "one-lost", cmds[2].DataId)
	for _, c := range cmds {
		for _, mv := range c.Moves {
			require.NotContains(t, []string{"n0", "n1"}, mv.To.NodeId)
			require.Equal(t, []byte("new"), mv.Digest)
		}
	}
	waitFor(t, "a clean status", func() bool {
		st := h.r.Status()
		return !st.Scanning && len(st.AtRisk) == 0 && st.LastScanUnixNano != 0 && st.ShardsRebuilt == 4
	})
	require.Len(t, h.prop.commands(), 3, "nothing more to do")
}

// TestRepairerStale checks that a STALE answer is not a failure and is
// not retried: the body changed, and the next scan decides afresh.
func TestRepairerStale(t *testing.T) {
	m := clusterMap(7, 0)
	node(m, "n0").Down = true
	h := newHarness(t, m, []Body{body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5")})
	h.prop.code = metapb.ErrorCode_STALE
	h.run(t)
	waitFor(t, "a proposal", func() bool { return len(h.prop.commands()) >= 1 })
	// The fake FSM did not apply it: the body is still damaged, and the
	// next scan tries again; a STALE is not a failure either way.
	waitFor(t, "a second try", func() bool { return len(h.prop.commands()) >= 2 })
	st := h.r.Status()
	require.Zero(t, st.RepairFailures)
	require.Zero(t, st.ShardsRebuilt)
}

// TestRepairerPause checks that a paused repairer scans (status stays
// current) but rebuilds nothing until resumed.
func TestRepairerPause(t *testing.T) {
	m := clusterMap(7, 0)
	node(m, "n0").Down = true
	h := newHarness(t, m, []Body{body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5")})
	h.meta.setPaused(true)
	h.run(t)
	waitFor(t, "a paused status after a scan", func() bool {
		st := h.r.Status()
		return st.Paused && st.LastScanUnixNano != 0 && len(st.AtRisk) == 1
	})
	st := h.r.Status()
	require.Equal(t, uint64(1), st.AtRisk[0].Bodies)
	require.EqualValues(t, 5, st.AtRisk[0].Surviving)
	require.Zero(t, h.rb.count(), "nothing rebuilt while paused")
	h.meta.setPaused(false)
	waitFor(t, "the repair", func() bool { return len(h.prop.commands()) == 1 })
}

// TestRepairerFailure counts a failed rebuild and leaves the record alone.
func TestRepairerFailure(t *testing.T) {
	m := clusterMap(7, 0)
	node(m, "n0").Down = true
	h := newHarness(t, m, []Body{body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5")})
	h.rb.err = errors.New("injected")
	h.run(t)
	waitFor(t, "a failure", func() bool { return h.r.Status().RepairFailures >= 1 })
	require.Empty(t, h.prop.commands())
}

// TestRepairerDownAfter checks the fallback for a map without committed
// down states: a node silent for DownAfter counts as lost, not before.
func TestRepairerDownAfter(t *testing.T) {
	m := clusterMap(7, 0)
	node(m, "n0").Up = false
	node(m, "n0").LastHeartbeatUnixNano = time.Unix(900, 0).UnixNano()
	h := newHarness(t, m, []Body{body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5")}, func(c *Config) { c.DownAfter = time.Minute })
	h.run(t)
	waitFor(t, "a scan", func() bool { return h.r.Status().LastScanUnixNano != 0 })
	require.Empty(t, h.r.Status().AtRisk, "the repairer's own start is the earliest silence it counts")
	h.clock.advance(2 * time.Minute)
	waitFor(t, "the repair", func() bool { return len(h.prop.commands()) == 1 })
	require.EqualValues(t, 0, h.prop.commands()[0].Moves[0].Index)
}

// TestThrottleConfig checks the bandwidth limiter's configuration: the
// default, unlimited, and the pacing of a given rate.
func TestThrottleConfig(t *testing.T) {
	cfg := Config{Metadata: &fakeMeta{}, Proposer: &fakeProposer{}, Rebuilder: &fakeRebuilder{}, Shards: &fakeShards{}}
	r, err := New(cfg)
	require.NoError(t, err)
	require.EqualValues(t, DefaultBandwidth, r.lim.rate)
	require.Equal(t, DefaultConcurrency, r.cfg.Concurrency)

	clock := &fakeClock{t: time.Unix(0, 0)}
	cfg.Now, cfg.Sleep = clock.now, clock.sleep
	cfg.Bandwidth = -1
	r, err = New(cfg)
	require.NoError(t, err)
	require.NoError(t, r.lim.wait(context.Background(), 1<<30))
	require.Empty(t, clock.slept, "unlimited never waits")

	cfg.Bandwidth = 1000
	r, err = New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, r.lim.wait(ctx, 1000), "the bucket starts empty")
	require.Equal(t, []time.Duration{time.Second}, clock.slept)
	require.NoError(t, r.lim.wait(ctx, 3000))
	require.Equal(t, []time.Duration{time.Second, 3 * time.Second}, clock.slept)
	clock.advance(10 * time.Second)
	require.NoError(t, r.lim.wait(ctx, 1000), "idle time fills the bucket, up to one second's worth")
	require.NoError(t, r.lim.wait(ctx, 500))
	var total time.Duration
	for _, d := range clock.slept {
		total += d
	}
	require.Equal(t, 4500*time.Millisecond, total)

	for _, bad := range []func(*Config){
		func(c *Config) { c.Concurrency = -1 },
		func(c *Config) { c.DownAfter = -1 },
		func(c *Config) { c.Rebuilder = nil },
	} {
		c := cfg
		bad(&c)
		_, err := New(c)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
}

// TestReport checks which reports queue a repair.
func TestReport(t *testing.T) {
	m := clusterMap(7, 0)
	b := body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5")
	b.Digests = [][]byte{[]byte("d0"), []byte("d1"), []byte("d2"), []byte("d3"), []byte("d4"), []byte("d5")}
	cases := []struct {
		name   string
		report *metapb.ShardReport
		queued int
	}{
		{"corrupt", &metapb.ShardReport{NodeId: "n1", DriveId: "d", ShardId: "a.1", Health: metapb.ShardHealth_SHARD_CORRUPT}, 1},
		{"missing", &metapb.ShardReport{NodeId: "n5", DriveId: "d", ShardId: "a.5", Health: metapb.ShardHealth_SHARD_MISSING}, 1},
		{"ok with the recorded digest", &metapb.ShardReport{NodeId: "n1", DriveId: "d", ShardId: "a.1", Digest: []byte("d1")}, 0},
		{"ok with another digest", &metapb.ShardReport{NodeId: "n1", DriveId: "d", ShardId: "a.1", Digest: []byte("x")}, 1},
		{"unreadable", &metapb.ShardReport{NodeId: "n1", DriveId: "d", ShardId: "a.1", Health: metapb.ShardHealth_SHARD_UNREADABLE}, 0},
		{"another node's copy", &metapb.ShardReport{NodeId: "n6", DriveId: "d", ShardId: "a.1", Health: metapb.ShardHealth_SHARD_CORRUPT}, 0},
		{"unknown body", &metapb.ShardReport{NodeId: "n1", DriveId: "d", ShardId: "zz.1", Health: metapb.ShardHealth_SHARD_CORRUPT}, 0},
		{"bad name", &metapb.ShardReport{NodeId: "n1", DriveId: "d", ShardId: "a", Health: metapb.ShardHealth_SHARD_CORRUPT}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, m, []Body{b})
			n, err := h.r.Report(context.Background(), []*metapb.ShardReport{tc.report})
			require.NoError(t, err)
			require.Equal(t, tc.queued, n)
			if tc.queued == 0 {
				return
			}
			h.run(t)
			waitFor(t, "the repair", func() bool { return len(h.prop.commands()) == 1 })
			mv := h.prop.commands()[0].Moves
			require.Len(t, mv, 1)
			require.Equal(t, tc.report.ShardId, fmt.Sprintf("a.%d", mv[0].Index))
			require.Equal(t, mv[0].From, mv[0].To, "a damaged shard on a healthy drive is rewritten in place")
		})
	}
}

// TestScrubBucket checks that a bucket scrub finds a missing shard and
// gets it repaired, and the node scrub paths.
func TestScrubBucket(t *testing.T) {
	m := clusterMap(7, 0)
	h := newHarness(t, m, []Body{body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"), body("c", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5")})
	h.sh.missing["n4/c.4"] = true
	h.run(t)
	n, err := h.r.Scrub(context.Background(), &metapb.ScrubRequest{Bucket: "b"})
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	waitFor(t, "the repair", func() bool { return len(h.prop.commands()) == 1 })
	c := h.prop.commands()[0]
	require.Equal(t, "c", c.DataId)
	require.EqualValues(t, 4, c.Moves[0].Index)
	waitFor(t, "scrub figures", func() bool { st := h.r.Status(); return st.ScrubShardsVerified == 12 && st.ScrubDamageFound == 1 })

	_, err = h.r.Scrub(context.Background(), &metapb.ScrubRequest{Bucket: "nope"})
	require.ErrorIs(t, err, ErrNoSuchBucket)
	_, err = h.r.Scrub(context.Background(), &metapb.ScrubRequest{NodeId: "nope"})
	require.ErrorIs(t, err, ErrNoSuchNode)
	n, err = h.r.Scrub(context.Background(), &metapb.ScrubRequest{NodeId: "n3"})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, err = h.r.Scrub(context.Background(), &metapb.ScrubRequest{})
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
	h.sh.noScrub = true
	_, err = h.r.Scrub(context.Background(), &metapb.ScrubRequest{})
	require.ErrorIs(t, err, ErrScrubUnsupported)
}

// TestStatusFigures checks the grouping, rate and ETA.
func TestStatusFigures(t *testing.T) {
	var f figures
	now := time.Unix(100, 0)
	f.last = map[levelKey]*level{}
	mk := func(id string, surviving, k, m int) *task {
		nodes := make([]string, k+m)
		for i := range nodes {
			nodes[i] = fmt.Sprintf("n%d", i)
		}
		tk := &task{body: body(id, k, m, nodes...), surviving: surviving, states: make([]shardState, k+m)}
		for i := range k + m - surviving {
			tk.states[i] = shardLost
		}
		tk.bytes = int64(tk.lostCount()) * 1000
		return tk
	}
	tasks := []*task{mk("a", 5, 4, 2), mk("b", 4, 4, 2), mk("c", 4, 4, 2), mk("d", 2, 2, 1)}
	for _, tk := range tasks {
		f.count(f.last, tk, 1)
	}
	st := f.status(now, false)
	require.Equal(t, -1.0, st.EtaSeconds, "no rate yet")
	require.EqualValues(t, 1000+2000*2+1000, st.BytesToRebuild)
	var got []string
	for _, l := range st.AtRisk {
		got = append(got, fmt.Sprintf("%d+%d:%d=%d/%d", l.DataShards, l.ParityShards, l.Surviving, l.Bodies, l.BytesToRebuild))
	}
	require.Equal(t, []string{"2+1:2=1/1000", "4+2:4=2/4000", "4+2:5=1/1000"}, got)

	f.started(now)
	f.progress(600, now.Add(time.Second))
	f.progress(400, now.Add(2*time.Second))
	f.repaired(tasks[0], 1, 1000, now.Add(2*time.Second))
	st = f.status(now.Add(2*time.Second), false)
	require.InDelta(t, 500, st.RateBytesPerSecond, 1)
	require.InDelta(t, float64(5000)/500, st.EtaSeconds, 0.01)
	require.Len(t, st.AtRisk, 2)
}

// TestTargetsAtMostM checks that one round rebuilds at most M shards:
// lost ones first, misplaced ones as room allows.
func TestTargetsAtMostM(t *testing.T) {
	m := clusterMap(9, 0)
	node(m, "n0").Down = true
	v := newView(m, map[damageKey]bool{}, downLost)
	// n1 holds three shards, two of them misplaced; one more is lost.
	tk := v.assess(body("a", 4, 2, "n0", "n1", "n1", "n1", "n4", "n5"))
	require.Equal(t, "L.MM.. surviving=5", states(tk))
	got, _, err := v.targets(tk)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Contains(t, got, 0, "the lost shard first")

	node(m, "n4").Down = true
	node(m, "n5").Down = true
	v = newView(m, map[damageKey]bool{}, downLost)
	tk = v.assess(body("a", 4, 2, "n0", "n1", "n2", "n3", "n4", "n5"))
	_, _, err = v.targets(tk)
	require.ErrorIs(t, err, errUnrecoverable)
}

// TestReportUnderSpread checks that a body committed under-spread after
// the repairer's scan is spread as soon as a check report names it, with
// no further scan; and that the report is ignored while the map has too
// few nodes, or once the shard has moved.
func TestReportUnderSpread(t *testing.T) {
	cases := []struct {
		name   string
		nodes  int
		report *metapb.ShardReport
		spread bool
	}{
		{name: "enough nodes", nodes: 7, report: &metapb.ShardReport{NodeId: "n0", DriveId: "d", ShardId: "late.1"}, spread: true},
		{name: "too few nodes", nodes: 5, report: &metapb.ShardReport{NodeId: "n0", DriveId: "d", ShardId: "late.1"}},
		{name: "shard moved since", nodes: 7, report: &metapb.ShardReport{NodeId: "n3", DriveId: "d", ShardId: "late.1"}},
		{name: "a digest makes it a scrub report", nodes: 7, report: &metapb.ShardReport{NodeId: "n0", DriveId: "d", ShardId: "late.1", Digest: []byte("new")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// ScanInterval far beyond the test and a fixed map: only the
			// first scan runs before the report.
			h := newHarness(t, clusterMap(tc.nodes, 0), nil, func(c *Config) { c.ScanInterval = time.Hour })
			h.run(t)
			waitFor(t, "the first scan", func() bool { return h.r.Status().LastScanUnixNano != 0 })

			// Written after that scan, by a gateway whose map lacked
			// nodes: shards 0 and 1 share n0.
			late := body("late", 4, 2, "n0", "n0", "n1", "n2", "n3", "n4")
			late.Digests = [][]byte{[]byte("new"), []byte("new"), []byte("new"), []byte("new"), []byte("new"), []byte("new")}
			h.meta.mu.Lock()
			h.meta.bodies = append(h.meta.bodies, late)
			h.meta.mu.Unlock()

			n, err := h.r.Report(context.Background(), []*metapb.ShardReport{tc.report})
			require.NoError(t, err)
			if !tc.spread {
				require.Zero(t, n)
				h.r.mu.Lock()
				queued := h.r.mu.q.len()
				h.r.mu.Unlock()
				require.Zero(t, queued, "nothing queued")
				return
			}
			require.Equal(t, 1, n)
			waitFor(t, "the spread", func() bool { return len(h.prop.commands()) == 1 })
			c := h.prop.commands()[0]
			require.Equal(t, "late", c.DataId)
			require.Len(t, c.Moves, 1)
			require.EqualValues(t, 1, c.Moves[0].Index)
			require.Equal(t, "n0", c.Moves[0].From.NodeId)
			require.NotContains(t, []string{"n0", "n1", "n2", "n3", "n4"}, c.Moves[0].To.NodeId)
			require.False(t, c.UnderSpread)
			require.Equal(t, 1, h.rb.copyCount(), "a spread copies the shard, it does not rebuild it")
		})
	}
}
