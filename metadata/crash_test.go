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
// strict in-memory filesystem and crashes it after synced batches and in
// the middle of one (written, not synced): after every restart the applied
// index covers every acknowledged batch, and the state holds exactly the
// commands up to the applied index, never a later one without an earlier.
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
	acked := h.index
	check := func(where string) {
		t.Helper()
		applied := h.f.AppliedIndex()
		require.GreaterOrEqual(t, applied, acked, "%s: acknowledged apply lost", where)
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
		acked = h.index
		where := fmt.Sprintf("round %d: after a synced batch", round)
		if round%2 == 1 {
			where = fmt.Sprintf("round %d: batch written, not synced", round)
			mem.SetIgnoreSyncs(true)
			h.f.ApplyBatch(logs(3))
			mem.SetIgnoreSyncs(false)
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
