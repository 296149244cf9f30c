package raftlog

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func mkLogs(lo, hi, term uint64) []*raft.Log {
	var logs []*raft.Log
	for i := lo; i <= hi; i++ {
		logs = append(logs, &raft.Log{
			Index:      i,
			Term:       term,
			Type:       raft.LogCommand,
			Data:       fmt.Appendf(nil, "data-%d-%d", i, term),
			AppendedAt: time.Unix(1700000000, int64(i)),
		})
	}
	return logs
}

// op is one step applied both to a Store and to raft.InmemStore, the
// reference implementation whose behaviour raft is tested against.
type op struct {
	store  []*raft.Log
	delete [2]uint64
}

func (o op) apply(t *testing.T, s raft.LogStore) {
	t.Helper()
	if o.store != nil {
		if len(o.store) == 1 {
			require.NoError(t, s.StoreLog(o.store[0]))
		} else {
			require.NoError(t, s.StoreLogs(o.store))
		}
		return
	}
	require.NoError(t, s.DeleteRange(o.delete[0], o.delete[1]))
}

func TestLogStoreMatchesInmemStore(t *testing.T) {
	tests := []struct {
		name                string
		ops                 []op
		wantFirst, wantLast uint64
	}{
		{name: "empty"},
		{name: "one log", ops: []op{{store: mkLogs(1, 1, 1)}}, wantFirst: 1, wantLast: 1},
		{name: "batch", ops: []op{{store: mkLogs(1, 10, 1)}}, wantFirst: 1, wantLast: 10},
		{name: "appends", ops: []op{{store: mkLogs(1, 5, 1)}, {store: mkLogs(6, 6, 1)}, {store: mkLogs(7, 9, 2)}}, wantFirst: 1, wantLast: 9},
		{name: "after snapshot install starts high", ops: []op{{store: mkLogs(100, 110, 4)}}, wantFirst: 100, wantLast: 110},
		{name: "compact prefix", ops: []op{{store: mkLogs(1, 20, 1)}, {delete: [2]uint64{1, 15}}}, wantFirst: 16, wantLast: 20},
		{name: "truncate suffix", ops: []op{{store: mkLogs(1, 20, 1)}, {delete: [2]uint64{11, 20}}}, wantFirst: 1, wantLast: 10},
		{name: "truncate then overwrite with new term", ops: []op{{store: mkLogs(1, 20, 1)}, {delete: [2]uint64{11, 20}}, {store: mkLogs(11, 14, 2)}}, wantFirst: 1, wantLast: 14},
		{name: "delete all", ops: []op{{store: mkLogs(1, 20, 1)}, {delete: [2]uint64{1, 20}}}},
		{name: "delete all then store", ops: []op{{store: mkLogs(1, 20, 1)}, {delete: [2]uint64{1, 20}}, {store: mkLogs(30, 31, 3)}}, wantFirst: 30, wantLast: 31},
		{name: "delete beyond both ends", ops: []op{{store: mkLogs(5, 9, 1)}, {delete: [2]uint64{1, 1000}}}},
		{name: "overwrite same index", ops: []op{{store: mkLogs(1, 3, 1)}, {store: mkLogs(3, 3, 2)}}, wantFirst: 1, wantLast: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t, t.TempDir())
			ref := raft.NewInmemStore()
			for _, o := range tt.ops {
				o.apply(t, s)
				o.apply(t, ref)
			}
			requireSameLogs(t, ref, s)
			first, err := s.FirstIndex()
			require.NoError(t, err)
			last, err := s.LastIndex()
			require.NoError(t, err)
			require.Equal(t, tt.wantFirst, first, "first")
			require.Equal(t, tt.wantLast, last, "last")
		})
	}
}

// requireSameLogs checks that got holds exactly the logs of want, and
// reports the same bounds.
func requireSameLogs(t *testing.T, want, got raft.LogStore) {
	t.Helper()
	wf, err := want.FirstIndex()
	require.NoError(t, err)
	wl, err := want.LastIndex()
	require.NoError(t, err)
	gf, err := got.FirstIndex()
	require.NoError(t, err)
	gl, err := got.LastIndex()
	require.NoError(t, err)
	require.Equal(t, wf, gf, "first index")
	require.Equal(t, wl, gl, "last index")
	for i := uint64(0); i <= max(wl, 1)+2; i++ {
		var w, g raft.Log
		werr := want.GetLog(i, &w)
		gerr := got.GetLog(i, &g)
		if werr != nil {
			require.ErrorIs(t, gerr, raft.ErrLogNotFound, "index %d", i)
			continue
		}
		require.NoError(t, gerr, "index %d", i)
		requireLogEqual(t, w, g)
	}
}

func TestGetLogMissing(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	var l raft.Log
	require.ErrorIs(t, s.GetLog(1, &l), raft.ErrLogNotFound)
	require.NoError(t, s.StoreLogs(mkLogs(1, 3, 1)))
	require.ErrorIs(t, s.GetLog(4, &l), raft.ErrLogNotFound)
	require.NoError(t, s.GetLog(3, &l))
	require.Equal(t, uint64(3), l.Index)
}

func TestStoreLogsEmptyIsNoop(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	require.NoError(t, s.StoreLogs(nil))
	last, err := s.LastIndex()
	require.NoError(t, err)
	require.Zero(t, last)
}

