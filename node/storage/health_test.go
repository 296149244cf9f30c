package storage

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/cairn-io/cairn/node/vfs"
	"github.com/cairn-io/cairn/node/vfs/faultfs"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lastDrives returns the drives of the last heartbeat received after
// the call, by drive ID.
func lastDrives(t *testing.T, live *fakeMeta, cond func(map[string]*metapb.Drive) bool) map[string]*metapb.Drive {
	t.Helper()
	var out map[string]*metapb.Drive
	require.Eventually(t, func() bool {
		got := live.received()
		if len(got) == 0 {
			return false
		}
		out = map[string]*metapb.Drive{}
		for _, d := range got[len(got)-1].GetDrives() {
			out[d.GetDriveId()] = d
		}
		return cond(out)
	}, 20*time.Second, time.Millisecond)
	return out
}

func TestFaultyDriveFromIOErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		faulty bool
	}{
		{"EIO", syscall.EIO, true},
		{"read-only file system", syscall.EROFS, true},
		{"not an I/O error", faultfs.ErrInjected, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			live, liveAddr := startFakeMeta(t)
			ffs := faultfs.New(vfs.Default)
			good, bad := t.TempDir(), t.TempDir()
			clock := &fakeClock{now: time.Unix(1e6, 0)}
			e := startServer(t, Config{Drives: []string{good, bad}, FS: ffs, MetaAddrs: []string{liveAddr},
				HeartbeatInterval: time.Millisecond, ScrubInterval: -1, Now: clock.Now})
			ctx := t.Context()
			e.srv.Start(ctx)
			goodID, badID := e.srv.DriveIDs()[0], e.srv.DriveIDs()[1]
			data := randBytes(4, 10000)
			_, err := writeShard(ctx, e.client, ref(badID, "x.0"), 4096, data, 10000)
			require.NoError(t, err)

			ffs.Inject(faultfs.Rule{Op: faultfs.OpReadAt, PathContains: filepath.Join(bad, shardsDir), Err: tc.err})
			for i := range DefaultFaultErrors {
				faulty, _ := e.srv.DriveFault(badID)
				require.False(t, faulty, "faulty after %d errors", i)
				_, err := readShard(ctx, e.client, ref(badID, "x.0"), 0, 0)
				requireCode(t, err, codes.Internal)
				clock.Add(time.Second)
			}
			faulty, reason := e.srv.DriveFault(badID)
			require.Equal(t, tc.faulty, faulty)
			if !tc.faulty {
				_, err = writeShard(ctx, e.client, ref(badID, "y.0"), 4096, data, 10000)
				require.NoError(t, err)
				return
			}
			require.Contains(t, reason, "I/O errors")
			require.NotContains(t, reason, bad, "the reason names no local path")

			// No new shards on the faulty drive; the other one takes them.
			_, err = writeShard(ctx, e.client, ref(badID, "y.0"), 4096, data, 10000)
			requireCode(t, err, codes.FailedPrecondition)
			_, err = writeShard(ctx, e.client, ref(goodID, "y.0"), 4096, data, 10000)
			require.NoError(t, err)

			drives := lastDrives(t, live, func(d map[string]*metapb.Drive) bool {
				return d[badID].GetState() == metapb.DriveState_DRIVE_FAILED
			})
			require.Equal(t, reason, drives[badID].GetFault())
			require.Equal(t, metapb.DriveState_DRIVE_ACTIVE, drives[goodID].GetState())

			// I/O faults are sticky: the format check still passes, but
			// only a restart (operator action) clears them.
			ffs.Clear()
			e.srv.checkDrives()
			faulty, _ = e.srv.DriveFault(badID)
			require.True(t, faulty)
		})
	}
}

