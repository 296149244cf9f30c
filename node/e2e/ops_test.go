package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runCairn runs the binary to completion (bounded by ctx) and returns its
// combined output and exit error.
func runCairn(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cairnBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A storage process refuses, and exits, on a directory that is not its
// drive of its cluster.
func TestOpsDriveRefusal(t *testing.T) {
	ctx := ctxT(t, time.Minute)
	dir := t.TempDir()
	drive := filepath.Join(dir, "disk")
	require.NoError(t, os.Mkdir(drive, 0o700))
	server := func(cluster, node string) (string, error) {
		return runCairn(ctx, []string{"CAIRN_INSECURE_INTERNAL=true"}, "server", "--roles", "storage", "--node-id", node, "--cluster-id", cluster,
			"--grpc-addr", "127.0.0.1:0", "--meta-addrs", "127.0.0.1:1", "--data-dir", dir, "--drives", drive)
	}
	// Unformatted (a disk that failed to mount): refused, nothing written.
	out, err := server("c1", "s1")
	require.Error(t, err, out)
	require.Contains(t, out, "drive is not formatted")
	ents, err := os.ReadDir(drive)
	require.NoError(t, err)
	require.Empty(t, ents, "a refused directory stays empty")

	out, err = runCairn(ctx, nil, "admin", "drive", "format", "--cluster-id", "c1", "--node-id", "s1", drive)
	require.NoError(t, err, out)

	out, err = server("c2", "s1")
	require.Error(t, err, out)
	require.Contains(t, out, "drive belongs to another cluster")

	out, err = server("c1", "s2")
	require.Error(t, err, out)
	require.Contains(t, out, "drive belongs to another node")

	// --format-drives formats new directories but never takes a drive of
	// another cluster.
	out, err = runCairn(ctx, []string{"CAIRN_INSECURE_INTERNAL=true"}, "server", "--roles", "storage", "--node-id", "s1", "--cluster-id", "c2", "--format-drives",
		"--grpc-addr", "127.0.0.1:0", "--meta-addrs", "127.0.0.1:1", "--data-dir", dir, "--drives", drive)
	require.Error(t, err, out)
	require.Contains(t, out, "drive belongs to another cluster")
}

type opsStatus struct {
	Healthy      bool     `json:"healthy"`
	Problems     []string `json:"problems"`
	Leader       string   `json:"leader"`
	BodiesAtRisk uint64   `json:"bodies_at_risk"`
	Voters       []struct {
		ID        string `json:"id"`
		Reachable bool   `json:"reachable"`
		Version   string `json:"version"`
	} `json:"voters"`
	Nodes []struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Version string `json:"version"`
		Drives  []struct {
			ID            string `json:"id"`
			State         string `json:"state"`
			CapacityBytes uint64 `json:"capacity_bytes"`
		} `json:"drives"`
	} `json:"nodes"`
}

func (c *cluster) opsStatus(ctx context.Context) (opsStatus, bool, error) {
	cmd := exec.CommandContext(ctx, cairnBin, "admin", "status", "--json", "--timeout", "10s")
	cmd.Env = append(os.Environ(), "CAIRN_META_ADDRS="+strings.Join(c.layout.MetaAddrs(), ","))
	cmd.Env = append(cmd.Env, c.adminEnv()...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	runErr := cmd.Run()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return opsStatus{}, false, runErr
	}
	var st opsStatus
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return opsStatus{}, false, fmt.Errorf("status output %q (%s): %w", out.String(), errOut.String(), err)
	}
	return st, runErr == nil, nil
}

