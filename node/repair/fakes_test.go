package repair

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// fakeMeta serves bodies and a map from memory.
type fakeMeta struct {
	mu     sync.Mutex
	bodies []Body
	m      *metapb.ClusterMap
	paused bool
	reb    *metapb.RebalanceState
}

func (f *fakeMeta) Rebalance(context.Context) (*metapb.RebalanceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reb == nil {
		return &metapb.RebalanceState{}, nil
	}
	return f.reb, nil
}

func (f *fakeMeta) ScanBodies(_ context.Context, cursor []byte, limit int) ([]Body, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := 0
	if cursor != nil {
		fmt.Sscan(string(cursor), &start)
	}
	end := min(start+limit, len(f.bodies))
	out := append([]Body(nil), f.bodies[start:end]...)
	if end == len(f.bodies) {
		return out, nil, nil
	}
	return out, []byte(fmt.Sprint(end)), nil
}

func (f *fakeMeta) LocateBody(_ context.Context, id string) (Body, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.bodies {
		if b.DataID == id {
			return b, true, nil
		}
	}
	return Body{}, false, nil
}

func (f *fakeMeta) HealPaused(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paused, nil
}

func (f *fakeMeta) setPaused(p bool) {
	f.mu.Lock()
	f.paused = p
	f.mu.Unlock()
}

func (f *fakeMeta) ClusterMap(context.Context) (*metapb.ClusterMap, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m, nil
}

func (f *fakeMeta) HasBucket(_ context.Context, name string) (bool, error) { return name == "b", nil }

// apply moves the shards of a committed RepairShards, as the FSM would.
func (f *fakeMeta) apply(c *metapb.RepairShards) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.bodies {
		if f.bodies[i].DataID == c.DataId {
			shards := append([]*metapb.ShardPlacement(nil), f.bodies[i].Shards...)
			for _, mv := range c.Moves {
				shards[mv.Index] = mv.To
			}
			f.bodies[i].Shards = shards
		}
	}
}

// fakeProposer records RepairShards and answers with code.
type fakeProposer struct {
	mu    sync.Mutex
	meta  *fakeMeta
	code  metapb.ErrorCode
	cmds  []*metapb.RepairShards
	added chan struct{}
}

func newProposer(m *fakeMeta) *fakeProposer {
	return &fakeProposer{meta: m, added: make(chan struct{}, 1000)}
}

func (p *fakeProposer) Propose(_ context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	if sr := cmd.GetSetRebalance(); sr != nil {
		p.meta.mu.Lock()
		p.meta.reb = &metapb.RebalanceState{Running: sr.Running, BandPercent: sr.BandPercent}
		p.meta.mu.Unlock()
		return &metapb.CommandResult{}, nil
	}
	c := cmd.GetRepairShards()
	p.mu.Lock()
	p.cmds = append(p.cmds, c)
	code := p.code
	p.mu.Unlock()
	if code == metapb.ErrorCode_OK {
		p.meta.apply(c)
	}
	p.added <- struct{}{}
	return &metapb.CommandResult{Code: code}, nil
}

func (p *fakeProposer) commands() []*metapb.RepairShards {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*metapb.RepairShards(nil), p.cmds...)
}

// fakeRebuilder "rebuilds" onto the targets at once.
type fakeRebuilder struct {
	mu     sync.Mutex
	calls  []map[int]*metapb.ShardPlacement
	copies int
	err    error
}

func (r *fakeRebuilder) RebuildShards(ctx context.Context, v *metapb.ObjectVersion, targets map[int]*metapb.ShardPlacement, opts objio.RebuildOptions) ([]objio.RebuiltShard, error) {
	r.mu.Lock()
	r.calls = append(r.calls, targets)
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if opts.Throttle != nil {
		if err := opts.Throttle(ctx, int(v.Size)); err != nil {
			return nil, err
		}
	}
	var out []objio.RebuiltShard
	for i := range len(v.Shards) {
		if t := targets[i]; t != nil {
			out = append(out, objio.RebuiltShard{Index: i, Target: t, Size: 100, Digest: []byte("new")})
		}
	}
	return out, nil
}

