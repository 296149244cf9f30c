package storage

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// fakeReporter records reports; while hold is set, a report blocks until
// it is released or its context ends.
type fakeReporter struct {
	mu struct {
		sync.Mutex
		reqs []*metapb.ReportShardsRequest
		hold chan struct{}
	}
}

func (f *fakeReporter) ReportShards(ctx context.Context, req *metapb.ReportShardsRequest) error {
	f.mu.Lock()
	hold := f.mu.hold
	f.mu.reqs = append(f.mu.reqs, req)
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// byShard returns the last report of every shard.
func (f *fakeReporter) byShard() map[string]*metapb.ShardReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*metapb.ShardReport{}
	for _, r := range f.mu.reqs {
		for _, s := range r.GetShards() {
			out[s.GetShardId()] = s
		}
	}
	return out
}

func waitPasses(t *testing.T, s *Server, n uint64) ScrubStats {
	t.Helper()
	require.Eventually(t, func() bool { return s.ScrubStats().Passes >= n }, 30*time.Second, time.Millisecond)
	return s.ScrubStats()
}

func TestScrubFindsDamage(t *testing.T) {
	rep := &fakeReporter{}
	e := startServer(t, Config{Reporter: rep, ScrubInterval: -1, ScrubRate: 1 << 30, ScrubBatch: 3})
	ctx := t.Context()
	digests := map[string][]byte{}
	var files []string
	for i := range 8 {
		di := i % 2
		id := fmt.Sprintf("%016x.%d", i, i%3)
		resp, err := writeShard(ctx, e.client, ref(e.srv.DriveIDs()[di], id), 4096, randBytes(uint64(i), 5000+3000*i), 4096)
		require.NoError(t, err)
		digests[id] = resp.GetDigest()
		files = append(files, shardPath(e.drives[di], id))
	}
	// A flipped bit in one shard; another shard's bytes copied over a
	// third (same drive, self-consistent frames).
	flipped, copied := "0000000000000002.2", "0000000000000004.1"
	b, err := os.ReadFile(files[2])
	require.NoError(t, err)
	b[100] ^= 0x01
	require.NoError(t, os.WriteFile(files[2], b, 0o644))
	foreign, err := os.ReadFile(files[6])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(files[4], foreign, 0o644))
	var total uint64
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		total += uint64(fi.Size())
	}

	e.srv.Start(ctx)
	resp, err := e.client.Scrub(ctx, &storagepb.ScrubRequest{})
	require.NoError(t, err)
	require.True(t, resp.GetStarted())
	st := waitPasses(t, e.srv, 1)

	got := rep.byShard()
	require.Len(t, got, 8)
	for id, want := range digests {
		r := got[id]
		require.Equal(t, e.srv.cfg.NodeID, r.GetNodeId())
		switch id {
		case flipped, copied:
			require.Equal(t, metapb.ShardHealth_SHARD_CORRUPT, r.GetHealth(), id)
			require.NotEmpty(t, r.GetDetail())
		default:
			require.Equal(t, metapb.ShardHealth_SHARD_OK, r.GetHealth(), id)
			require.Equal(t, want, r.GetDigest(), id)
		}
	}
	rep.mu.Lock()
	for _, req := range rep.mu.reqs {
		require.Equal(t, e.srv.cfg.NodeID, req.GetReporter())
		require.LessOrEqual(t, len(req.GetShards()), 3+2, "verified shards go in batches (with pending damage)")
	}
	rep.mu.Unlock()

	require.False(t, st.Running)
	require.Equal(t, uint64(8), st.ShardsVerified)
	require.Equal(t, uint64(2), st.DamageFound)
	// Every byte of every shard was read once, each through the limiter.
	require.Equal(t, total, st.BytesRead)
	require.Equal(t, int64(total), e.srv.scrub.limiter.admitted())
	require.Equal(t, int64(1<<30), st.Rate)
	require.Equal(t, int64(scrubBurst), st.Burst)
	require.False(t, st.PassEnd.Before(st.PassStart))

	// The pass end is kept on the drives, so a restart does not postpone
	// the next pass.
	for _, id := range e.srv.DriveIDs() {
		require.Equal(t, st.PassEnd.UnixNano(), e.srv.drives[id].loadScrubEnd().UnixNano())
	}
	require.Equal(t, st.PassEnd.UnixNano(), e.srv.scrub.lastPassEnd().UnixNano())
}

