package crashfs_test

import (
	"bytes"
	"errors"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/crashfs"
)

// seeds are enough random seeds to see every outcome of a choice.
const seeds = 64

// contents reads name, reporting absent when it does not exist.
func contents(t *testing.T, f vfs.FS, name string) ([]byte, bool) {
	t.Helper()
	b, err := vfs.ReadFile(f, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	require.NoError(t, err)
	return b, true
}

func write(t *testing.T, f vfs.FS, name string, b []byte, sync bool) {
	t.Helper()
	w, err := f.Create(name)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	if sync {
		require.NoError(t, w.Sync())
	}
	require.NoError(t, w.Close())
}

func TestSyncedDataSurvives(t *testing.T) {
	f := crashfs.New()
	require.NoError(t, f.MkdirAll("/d"))
	require.NoError(t, f.SyncDir("/"))
	write(t, f, "/d/a", []byte("durable"), true)
	require.NoError(t, f.SyncDir("/d"))
	for seed := range uint64(seeds) {
		got, ok := contents(t, f.Crash(seed), "/d/a")
		require.True(t, ok, "seed %d", seed)
		require.Equal(t, "durable", string(got), "seed %d", seed)
	}
}

func TestUnsyncedDataMayBeLost(t *testing.T) {
	f := crashfs.New()
	w, err := f.Create("/a")
	require.NoError(t, err)
	_, err = w.Write([]byte("head"))
	require.NoError(t, err)
	require.NoError(t, w.Sync())
	_, err = w.Write([]byte("-tail"))
	require.NoError(t, err)
	require.NoError(t, f.SyncDir("/"))

	got, _ := contents(t, f.Crash(crashfs.SeedDurable), "/a")
	require.Equal(t, "head", string(got))
	got, _ = contents(t, f.Crash(crashfs.SeedEverything), "/a")
	require.Equal(t, "head-tail", string(got))

	seen := map[string]bool{}
	for seed := range uint64(seeds) {
		got, ok := contents(t, f.Crash(seed), "/a")
		require.True(t, ok)
		require.True(t, bytes.HasPrefix(got, []byte("head")), "seed %d lost synced bytes: %q", seed, got)
		tail := got[4:]
		switch {
		case len(tail) == 0:
			seen["dropped"] = true
		case string(tail) == "-tail":
			seen["kept"] = true
		case bytes.Equal(tail, make([]byte, 5)):
			seen["zeroed"] = true
		case bytes.HasPrefix([]byte("-tail"), tail):
			seen["cut"] = true
		default:
			t.Fatalf("seed %d: impossible contents %q", seed, got)
		}
	}
	require.Len(t, seen, 4, "outcomes seen: %v", seen)
}

func TestEntries(t *testing.T) {
	tests := []struct {
		name string
		// setup runs on a filesystem holding /d (durable) with /d/old
		// ("old", durable) and returns the expected outcomes: each maps
		// a path to its contents, "" for absent.
		setup func(t *testing.T, f *crashfs.FS)
		want  []map[string]string
	}{
		{"create without dir sync", func(t *testing.T, f *crashfs.FS) {
			write(t, f, "/d/new", []byte("new"), true)
		}, []map[string]string{{"/d/new": ""}, {"/d/new": "new"}}},
		{"create with dir sync", func(t *testing.T, f *crashfs.FS) {
			write(t, f, "/d/new", []byte("new"), true)
			require.NoError(t, f.SyncDir("/d"))
		}, []map[string]string{{"/d/new": "new"}}},
		{"rename over without dir sync", func(t *testing.T, f *crashfs.FS) {
			write(t, f, "/d/tmp", []byte("new"), true)
			require.NoError(t, f.SyncDir("/d"))
			require.NoError(t, f.Rename("/d/tmp", "/d/old"))
		}, []map[string]string{
			{"/d/old": "old", "/d/tmp": "new"},
			{"/d/old": "new", "/d/tmp": ""},
			{"/d/old": "old", "/d/tmp": ""},
			{"/d/old": "new", "/d/tmp": "new"},
		}},
		{"rename over with dir sync", func(t *testing.T, f *crashfs.FS) {
			write(t, f, "/d/tmp", []byte("new"), true)
			require.NoError(t, f.Rename("/d/tmp", "/d/old"))
			require.NoError(t, f.SyncDir("/d"))
		}, []map[string]string{{"/d/old": "new", "/d/tmp": ""}}},
		{"remove without dir sync", func(t *testing.T, f *crashfs.FS) {
			require.NoError(t, f.Remove("/d/old"))
		}, []map[string]string{{"/d/old": ""}, {"/d/old": "old"}}},
		{"remove with dir sync", func(t *testing.T, f *crashfs.FS) {
			require.NoError(t, f.Remove("/d/old"))
			require.NoError(t, f.SyncDir("/d"))
		}, []map[string]string{{"/d/old": ""}}},
		{"mkdir without parent sync", func(t *testing.T, f *crashfs.FS) {
			require.NoError(t, f.MkdirAll("/d/sub"))
			write(t, f, "/d/sub/x", []byte("x"), true)
			require.NoError(t, f.SyncDir("/d/sub"))
		}, []map[string]string{{"/d/sub/x": ""}, {"/d/sub/x": "x"}}},
		{"syncfs makes every unsynced byte and entry durable", func(t *testing.T, f *crashfs.FS) {
			require.NoError(t, f.MkdirAll("/d/sub"))
			write(t, f, "/d/sub/x", []byte("x"), false)
			require.NoError(t, f.Remove("/d/old"))
			require.NoError(t, f.SyncFS("/d"))
		}, []map[string]string{{"/d/old": "", "/d/sub/x": "x"}}},
		{"rename across directories, target synced", func(t *testing.T, f *crashfs.FS) {
			require.NoError(t, f.MkdirAll("/t"))
			require.NoError(t, f.SyncDir("/"))
			write(t, f, "/t/x", []byte("new"), true)
			require.NoError(t, f.SyncDir("/t"))
			require.NoError(t, f.Rename("/t/x", "/d/old"))
			require.NoError(t, f.SyncDir("/d"))
		}, []map[string]string{
			{"/d/old": "new", "/t/x": ""},
			{"/d/old": "new", "/t/x": "new"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := crashfs.New()
			require.NoError(t, f.MkdirAll("/d"))
			require.NoError(t, f.SyncDir("/"))
			write(t, f, "/d/old", []byte("old"), true)
			require.NoError(t, f.SyncDir("/d"))
			tc.setup(t, f)

			seen := make([]bool, len(tc.want))
			for seed := range uint64(seeds) {
				c := f.Crash(seed)
				got := map[string]string{}
				for name := range tc.want[0] {
					b, _ := contents(t, c, name)
					got[name] = string(b)
				}
				i := indexOf(tc.want, got)
				require.GreaterOrEqual(t, i, 0, "seed %d left %v", seed, got)
				seen[i] = true
			}
			for i, ok := range seen {
				require.True(t, ok, "outcome %v never seen", tc.want[i])
			}
		})
	}
}

func indexOf(want []map[string]string, got map[string]string) int {
	for i, w := range want {
		match := true
		for k, v := range w {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return i
		}
	}
	return -1
}

func TestCrashIsDeterministicAndLeavesTheOriginal(t *testing.T) {
	f := crashfs.New()
	for _, n := range []string{"/a", "/b", "/c", "/d"} {
		write(t, f, n, []byte(n+" data"), false)
	}
	snapshot := func(c vfs.FS) map[string]string {
		out := map[string]string{}
		for _, n := range []string{"/a", "/b", "/c", "/d"} {
			b, ok := contents(t, c, n)
			if ok {
				out[n] = string(b)
			}
		}
		return out
	}
	for seed := range uint64(seeds) {
		c := f.Crash(seed)
		require.Equal(t, snapshot(c), snapshot(f.Crash(seed)), "seed %d", seed)
		// What survived a crash is durable: a second crash keeps it all.
		require.Equal(t, snapshot(c), snapshot(c.Crash(crashfs.SeedDurable)), "seed %d", seed)
	}
	require.Len(t, snapshot(f), 4, "crash changed the original")
}

func TestStopAfter(t *testing.T) {
	f := crashfs.New()
	write(t, f, "/a", []byte("a"), true)
	require.Equal(t, 3, f.Ops(), "create, write, sync: %v", f.Log())

	f.StopAfter(2)
	w, err := f.Create("/b")
	require.NoError(t, err)
	_, err = w.Write([]byte("b"))
	require.NoError(t, err, "the n-th operation still runs")
	require.True(t, f.Stopped())
	for name, call := range map[string]func() error{
		"sync":   w.Sync,
		"rename": func() error { return f.Rename("/b", "/c") },
		"stat":   func() error { _, err := f.Stat("/a"); return err },
		"open":   func() error { _, err := f.Open("/a"); return err },
		"readdir": func() error {
			_, err := f.ReadDir("/")
			return err
		},
		"mkdir": func() error { return f.MkdirAll("/x") },
	} {
		require.ErrorIs(t, call(), crashfs.ErrStopped, name)
	}
	require.NoError(t, w.Close())

	c := f.Crash(crashfs.SeedEverything)
	got, _ := contents(t, c, "/b")
	require.Equal(t, "b", string(got), "the write before the cut reached the page cache")
	_, ok := contents(t, c, "/c")
	require.False(t, ok, "the rename after the cut never ran")
	require.False(t, c.Stopped())
}

func TestPOSIXErrors(t *testing.T) {
	f := crashfs.New()
	write(t, f, "/a", []byte("a"), true)
	_, err := f.Create("/a")
	require.ErrorIs(t, err, fs.ErrExist)
	_, err = f.Open("/missing")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, f.Remove("/missing"), fs.ErrNotExist)
	require.ErrorIs(t, f.Rename("/missing", "/b"), fs.ErrNotExist)
	_, err = f.Create("/nodir/a")
	require.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, f.MkdirAll("/d/e"))
	require.Error(t, f.Remove("/d"), "directory not empty")
	ents, err := f.ReadDir("/")
	require.NoError(t, err)
	require.Len(t, ents, 2)
	require.Equal(t, "a", ents[0].Name())
	require.True(t, ents[1].IsDir())

	r, err := f.Open("/a")
	require.NoError(t, err)
	_, err = r.Write([]byte("x"))
	require.Error(t, err, "files from Open are read-only")
	require.NoError(t, r.Close())
}