// CopyShards "copies" like RebuildShards, recording the call in copies.
func (r *fakeRebuilder) CopyShards(ctx context.Context, v *metapb.ObjectVersion, targets map[int]*metapb.ShardPlacement, opts objio.RebuildOptions) ([]objio.RebuiltShard, error) {
	r.mu.Lock()
	r.copies++
	r.mu.Unlock()
	return r.RebuildShards(ctx, v, targets, opts)
}

func (r *fakeRebuilder) copyCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies
}

func (r *fakeRebuilder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// fakeShards answers VerifyShard from a set of missing shards.
type fakeShards struct {
	mu      sync.Mutex
	missing map[string]bool // node/shard
	scrubs  []string
	noScrub bool
}

func (s *fakeShards) VerifyShard(_ context.Context, node string, in *storagepb.VerifyShardRequest) (*storagepb.VerifyShardResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.missing[node+"/"+in.GetRef().GetShardId()] {
		return nil, status.Error(codes.NotFound, "missing")
	}
	return &storagepb.VerifyShardResponse{Digest: in.GetExpectDigest()}, nil
}

func (s *fakeShards) StatShard(context.Context, string, *storagepb.StatShardRequest) (*storagepb.StatShardResponse, error) {
	return &storagepb.StatShardResponse{}, nil
}

func (s *fakeShards) Scrub(_ context.Context, node string) (*storagepb.ScrubResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noScrub {
		return nil, status.Error(codes.Unimplemented, "no scrub")
	}
	s.scrubs = append(s.scrubs, node)
	return &storagepb.ScrubResponse{Started: true}, nil
}

// clusterMap returns nodes n0..n(count-1), up, each with drive d, in
// failure domain "r<i%domains>" when domains > 0.
func clusterMap(count, domains int) *metapb.ClusterMap {
	m := &metapb.ClusterMap{Epoch: 1}
	for i := range count {
		n := &metapb.Node{
			NodeId: fmt.Sprintf("n%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 1000+i), Up: true,
			Drives: []*metapb.Drive{{DriveId: "d", CapacityBytes: 1 << 40, FreeBytes: 1 << 40}},
		}
		if domains > 0 {
			n.FailureDomain = fmt.Sprintf("r%d", i%domains)
		}
		m.Nodes = append(m.Nodes, n)
	}
	return m
}

func node(m *metapb.ClusterMap, id string) *metapb.Node {
	for _, n := range m.Nodes {
		if n.NodeId == id {
			return n
		}
	}
	return nil
}

// body returns a 4+2 (or k+m) body with shards on the given nodes.
func body(id string, k, m int, nodes ...string) Body {
	b := Body{Bucket: "b", Key: "k-" + id, VersionID: "null", DataID: id, StoredSize: 4 * 4096 * int64(k),
		Profile: &metapb.ErasureProfile{DataShards: uint32(k), ParityShards: uint32(m), BlockSize: 4096}}
	for _, n := range nodes {
		b.Shards = append(b.Shards, &metapb.ShardPlacement{NodeId: n, DriveId: "d"})
	}
	return b
}

type harness struct {
	meta  *fakeMeta
	prop  *fakeProposer
	rb    *fakeRebuilder
	sh    *fakeShards
	r     *Repairer
	clock *fakeClock
}

type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	advanc bool
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func newHarness(t *testing.T, m *metapb.ClusterMap, bodies []Body, mod ...func(*Config)) *harness {
	t.Helper()
	h := &harness{meta: &fakeMeta{bodies: bodies, m: m}, rb: &fakeRebuilder{}, sh: &fakeShards{missing: map[string]bool{}},
		clock: &fakeClock{t: time.Unix(1000, 0)}}
	h.prop = newProposer(h.meta)
	cfg := Config{
		Metadata: h.meta, Proposer: h.prop, Rebuilder: h.rb, Shards: h.sh,
		Concurrency: 1, PollInterval: 5 * time.Millisecond, Now: h.clock.now, Sleep: h.clock.sleep,
	}
	for _, f := range mod {
		f(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	return h
}

// run runs the repairer until the test ends.
func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