// waitStatus polls `cairn admin status --json` until ok accepts it.
func (c *cluster) waitStatus(ctx context.Context, ok func(opsStatus, bool) bool) (opsStatus, bool) {
	c.t.Helper()
	var last opsStatus
	var lastExit0 bool
	for {
		st, exit0, err := c.opsStatus(ctx)
		if err == nil {
			last, lastExit0 = st, exit0
			if ok(st, exit0) {
				return st, exit0
			}
		}
		select {
		case <-ctx.Done():
			require.Failf(c.t, "status never as wanted", "last: %+v (exit 0: %v), err %v", last, lastExit0, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// One cluster for the operator-facing checks: private file modes after
// writes, the master key check, and admin status before and after a
// storage node dies.
func TestOpsCluster(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 4*time.Minute)
	c.mustCreateBucket(ctx, "ops")
	for i := range 5 {
		require.NoError(t, c.put(ctx, "ops", fmt.Sprintf("k%d", i), body(uint64(i), 300<<10)))
	}

	t.Run("file modes", func(t *testing.T) {
		files := 0
		for _, p := range c.layout.Procs {
			root := filepath.Join(c.layout.Dir, p.DataDir)
			require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						return nil // a temp file renamed away under us
					}
					return err
				}
				fi, err := d.Info()
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				require.NoError(t, err)
				if fi.Mode()&fs.ModeSymlink != 0 {
					return nil
				}
				require.Zerof(t, fi.Mode().Perm()&0o077, "%s has mode %v", path, fi.Mode().Perm())
				if !d.IsDir() {
					files++
				}
				return nil
			}))
		}
		// Shards, Pebble and Raft files of every node were checked.
		require.Greater(t, files, 9*3)
	})

	t.Run("master key mismatch", func(t *testing.T) {
		other := "b3RoZXItbWFzdGVyLWtleS0zMmJ5dGVzLTAxMjM0NTY="
		env := append([]string{"CAIRN_META_ADDRS=" + strings.Join(c.layout.MetaAddrs(), ",")}, c.adminEnv()...)
		out, err := runCairn(ctx, append(env, "CAIRN_MASTER_KEY="+other), "admin", "user", "create", "--name", "wrongkey")
		require.Error(t, err, out)
		require.Contains(t, out, "master key does not match")
		require.NotContains(t, out, other)
		out, err = runCairn(ctx, env, "admin", "user", "list")
		require.NoError(t, err, out)
		require.NotContains(t, out, "wrongkey", "no user was created")
		// A gateway with the other key exits at start.
		out, err = runCairn(ctx, append([]string{"CAIRN_ACCESS_KEY=" + testAccessKey, "CAIRN_SECRET_KEY=" + testSecretKey, "CAIRN_MASTER_KEY=" + other}, c.procEnv("gateway")...),
			"server", "--roles", "gateway", "--meta-addrs", strings.Join(c.layout.MetaAddrs(), ","), "--s3-addr", "127.0.0.1:0")
		require.Error(t, err, out)
		require.Contains(t, out, "master key does not match")
		require.NotContains(t, out, other)
		// The right key still works.
		u := c.createUser(ctx, "rightkey")
		require.NotEmpty(t, u.accessKey)
	})

	t.Run("status", func(t *testing.T) {
		storage := c.layout.Names("storage")
		st, _ := c.waitStatus(ctx, func(st opsStatus, exit0 bool) bool { return exit0 && st.Healthy && len(st.Nodes) == len(storage) })
		require.NotEmpty(t, st.Leader)
		require.Zero(t, st.BodiesAtRisk)
		require.Len(t, st.Voters, len(c.layout.Names("meta")))
		for _, v := range st.Voters {
			require.True(t, v.Reachable)
			require.NotEmpty(t, v.Version)
		}
		for i, n := range st.Nodes {
			require.Equal(t, storage[i], n.ID)
			require.Equal(t, "up", n.State)
			require.NotEmpty(t, n.Version)
			require.Len(t, n.Drives, 1)
			require.Equal(t, "active", n.Drives[0].State)
			require.NotEmpty(t, n.Drives[0].ID)
			require.NotZero(t, n.Drives[0].CapacityBytes)
		}

		dead := storage[len(storage)-1]
		require.NoError(t, c.procs.Kill(dead))
		st, exit0 := c.waitStatus(ctx, func(st opsStatus, _ bool) bool {
			for _, n := range st.Nodes {
				if n.ID == dead {
					return n.State == "down"
				}
			}
			return false
		})
		require.False(t, exit0, "an unhealthy cluster exits non-zero")
		require.False(t, st.Healthy)
		require.Contains(t, st.Problems, "storage node "+dead+" down")
	})
}