// An unnamed file is never found after a crash; once linked it is an entry
// like any other: durable after SyncDir of its directory, not before.
func TestTempFiles(t *testing.T) {
	newDrive := func(t *testing.T) *crashfs.FS {
		f := crashfs.New()
		require.NoError(t, f.MkdirAll("/d"))
		require.NoError(t, f.SyncDir("/"))
		return f
	}
	tempWith := func(t *testing.T, f *crashfs.FS, b string) vfs.TempFile {
		w, err := f.CreateTemp("/d")
		require.NoError(t, err)
		_, err = w.Write([]byte(b))
		require.NoError(t, err)
		require.NoError(t, w.Sync())
		return w
	}

	t.Run("unnamed files vanish", func(t *testing.T) {
		f := newDrive(t)
		w := tempWith(t, f, "x")
		ents, err := f.ReadDir("/d")
		require.NoError(t, err)
		require.Empty(t, ents)
		require.NoError(t, f.SyncDir("/d"))
		for _, seed := range []uint64{crashfs.SeedDurable, crashfs.SeedEverything} {
			ents, err := f.Crash(seed).ReadDir("/d")
			require.NoError(t, err)
			require.Empty(t, ents, "seed %d", seed)
		}
		require.NoError(t, w.Close())
	})

	t.Run("a link is durable once its directory is synced", func(t *testing.T) {
		f := newDrive(t)
		w := tempWith(t, f, "linked")
		require.NoError(t, w.Link("/d/a"))
		require.NoError(t, w.Close())
		got, ok := contents(t, f, "/d/a")
		require.True(t, ok)
		require.Equal(t, "linked", string(got))
		_, ok = contents(t, f.Crash(crashfs.SeedDurable), "/d/a")
		require.False(t, ok, "an unsynced link may be lost")
		_, ok = contents(t, f.Crash(crashfs.SeedEverything), "/d/a")
		require.True(t, ok, "an unsynced link may be kept")

		require.NoError(t, f.SyncDir("/d"))
		for seed := range uint64(seeds) {
			got, ok := contents(t, f.Crash(seed), "/d/a")
			require.True(t, ok, "seed %d", seed)
			require.Equal(t, "linked", string(got), "seed %d", seed)
		}
	})

	t.Run("link never replaces", func(t *testing.T) {
		f := newDrive(t)
		write(t, f, "/d/a", []byte("old"), true)
		w := tempWith(t, f, "new")
		require.ErrorIs(t, w.Link("/d/a"), fs.ErrExist)
		require.ErrorIs(t, w.Link("/missing/a"), fs.ErrNotExist)
		require.NoError(t, w.Close())
		require.ErrorIs(t, w.Link("/d/b"), fs.ErrClosed, "only an open file can be linked")
		got, _ := contents(t, f, "/d/a")
		require.Equal(t, "old", string(got))
		_, err := f.CreateTemp("/missing")
		require.ErrorIs(t, err, fs.ErrNotExist)
	})

	t.Run("createtemp and link count as mutating operations", func(t *testing.T) {
		f := newDrive(t)
		base := f.Ops()
		w := tempWith(t, f, "x")
		f.StopAfter(1)
		require.NoError(t, w.Link("/d/a"))
		require.Equal(t, 4, f.Ops()-base, "createtemp, write, sync, link: %v", f.Log())
		require.ErrorIs(t, w.Link("/d/b"), crashfs.ErrStopped)
		_, err := f.CreateTemp("/d")
		require.ErrorIs(t, err, crashfs.ErrStopped)
	})
}
