package metadata

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/raftlog"
	"github.com/cairn-io/cairn/proto/metapb"
)

// crashVoter is one voter whose Raft log and FSM live on a strict
// in-memory filesystem, so that a crash loses everything not synced. Its
// snapshot store survives crashes, as the file store syncs what it keeps.
type crashVoter struct {
	id    raft.ServerID
	mem   *vfs.MemFS
	snaps raft.SnapshotStore
	trans *raft.InmemTransport
	logs  *raftlog.Store
	fsm   *FSM
	raft  *raft.Raft
}

func newCrashVoter(t *testing.T, id string) *crashVoter {
	t.Helper()
	mem := vfs.NewStrictMem()
	require.NoError(t, mem.MkdirAll("/meta", 0o755))
	root, err := mem.OpenDir("/")
	require.NoError(t, err)
	require.NoError(t, root.Sync())
	require.NoError(t, root.Close())
	_, trans := raft.NewInmemTransport(raft.ServerAddress(id))
	return &crashVoter{id: raft.ServerID(id), mem: mem, snaps: raft.NewInmemSnapshotStore(), trans: trans}
}

// crashRaftConfig is node/meta's configuration (NoSnapshotRestoreOnStart,
// batched applies) with snapshots and log compaction every few entries.
func crashRaftConfig(t *testing.T, id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.NoSnapshotRestoreOnStart = true
	c.BatchApplyCh = true
	c.SnapshotThreshold = 16
	c.TrailingLogs = 4
	c.SnapshotInterval = 50 * time.Millisecond
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Output: t.Output(), Level: hclog.Warn})
	return c
}

func (v *crashVoter) start(t *testing.T, bootstrap *raft.Configuration) {
	t.Helper()
	var err error
	v.logs, err = raftlog.Open("/meta/raft", raftlog.Options{Logger: testLogger(t), FS: v.mem})
	require.NoError(t, err)
	v.fsm, err = Open("/meta/fsm", Options{Logger: testLogger(t), FS: v.mem})
	require.NoError(t, err)
	conf := crashRaftConfig(t, v.id)
	if bootstrap != nil {
		require.NoError(t, raft.BootstrapCluster(conf, v.logs, v.logs, v.snaps, v.trans, *bootstrap))
	}
	v.raft, err = raft.NewRaft(conf, v.fsm, v.logs, v.logs, v.snaps, v.trans)
	require.NoError(t, err)
}

// crash cuts the voter's power: nothing from now on reaches its disk,
// and every unsynced byte is lost.
func (v *crashVoter) crash(t *testing.T) {
	t.Helper()
	v.mem.SetIgnoreSyncs(true)
	require.NoError(t, v.raft.Shutdown().Error())
	require.NoError(t, v.fsm.Close())
	require.NoError(t, v.logs.Close())
	v.mem.ResetToSyncedState()
	v.mem.SetIgnoreSyncs(false)
	v.raft = nil
}

func (v *crashVoter) stop(t *testing.T) {
	t.Helper()
	if v.raft == nil {
		return
	}
	require.NoError(t, v.raft.Shutdown().Error())
	require.NoError(t, errors.Join(v.fsm.Close(), v.logs.Close()))
	v.raft = nil
}

// TestRaftCrashKeepsAcknowledgedApplies runs three voters whose FSMs apply
// without syncing, snapshot and compact their logs every few entries, and
// crashes them: first one voter (a follower, then the leader) while the
// others go on, then all three at once. After each restart every voter
// holds every write the leader acknowledged before the crash: what an FSM
// lost, Raft replays from the log above the last snapshot, and the FSM is
// durable up to that snapshot.
func TestRaftCrashKeepsAcknowledgedApplies(t *testing.T) {
	voters := []*crashVoter{newCrashVoter(t, "v1"), newCrashVoter(t, "v2"), newCrashVoter(t, "v3")}
	var conf raft.Configuration
	for _, a := range voters {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: a.id, Address: a.trans.LocalAddr()})
		for _, b := range voters {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	for _, v := range voters {
		v.start(t, &conf)
	}
	t.Cleanup(func() {
		for _, v := range voters {
			v.stop(t)
		}
	})

	leader := func() *crashVoter {
		t.Helper()
		var l *crashVoter
		require.Eventually(t, func() bool {
			for _, v := range voters {
				if v.raft != nil && v.raft.State() == raft.Leader {
					l = v
					return true
				}
			}
			return false
		}, 20*time.Second, 10*time.Millisecond, "no leader")
		return l
	}
	var acked []string
	propose := func(cmd *metapb.Command) {
		t.Helper()
		data, err := proto.Marshal(cmd)
		require.NoError(t, err)
		for {
			f := leader().raft.Apply(data, 5*time.Second)
			if err := f.Error(); errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
				continue
			} else {
				require.NoError(t, err)
			}
			res, ok := f.Response().(*metapb.CommandResult)
			require.True(t, ok, "apply returned %v", f.Response())
			require.Equal(t, metapb.ErrorCode_OK, res.Code, "result %v", res)
			return
		}
	}
	put := func(n int) {
		t.Helper()
		for range n {
			id := fmt.Sprintf("v%05d", len(acked)+1)
			propose(putObject("b", "k", id, id))
			acked = append(acked, id)
		}
	}
	// holdsAll waits until v's FSM shows every acknowledged version.
	holdsAll := func(v *crashVoter, where string) {
		t.Helper()
		require.Eventually(t, func() bool {
			_, err := v.fsm.GetObject("b", "k", acked[len(acked)-1])
			return err == nil
		}, 20*time.Second, 10*time.Millisecond, "%s: %s never applied the last acknowledged write", where, v.id)
		for _, id := range acked {
			_, err := v.fsm.GetObject("b", "k", id)
			require.NoError(t, err, "%s: %s lost acknowledged version %s", where, v.id, id)
		}
	}
	// restart gives v a new transport (Shutdown closed the old one) and
	// connects it with every other voter's.
	restart := func(v *crashVoter) {
		t.Helper()
		_, v.trans = raft.NewInmemTransport(raft.ServerAddress(v.id))
		for _, o := range voters {
			if o != v {
				v.trans.Connect(o.trans.LocalAddr(), o.trans)
				o.trans.Connect(v.trans.LocalAddr(), v.trans)
			}
		}
		v.start(t, nil)
	}

	propose(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
	put(40)

	l := leader()
	var follower *crashVoter
	for _, v := range voters {
		if v != l {
			follower = v
			break
		}
	}
	follower.crash(t)
	put(30)
	restart(follower)
	put(5)
	holdsAll(follower, "follower crashed")

	l = leader()
	l.crash(t)
	put(30)
	restart(l)
	put(5)
	holdsAll(l, "leader crashed")

	for _, v := range voters {
		v.crash(t)
	}
	for _, v := range voters {
		restart(v)
	}
	for _, v := range voters {
		holdsAll(v, "all crashed")
	}
	put(5)
	for _, v := range voters {
		holdsAll(v, "after the full crash")
	}

	// Snapshots were taken and the logs compacted below them: the test
	// covered state that Raft no longer replays.
	for _, v := range voters {
		metas, err := v.snaps.List()
		require.NoError(t, err)
		require.NotEmpty(t, metas, "%s took no snapshot", v.id)
		first, err := v.logs.FirstIndex()
		require.NoError(t, err)
		require.Greater(t, first, uint64(1), "%s never compacted its log", v.id)
	}
}
