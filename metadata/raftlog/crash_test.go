package raftlog

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// crash simulates a power cut on a strict in-memory filesystem: nothing
// done from now on reaches the disk (the store is closed with syncs
// ignored, as its files would be abandoned) and every unsynced byte and
// directory entry is lost.
func crash(t *testing.T, mem *vfs.MemFS, s *Store) {
	t.Helper()
	mem.SetIgnoreSyncs(true)
	require.NoError(t, s.Close())
	mem.ResetToSyncedState()
	mem.SetIgnoreSyncs(false)
}

// newStrictDir returns a strict in-memory filesystem holding the durable,
// empty directory /meta, as a data directory is before the first start.
func newStrictDir(t *testing.T) *vfs.MemFS {
	t.Helper()
	mem := vfs.NewStrictMem()
	require.NoError(t, mem.MkdirAll("/meta", 0o755))
	root, err := mem.OpenDir("/")
	require.NoError(t, err)
	require.NoError(t, root.Sync())
	require.NoError(t, root.Close())
	return mem
}

// TestCrashKeepsStoredLogs stores batches of Raft entries, some large
// enough to make Pebble flush its memtable, and crashes the store after
// synced batches, in the middle of a batch (written, not yet synced) and
// in the middle of a compaction: after every restart each entry whose
// StoreLogs returned is there with identical bytes, an unsynced batch is
// all there or not at all, and the stable store holds its last value.
func TestCrashKeepsStoredLogs(t *testing.T) {
	const rounds = 90
	mem := newStrictDir(t)
	const dir = "/meta/raft"
	open := func() *Store {
		s, err := Open(dir, Options{FS: mem})
		require.NoError(t, err)
		return s
	}
	rng := rand.New(rand.NewPCG(7, 11))
	batch := func(next uint64) []*raft.Log {
		logs := make([]*raft.Log, 1+rng.IntN(4))
		for i := range logs {
			data := make([]byte, 1+rng.IntN(160<<10))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			logs[i] = &raft.Log{Index: next + uint64(i), Term: 3, Type: raft.LogCommand, Data: data, Extensions: []byte("x")}
		}
		return logs
	}
	s := open()
	stored := map[uint64]*raft.Log{}
	first, next := uint64(1), uint64(1)
	term := uint64(0)
	check := func(where string) {
		t.Helper()
		gotFirst, err := s.FirstIndex()
		require.NoError(t, err)
		gotLast, err := s.LastIndex()
		require.NoError(t, err)
		if next > first {
			require.Equal(t, first, gotFirst, "%s: first index", where)
			require.Equal(t, next-1, gotLast, "%s: last index", where)
		}
		for i := first; i < next; i++ {
			var l raft.Log
			require.NoError(t, s.GetLog(i, &l), "%s: entry %d lost", where, i)
			require.Equal(t, *stored[i], l, "%s: entry %d changed", where, i)
		}
		got, err := s.GetUint64(keyCurrentTerm)
		if term == 0 {
			require.Error(t, err)
		} else {
			require.NoError(t, err)
			require.Equal(t, term, got, "%s: current term", where)
		}
	}
	crashes := 0
	for round := range rounds {
		logs := batch(next)
		require.NoError(t, s.StoreLogs(logs))
		for _, l := range logs {
			stored[l.Index] = l
		}
		next += uint64(len(logs))
		if round%5 == 0 {
			term++
			require.NoError(t, s.SetUint64(keyCurrentTerm, term))
		}

		var where string
		switch round % 3 {
		case 0:
			where = fmt.Sprintf("round %d: after a synced batch", round)
			crash(t, mem, s)
		case 1:
			where = fmt.Sprintf("round %d: batch written, not synced", round)
			mem.SetIgnoreSyncs(true)
			require.NoError(t, s.StoreLogs(batch(next)))
			require.NoError(t, s.SetUint64(keyCurrentTerm, term+100))
			mem.SetIgnoreSyncs(false)
			crash(t, mem, s)
		case 2:
			// Raft compacts from the front: a synced delete of the oldest
			// entries, then an unsynced one.
			where = fmt.Sprintf("round %d: compaction", round)
			cut := first + (next-first)/3
			require.NoError(t, s.DeleteRange(first, cut-1))
			for i := first; i < cut; i++ {
				delete(stored, i)
			}
			first = cut
			mem.SetIgnoreSyncs(true)
			require.NoError(t, s.DeleteRange(first, first+(next-first)/2))
			mem.SetIgnoreSyncs(false)
			crash(t, mem, s)
		}
		crashes++
		s = open()
		check(where)
	}
	require.NoError(t, s.Close())
	t.Logf("%d crashes, %d entries stored, %d kept after compactions", crashes, next-1, next-first)
}

// keyCurrentTerm is the stable key Raft keeps its term under.
var keyCurrentTerm = []byte("CurrentTerm")
