package metadata

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestCrashAppliesAPrefix applies batches of commands to an FSM on a
// strict in-memory filesystem, takes a snapshot now and then, and crashes
// it (everything not synced is lost): after every restart the applied
// index covers every batch applied before the last snapshot, which Raft
// will not replay, and the state holds exactly the commands up to the
// applied index, never a later one without an earlier. Batches after the
// snapshot may be lost: Raft replays them from its log.
func TestCrashAppliesAPrefix(t *testing.T) {
	const rounds = 60
	mem := vfs.NewStrictMem()
	require.NoError(t, mem.MkdirAll("/meta", 0o755))
	root, err := mem.OpenDir("/")
	require.NoError(t, err)
	require.NoError(t, root.Sync())
	require.NoError(t, root.Close())
	const dir = "/meta/fsm"
	open := func() *FSM {
		f, err := Open(dir, Options{Logger: testLogger(t), FS: mem})
		require.NoError(t, err)
		return f
	}
	crash := func(f *FSM) {
		mem.SetIgnoreSyncs(true)
		require.NoError(t, f.Close())
		mem.ResetToSyncedState()
		mem.SetIgnoreSyncs(false)
	}
	f := open()
	h := &harness{t: t, f: f}
	// Command 1 creates the bucket; command i > 1 puts version v<i> of
	// key k, so the state says exactly which commands were applied.
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
	logs := func(n int) []*raft.Log {
		out := make([]*raft.Log, n)
		for i := range out {
			id := fmt.Sprintf("v%05d", h.index+1)
			out[i] = h.log(putObject("b", "k", id, id))
		}
		return out
	}
	snapshotted := uint64(0)
	check := func(where string) {
		t.Helper()
		applied := h.f.AppliedIndex()
		require.GreaterOrEqual(t, applied, snapshotted, "%s: apply below the last snapshot lost", where)
		require.LessOrEqual(t, applied, h.index, "%s: applied index beyond the last command", where)
		for i := uint64(2); i <= h.index; i++ {
			_, err := h.f.GetObject("b", "k", fmt.Sprintf("v%05d", i))
			if i <= applied {
				require.NoError(t, err, "%s: command %d of %d applied is missing", where, i, applied)
			} else {
				require.True(t, errors.Is(err, ErrNoSuchVersion), "%s: command %d present beyond applied index %d: %v", where, i, applied, err)
			}
		}
		if applied >= 2 {
			v, err := h.f.GetObject("b", "k", "")
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("v%05d", applied), v.GetVersionId(), "%s: latest version", where)
		}
	}
	for round := range rounds {
		for _, res := range h.f.ApplyBatch(logs(1 + round%4)) {
			require.IsType(t, &metapb.CommandResult{}, res)
		}
		where := fmt.Sprintf("round %d: after a batch", round)
		if round%3 != 2 {
			s, err := h.f.Snapshot()
			require.NoError(t, err)
			s.Release()
			snapshotted = h.index
			where = fmt.Sprintf("round %d: after a snapshot", round)
		}
		if round%2 == 1 {
			where += ", then a batch"
			h.f.ApplyBatch(logs(3))
		}
		crash(h.f)
		h.f = open()
		check(where)
		// Raft replays what the FSM had not applied: go on from there.
		h.index = h.f.AppliedIndex()
	}
	require.NoError(t, h.f.Close())
	t.Logf("%d crashes, %d commands applied", rounds, h.index)
}
