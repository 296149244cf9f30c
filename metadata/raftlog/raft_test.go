package raftlog

import (
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// countFSM sums the uint64 commands applied to it.
type countFSM struct {
	mu  sync.Mutex
	n   int
	sum uint64
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.sum += binary.BigEndian.Uint64(l.Data)
	return nil
}

func (f *countFSM) state() (int, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.sum
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return countSnapshot{n: f.n, sum: f.sum}, nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n = int(binary.BigEndian.Uint64(b[:8]))
	f.sum = binary.BigEndian.Uint64(b[8:])
	return nil
}

type countSnapshot struct {
	n   int
	sum uint64
}

func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	b := binary.BigEndian.AppendUint64(nil, uint64(s.n))
	b = binary.BigEndian.AppendUint64(b, s.sum)
	if _, err := sink.Write(b); err != nil {
		return errorsJoinCancel(err, sink)
	}
	return sink.Close()
}

func errorsJoinCancel(err error, sink raft.SnapshotSink) error {
	if cerr := sink.Cancel(); cerr != nil {
		return fmt.Errorf("%w (cancel: %v)", err, cerr)
	}
	return err
}

func (countSnapshot) Release() {}

type testPeer struct {
	id    raft.ServerID
	dir   string
	trans *raft.InmemTransport
	store *Store
	fsm   *countFSM
	raft  *raft.Raft
}

func raftTestConfig(t *testing.T, id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	// Short enough for a quick test, long enough that a synced Pebble
	// write on a loaded machine (under -race) does not cost the leader its
	// lease mid-test.
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold = 40
	c.TrailingLogs = 10
	c.SnapshotInterval = 100 * time.Millisecond
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Output: testWriter{t}, Level: hclog.Info})
	return c
}

func (p *testPeer) start(t *testing.T, bootstrap *raft.Configuration) {
	t.Helper()
	var err error
	p.store, err = Open(filepath.Join(p.dir, "log"), Options{Logger: testLogger(t)})
	require.NoError(t, err)
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(p.dir, "snap"), 2, io.Discard)
	require.NoError(t, err)
	conf := raftTestConfig(t, p.id)
	if bootstrap != nil {
		require.NoError(t, raft.BootstrapCluster(conf, p.store, p.store, snaps, p.trans, *bootstrap))
	}
	p.fsm = &countFSM{}
	p.raft, err = raft.NewRaft(conf, p.fsm, p.store, p.store, snaps, p.trans)
	require.NoError(t, err)
}

func (p *testPeer) stop(t *testing.T) {
	t.Helper()
	if p.raft == nil {
		return
	}
	require.NoError(t, p.raft.Shutdown().Error())
	require.NoError(t, p.store.Close())
	p.raft = nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRaftClusterOnStore runs real hashicorp/raft replicas on Stores:
// election, replication, log compaction by snapshots (DeleteRange), and a
// follower restarting from its persisted log and term.
func TestRaftClusterOnStore(t *testing.T) {
	var peers []*testPeer
	var cfg raft.Configuration
	for i := range 3 {
		addr, trans := raft.NewInmemTransport("")
		p := &testPeer{id: raft.ServerID(fmt.Sprintf("n%d", i)), dir: t.TempDir(), trans: trans}
		peers = append(peers, p)
		cfg.Servers = append(cfg.Servers, raft.Server{ID: p.id, Address: addr})
	}
	for _, a := range peers {
		for _, b := range peers {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	for _, p := range peers {
		p.start(t, &cfg)
	}
	t.Cleanup(func() {
		for _, p := range peers {
			p.stop(t)
		}
	})

	leader := func() *testPeer {
		for _, p := range peers {
			if p.raft != nil && p.raft.State() == raft.Leader {
				return p
			}
		}
		return nil
	}
	waitFor(t, 10*time.Second, "leader", func() bool { return leader() != nil })

	apply := func(from, to uint64) {
		t.Helper()
		var futures []raft.ApplyFuture
		for i := from; i <= to; i++ {
			futures = append(futures, leader().raft.Apply(binary.BigEndian.AppendUint64(nil, i), 5*time.Second))
		}
		for _, f := range futures {
			require.NoError(t, f.Error())
		}
	}
	sumTo := func(n uint64) uint64 { return n * (n + 1) / 2 }

	apply(1, 150)
	for _, p := range peers {
		waitFor(t, 10*time.Second, "replication", func() bool { _, s := p.fsm.state(); return s == sumTo(150) })
	}
	// Snapshots must have compacted the leader's log through DeleteRange.
	waitFor(t, 10*time.Second, "compaction", func() bool {
		first, err := leader().store.FirstIndex()
		require.NoError(t, err)
		return first > 1
	})

	var follower *testPeer
	for _, p := range peers {
		if p != leader() {
			follower = p
			break
		}
	}
	follower.stop(t)
	apply(151, 300)
	follower.start(t, nil)
	waitFor(t, 10*time.Second, "restarted follower catches up", func() bool {
		_, s := follower.fsm.state()
		return s == sumTo(300)
	})
	term, err := follower.store.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.NotZero(t, term)
}