func TestStableStore(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{name: "get missing is raft's not found", run: func(t *testing.T, s *Store) {
			_, err := s.Get([]byte("CurrentTerm"))
			require.ErrorIs(t, err, ErrKeyNotFound)
			// raft matches on the text, so it must be exact.
			require.Equal(t, "not found", err.Error())
		}},
		{name: "get uint64 missing is raft's not found", run: func(t *testing.T, s *Store) {
			v, err := s.GetUint64([]byte("LastVoteTerm"))
			require.Zero(t, v)
			require.Equal(t, "not found", err.Error())
		}},
		{name: "set get", run: func(t *testing.T, s *Store) {
			require.NoError(t, s.Set([]byte("LastVoteCand"), []byte("node-1")))
			v, err := s.Get([]byte("LastVoteCand"))
			require.NoError(t, err)
			require.Equal(t, []byte("node-1"), v)
		}},
		{name: "empty value is not missing", run: func(t *testing.T, s *Store) {
			require.NoError(t, s.Set([]byte("k"), nil))
			v, err := s.Get([]byte("k"))
			require.NoError(t, err)
			require.Empty(t, v)
		}},
		{name: "overwrite", run: func(t *testing.T, s *Store) {
			require.NoError(t, s.Set([]byte("k"), []byte("a")))
			require.NoError(t, s.Set([]byte("k"), []byte("b")))
			v, err := s.Get([]byte("k"))
			require.NoError(t, err)
			require.Equal(t, []byte("b"), v)
		}},
		{name: "uint64", run: func(t *testing.T, s *Store) {
			for _, want := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
				require.NoError(t, s.SetUint64([]byte("CurrentTerm"), want))
				got, err := s.GetUint64([]byte("CurrentTerm"))
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
		}},
		{name: "uint64 of a non uint64 value is corrupt", run: func(t *testing.T, s *Store) {
			require.NoError(t, s.Set([]byte("k"), []byte("abc")))
			_, err := s.GetUint64([]byte("k"))
			require.ErrorIs(t, err, ErrCorrupt)
		}},
		{name: "stable keys do not disturb log bounds", run: func(t *testing.T, s *Store) {
			require.NoError(t, s.StoreLogs(mkLogs(1, 2, 1)))
			require.NoError(t, s.Set([]byte{0xff, 0xff}, []byte("x")))
			require.NoError(t, s.Set(nil, []byte("y")))
			require.NoError(t, s.DeleteRange(0, ^uint64(0)))
			v, err := s.Get([]byte{0xff, 0xff})
			require.NoError(t, err)
			require.Equal(t, []byte("x"), v)
			last, err := s.LastIndex()
			require.NoError(t, err)
			require.Zero(t, last)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, openTestStore(t, t.TempDir()))
		})
	}
}

func TestRestartPersists(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: testLogger(t)})
	require.NoError(t, err)
	ref := raft.NewInmemStore()
	for _, o := range []op{{store: mkLogs(1, 50, 1)}, {delete: [2]uint64{1, 10}}, {delete: [2]uint64{41, 50}}, {store: mkLogs(41, 45, 2)}} {
		o.apply(t, s)
		o.apply(t, ref)
	}
	require.NoError(t, s.SetUint64([]byte("CurrentTerm"), 2))
	require.NoError(t, s.Set([]byte("LastVoteCand"), []byte("n2")))
	require.NoError(t, s.Close())

	s = openTestStore(t, dir)
	requireSameLogs(t, ref, s)
	term, err := s.GetUint64([]byte("CurrentTerm"))
	require.NoError(t, err)
	require.Equal(t, uint64(2), term)
	cand, err := s.Get([]byte("LastVoteCand"))
	require.NoError(t, err)
	require.Equal(t, []byte("n2"), cand)
}

func TestClosed(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "close is idempotent")
	var l raft.Log
	_, err = s.FirstIndex()
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.LastIndex()
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.GetLog(1, &l), ErrClosed)
	require.ErrorIs(t, s.StoreLog(&raft.Log{Index: 1}), ErrClosed)
	require.ErrorIs(t, s.DeleteRange(1, 2), ErrClosed)
	require.ErrorIs(t, s.Set([]byte("k"), nil), ErrClosed)
	_, err = s.Get([]byte("k"))
	require.ErrorIs(t, err, ErrClosed)
}

// TestConcurrentAppendAndCompact mirrors raft: the leader loop appends
// while the snapshot goroutine compacts the prefix.
func TestConcurrentAppendAndCompact(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	require.NoError(t, s.StoreLogs(mkLogs(1, 10, 1)))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := uint64(11); i <= 200; i += 10 {
			if err := s.StoreLogs(mkLogs(i, i+9, 1)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := uint64(5); i <= 100; i += 5 {
			if err := s.DeleteRange(1, i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	// Whatever the interleaving, the cached bounds must match the database.
	first, err := s.FirstIndex()
	require.NoError(t, err)
	last, err := s.LastIndex()
	require.NoError(t, err)
	wantFirst, wantLast, err := s.scanBounds()
	require.NoError(t, err)
	require.Equal(t, wantFirst, first)
	require.Equal(t, wantLast, last)
	require.Equal(t, uint64(200), last)
}
