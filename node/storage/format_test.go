package storage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecideFormat(t *testing.T) {
	mine := &format{Version: formatVersion, ClusterID: "c1", DriveID: "d1", NodeID: "n1"}
	v1 := &format{Version: formatVersionV1, DriveID: "d1"}
	opts := func(create, reassign bool) FormatOptions {
		return FormatOptions{ClusterID: "c1", NodeID: "n1", Create: create, Reassign: reassign}
	}
	tests := []struct {
		name   string
		cur    *format
		opts   FormatOptions
		want   format
		write  bool
		err    error // nil with errAny false: success
		errAny bool
	}{
		{"own drive", mine, opts(false, false), *mine, false, nil, false},
		{"own drive with create", mine, opts(true, false), *mine, false, nil, false},
		{"unformatted", nil, opts(false, false), format{}, false, ErrUnformatted, false},
		{"unformatted with create", nil, opts(true, false), format{Version: formatVersion, ClusterID: "c1", DriveID: "new", NodeID: "n1"}, true, nil, false},
		{"other cluster", &format{Version: formatVersion, ClusterID: "c2", DriveID: "d1", NodeID: "n1"}, opts(false, false), format{}, false, ErrOtherCluster, false},
		{"other cluster with create and reassign", &format{Version: formatVersion, ClusterID: "c2", DriveID: "d1", NodeID: "n1"}, opts(true, true), format{}, false, ErrOtherCluster, false},
		{"other node", &format{Version: formatVersion, ClusterID: "c1", DriveID: "d1", NodeID: "n2"}, opts(true, false), format{}, false, ErrOtherNode, false},
		{"other node reassigned", &format{Version: formatVersion, ClusterID: "c1", DriveID: "d1", NodeID: "n2"}, opts(false, true), *mine, true, nil, false},
		{"old format", v1, opts(false, false), format{}, false, ErrOldFormat, false},
		{"old format adopted keeps drive id", v1, opts(true, false), *mine, true, nil, false},
		{"future version", &format{Version: formatVersion + 1, DriveID: "d1"}, opts(true, true), format{}, false, nil, true},
		{"empty drive id", &format{Version: formatVersion, ClusterID: "c1", NodeID: "n1"}, opts(true, true), format{}, false, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, write, err := decideFormat(tc.cur, tc.opts, "new")
			switch {
			case tc.err != nil:
				require.ErrorIs(t, err, tc.err)
				return
			case tc.errAny:
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.write, write)
		})
	}
}

// New refuses every drive that is not this node's drive of this cluster,
// and writes nothing into it.
func TestNewRefusesForeignDrives(t *testing.T) {
	writeFormat := func(t *testing.T, f format) string {
		dir := t.TempDir()
		b, err := json.Marshal(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, formatFile), b, 0o600))
		return dir
	}
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		err  error
	}{
		{"unformatted", func(t *testing.T) string { return t.TempDir() }, ErrUnformatted},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone") }, ErrUnformatted},
		{"other cluster", func(t *testing.T) string {
			return writeFormat(t, format{Version: formatVersion, ClusterID: "other", DriveID: "d", NodeID: "n"})
		}, ErrOtherCluster},
		{"other node", func(t *testing.T) string {
			return writeFormat(t, format{Version: formatVersion, ClusterID: testCluster, DriveID: "d", NodeID: "m"})
		}, ErrOtherNode},
		{"old format", func(t *testing.T) string { return writeFormat(t, format{Version: formatVersionV1, DriveID: "d"}) }, ErrOldFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			before := listTree(t, dir)
			_, err := New(Config{NodeID: "n", Addr: "a", ClusterID: testCluster, Drives: []string{dir}, Logger: testLogger(t)})
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, before, listTree(t, dir), "a refused drive is left as it was")
		})
	}
}

// FormatDrive formats, adopts and reassigns; New then opens the drive
// without FormatDrives, and its shards keep their drive ID.
func TestFormatDriveThenOpen(t *testing.T) {
	dir := t.TempDir()
	v1 := format{Version: formatVersionV1, DriveID: "legacy"}
	b, err := json.Marshal(v1)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, formatFile), b, 0o600))

	id, err := FormatDrive(nil, dir, FormatOptions{ClusterID: testCluster, NodeID: "n1", Create: true}, testLogger(t))
	require.NoError(t, err)
	require.Equal(t, "legacy", id)
	s, err := New(Config{NodeID: "n1", Addr: "a", ClusterID: testCluster, Drives: []string{dir}, Logger: testLogger(t)})
	require.NoError(t, err)
	require.Equal(t, []string{"legacy"}, s.DriveIDs())
	require.NoError(t, s.Close())

	// Moved to node n2: refused until reassigned.
	_, err = New(Config{NodeID: "n2", Addr: "a", ClusterID: testCluster, Drives: []string{dir}, Logger: testLogger(t)})
	require.ErrorIs(t, err, ErrOtherNode)
	_, err = FormatDrive(nil, dir, FormatOptions{ClusterID: testCluster, NodeID: "n2", Create: true}, testLogger(t))
	require.ErrorIs(t, err, ErrOtherNode)
	_, err = FormatDrive(nil, dir, FormatOptions{ClusterID: testCluster, NodeID: "n2", Reassign: true}, testLogger(t))
	require.NoError(t, err)
	s, err = New(Config{NodeID: "n2", Addr: "a", ClusterID: testCluster, Drives: []string{dir}, Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// Never to another cluster.
	_, err = FormatDrive(nil, dir, FormatOptions{ClusterID: "other", NodeID: "n2", Create: true, Reassign: true}, testLogger(t))
	require.ErrorIs(t, err, ErrOtherCluster)

	var got format
	b, err = os.ReadFile(filepath.Join(dir, formatFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, format{Version: formatVersion, ClusterID: testCluster, DriveID: "legacy", NodeID: "n2"}, got)
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}