func TestFaultWindow(t *testing.T) {
	ffs := faultfs.New(vfs.Default)
	root := t.TempDir()
	clock := &fakeClock{now: time.Unix(1e6, 0)}
	e := startServer(t, Config{Drives: []string{root}, FS: ffs, Now: clock.Now, FaultErrors: 2, FaultWindow: time.Minute})
	ctx := t.Context()
	id := e.srv.DriveIDs()[0]
	_, err := writeShard(ctx, e.client, ref(id, "x.0"), 4096, randBytes(1, 100), 100)
	require.NoError(t, err)
	ffs.Inject(faultfs.Rule{Op: faultfs.OpReadAt, Err: syscall.EIO})
	read := func() {
		_, err := readShard(ctx, e.client, ref(id, "x.0"), 0, 0)
		requireCode(t, err, codes.Internal)
	}
	read()
	clock.Add(2 * time.Minute)
	read()
	faulty, _ := e.srv.DriveFault(id)
	require.False(t, faulty, "two errors two minutes apart are not two within a minute")
	clock.Add(30 * time.Second)
	read()
	faulty, _ = e.srv.DriveFault(id)
	require.True(t, faulty)
}

func TestFaultyDriveVanished(t *testing.T) {
	live, liveAddr := startFakeMeta(t)
	good, gone := t.TempDir(), filepath.Join(t.TempDir(), "drive")
	e := startServer(t, Config{Drives: []string{good, gone}, MetaAddrs: []string{liveAddr},
		HeartbeatInterval: time.Millisecond, ScrubInterval: -1})
	ctx := t.Context()
	e.srv.Start(ctx)
	goneID := e.srv.DriveIDs()[1]
	format, err := os.ReadFile(filepath.Join(gone, formatFile))
	require.NoError(t, err)

	require.NoError(t, os.RemoveAll(gone))
	// A write finds it at once, not only the next heartbeat.
	_, err = writeShard(ctx, e.client, ref(goneID, "x.0"), 4096, randBytes(1, 100), 100)
	requireCode(t, err, codes.FailedPrecondition)
	// (A check during the removal may see a part of it gone first.)
	drives := lastDrives(t, live, func(d map[string]*metapb.Drive) bool {
		return d[goneID].GetFault() == "drive check: root directory is missing"
	})
	require.Equal(t, metapb.DriveState_DRIVE_FAILED, drives[goneID].GetState())

	// An empty directory in its place is not the drive.
	require.NoError(t, os.MkdirAll(filepath.Join(gone, shardsDir), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(gone, tmpDir), 0o755))
	drives = lastDrives(t, live, func(d map[string]*metapb.Drive) bool {
		return d[goneID].GetFault() == "drive check: format.json is missing"
	})
	require.Equal(t, metapb.DriveState_DRIVE_FAILED, drives[goneID].GetState())

	// Nor is another drive's format.
	other := []byte(`{"version":1,"drive_id":"someone-else"}`)
	require.NoError(t, os.WriteFile(filepath.Join(gone, formatFile), other, 0o644))
	lastDrives(t, live, func(d map[string]*metapb.Drive) bool {
		return d[goneID].GetState() == metapb.DriveState_DRIVE_FAILED && d[goneID].GetFault() != "drive check: format.json is missing"
	})

	// Its own format back (a remount): the drive recovers.
	require.NoError(t, os.WriteFile(filepath.Join(gone, formatFile), format, 0o644))
	lastDrives(t, live, func(d map[string]*metapb.Drive) bool {
		return d[goneID].GetState() == metapb.DriveState_DRIVE_ACTIVE && d[goneID].GetFault() == ""
	})
	_, err = writeShard(ctx, e.client, ref(goneID, "x.0"), 4096, randBytes(1, 100), 100)
	require.NoError(t, err)
}

func TestFaultyDriveFormatUnreadable(t *testing.T) {
	live, liveAddr := startFakeMeta(t)
	ffs := faultfs.New(vfs.Default)
	a, b := t.TempDir(), t.TempDir()
	e := startServer(t, Config{Drives: []string{a, b}, FS: ffs, MetaAddrs: []string{liveAddr},
		HeartbeatInterval: time.Millisecond, ScrubInterval: -1})
	bID := e.srv.DriveIDs()[1]
	e.srv.Start(t.Context())
	ffs.Inject(faultfs.Rule{Op: faultfs.OpOpen, PathContains: filepath.Join(b, formatFile), Err: syscall.EIO})
	drives := lastDrives(t, live, func(d map[string]*metapb.Drive) bool {
		return d[bID].GetState() == metapb.DriveState_DRIVE_FAILED
	})
	require.Contains(t, drives[bID].GetFault(), "input/output error")
	require.Equal(t, metapb.DriveState_DRIVE_ACTIVE, drives[e.srv.DriveIDs()[0]].GetState())
}