func TestScrubTriggerWhileRunning(t *testing.T) {
	rep := &fakeReporter{}
	hold := make(chan struct{})
	rep.mu.hold = hold
	e := startServer(t, Config{Reporter: rep, ScrubInterval: -1, ScrubBatch: 1})
	ctx := t.Context()
	_, err := writeShard(ctx, e.client, ref(e.srv.DriveIDs()[0], "t.0"), 4096, randBytes(1, 100), 100)
	require.NoError(t, err)

	resp, err := e.client.Scrub(ctx, &storagepb.ScrubRequest{})
	require.NoError(t, err)
	require.False(t, resp.GetStarted(), "no scrub loop before Start")

	e.srv.Start(ctx)
	require.Eventually(t, func() bool { return e.srv.scrub.trigger() }, 10*time.Second, time.Millisecond)
	// The pass blocks in its first report.
	require.Eventually(t, func() bool { return e.srv.ScrubStats().Running }, 10*time.Second, time.Millisecond)
	resp, err = e.client.Scrub(ctx, &storagepb.ScrubRequest{})
	require.NoError(t, err)
	require.False(t, resp.GetStarted(), "a pass is running")
	close(hold)
	waitPasses(t, e.srv, 1)
	resp, err = e.client.Scrub(ctx, &storagepb.ScrubRequest{})
	require.NoError(t, err)
	require.True(t, resp.GetStarted())
	waitPasses(t, e.srv, 2)
}

// TestScrubStopsOnClose: a pass slowed by its rate limit ends with Close.
func TestScrubStopsOnClose(t *testing.T) {
	rep := &fakeReporter{}
	srv, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, FormatDrives: true, Drives: []string{t.TempDir()}, Logger: testLogger(t),
		Reporter: rep, ScrubRate: 1, ScrubInterval: time.Hour})
	require.NoError(t, err)
	d := srv.drives[srv.order[0]]
	p, err := d.create("slow.0", 4096)
	require.NoError(t, err)
	_, err = p.Write(randBytes(2, 3<<20))
	require.NoError(t, err)
	require.NoError(t, p.commit(t.Context()))

	srv.Start(t.Context()) // no pass recorded: the first starts at once
	require.Eventually(t, func() bool { return srv.ScrubStats().Running }, 10*time.Second, time.Millisecond)
	require.NoError(t, srv.Close())
	st := srv.ScrubStats()
	require.Zero(t, st.Passes, "the pass did not finish")
	require.Less(t, st.BytesRead, uint64(3<<20))
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	l := newLimiter(1000, 100, clock)
	done, cancel := context.WithCancel(t.Context())
	cancel()

	// A full bucket admits a burst without waiting (a cancelled context
	// would fail any wait).
	require.NoError(t, l.wait(done, 100))
	require.ErrorIs(t, l.wait(done, 1), context.Canceled, "an empty bucket makes the reader wait")
	now = now.Add(time.Second)
	require.NoError(t, l.wait(done, 99), "a second at 1000 B/s refills the bucket up to its burst")
	require.Equal(t, int64(200), l.admitted())
}

func TestScrubReportsRetryDamage(t *testing.T) {
	rep := &failingReporter{fail: 1}
	e := startServer(t, Config{Reporter: rep, ScrubInterval: -1, ScrubRate: 1 << 30})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	_, err := writeShard(ctx, e.client, ref(drive, "bad.0"), 4096, randBytes(1, 9000), 9000)
	require.NoError(t, err)
	p := shardPath(e.drives[0], "bad.0")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b[20] ^= 1
	require.NoError(t, os.WriteFile(p, b, 0o644))
	e.srv.Start(ctx)
	require.Eventually(t, func() bool { return e.srv.scrub.trigger() }, 10*time.Second, time.Millisecond)
	st := waitPasses(t, e.srv, 1)
	require.Equal(t, uint64(1), st.ReportFailures)
	rep.mu.Lock()
	defer rep.mu.Unlock()
	var corrupt int
	for _, req := range rep.mu.took {
		for _, s := range req.GetShards() {
			if s.GetHealth() == metapb.ShardHealth_SHARD_CORRUPT {
				corrupt++
			}
		}
	}
	require.Equal(t, 1, corrupt, "the damage refused first went with the next report")
}

// failingReporter refuses its first fail reports.
type failingReporter struct {
	fail int
	mu   struct {
		sync.Mutex
		took []*metapb.ReportShardsRequest
	}
}

func (f *failingReporter) ReportShards(_ context.Context, req *metapb.ReportShardsRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return fmt.Errorf("meta unreachable")
	}
	f.mu.took = append(f.mu.took, req)
	return nil
}
