package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/proto/metapb"
)

// metaAdmin runs `cairn admin meta ...` against the cluster.
func (c *cluster) metaAdmin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cairnBin, append([]string{"admin", "meta"}, args...)...)
	cmd.Env = append(os.Environ(), "CAIRN_META_ADDRS="+strings.Join(c.layout.MetaAddrs(), ","), "CAIRN_TIMEOUT=20s")
	cmd.Env = append(cmd.Env, c.adminEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cairn admin meta %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// addJoiningVoter lays out, certifies and starts a new meta process in
// join mode, then adds it with the admin command.
func (c *cluster) addJoiningVoter(t *testing.T, ctx context.Context, name string) devcluster.Proc {
	t.Helper()
	p, err := c.layout.AddMeta(name)
	require.NoError(t, err)
	if c.procs.Certs() != nil {
		_, err = devcluster.LoadOrCreateCerts(c.layout)
		require.NoError(t, err)
	}
	require.NoError(t, c.procs.StartProc(name))
	// Joining, it neither bootstraps nor campaigns: it knows no leader
	// and stays a follower until added.
	waitUntil(t, 20*time.Second, name+" serving", func() bool {
		st, err := c.tryMetaStatus(ctx, name)
		return err == nil && st.GetRaftState() == "Follower" && st.GetLeaderId() == "" && len(st.GetVoterInfo()) == 0
	})
	_, err = c.metaAdmin(ctx, "add-voter", "--id", name, "--raft-addr", p.RaftAddr, "--grpc-addr", p.GRPCAddr)
	require.NoError(t, err)
	return p
}

func (c *cluster) tryMetaStatus(ctx context.Context, name string) (*metapb.StatusResponse, error) {
	p, _ := c.layout.Proc(name)
	conn, err := c.procs.Dialer().GRPC(p.GRPCAddr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return metapb.NewMetaClient(conn).Status(sctx, &metapb.StatusRequest{})
}

// voterIDs is the leader's configuration as name's Status reports it.
func voterIDs(st *metapb.StatusResponse) []string {
	var out []string
	for _, v := range st.GetVoterInfo() {
		out = append(out, v.GetId())
	}
	slices.Sort(out)
	return out
}

// waitCaughtUp waits until name follows leader with the leader's applied
// index (taken after a write, so it includes that write).
func (c *cluster) waitCaughtUp(t *testing.T, ctx context.Context, name, leader string) {
	t.Helper()
	want := c.metaStatus(t, ctx, leader).GetAppliedIndex()
	waitUntil(t, 20*time.Second, name+" caught up", func() bool {
		st, err := c.tryMetaStatus(ctx, name)
		return err == nil && st.GetLeaderId() != "" && st.GetAppliedIndex() >= want
	})
}

func TestMetaOpsVoters(t *testing.T) {
	ctx := ctxT(t, 3*time.Minute)
	c := startCluster(t)
	c.mustCreateBucket(ctx, "voters")
	objects := map[string][]byte{}
	putOne := func(key string) {
		t.Helper()
		data := body(uint64(len(objects)+1), 3000+len(objects))
		require.NoError(t, c.put(ctx, "voters", key, data))
		objects[key] = data
	}
	checkAll := func() {
		t.Helper()
		for k, want := range objects {
			got, err := c.get(ctx, "voters", k)
			require.NoError(t, err, k)
			require.True(t, bytes.Equal(want, got), k)
		}
	}
	putOne("before")

	// A fourth voter joins and catches up.
	c.addJoiningVoter(t, ctx, "meta-4")
	putOne("four-voters")
	leader := c.waitLeader()
	c.waitCaughtUp(t, ctx, "meta-4", leader)
	require.Equal(t, []string{"meta-1", "meta-2", "meta-3", "meta-4"}, voterIDs(c.metaStatus(t, ctx, leader)))
	out, err := c.metaAdmin(ctx, "status")
	require.NoError(t, err, out)
	require.Contains(t, out, "meta-4")

	// Leadership moves to the new voter; the gateway, which knows only
	// meta-1..3, reaches it through their forwarding (address book).
	_, err = c.metaAdmin(ctx, "transfer-leader", "--to", "meta-4")
	require.NoError(t, err)
	waitUntil(t, 20*time.Second, "meta-4 leads", func() bool { l, err := c.metaLeader(ctx); return err == nil && l == "meta-4" })
	putOne("meta-4-leads")
	checkAll()

	// Remove an original voter, then replace a dead one with a new ID and
	// address: stop meta-2, remove it, add meta-5.
	_, err = c.metaAdmin(ctx, "remove-voter", "--id", "meta-1")
	require.NoError(t, err)
	require.NoError(t, c.procs.StopProc("meta-1", 10*time.Second))
	require.NoError(t, c.procs.Kill("meta-2"))
	_, err = c.metaAdmin(ctx, "remove-voter", "--id", "meta-2")
	require.NoError(t, err)
	c.addJoiningVoter(t, ctx, "meta-5")
	putOne("replaced")
	leader = c.waitLeader()
	c.waitCaughtUp(t, ctx, "meta-5", leader)
	require.Equal(t, []string{"meta-3", "meta-4", "meta-5"}, voterIDs(c.metaStatus(t, ctx, leader)))
	// meta-5 is a full voter: with meta-4 killed, meta-3 and meta-5 are
	// the only majority, and the group elects and commits with them. (The
	// gateway still reaches the group through meta-3, the one address of
	// its --meta-addrs that is left.)
	require.NoError(t, c.procs.Kill("meta-4"))
	putOne("new-majority")
	checkAll()
}

func TestMetaOpsBackupRestore(t *testing.T) {
	ctx := ctxT(t, 3*time.Minute)
	c := startCluster(t)
	c.mustCreateBucket(ctx, "backed")
	objects := map[string][]byte{}
	for i := range 5 {
		k := fmt.Sprintf("obj-%d", i)
		objects[k] = body(uint64(100+i), 1000+i*7000)
		require.NoError(t, c.put(ctx, "backed", k, objects[k]))
	}
	file := filepath.Join(t.TempDir(), "meta.backup")
	out, err := c.metaAdmin(ctx, "backup", file)
	require.NoError(t, err, out)
	require.Contains(t, out, "Backup written")
	// Written after the backup: absent from the restored group.
	require.NoError(t, c.put(ctx, "backed", "after", []byte("later")))

	// A damaged or foreign file is refused before anything is written.
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "bad.backup")
	b[len(b)/2] ^= 1
	require.NoError(t, os.WriteFile(bad, b, 0o600))
	p1, _ := c.layout.Proc("meta-1")
	newDir := "meta-1-restored"
	restore := func(f string, extra ...string) (string, error) {
		return c.metaAdmin(ctx, append([]string{"restore", f, "--data-dir", filepath.Join(c.layout.Dir, newDir), "--node-id", "meta-1", "--raft-addr", p1.RaftAddr}, extra...)...)
	}
	out, err = restore(bad)
	require.Error(t, err)
	require.Contains(t, out, "not a valid backup")
	out, err = restore(file, "--cluster-id", "someone-else")
	require.Error(t, err)
	require.Contains(t, out, "another cluster")

	// Stop everything, restore into a new single-voter group.
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	require.NoError(t, c.procs.Stop(stopCtx))
	cancel()
	out, err = restore(file, "--cluster-id", c.layout.ClusterID)
	require.NoError(t, err, out)
	var procs []devcluster.Proc
	for _, p := range c.layout.Procs {
		switch p.Name {
		case "meta-2", "meta-3":
			continue
		case "meta-1":
			p.DataDir = newDir
		}
		procs = append(procs, p)
	}
	c.layout.Procs = procs
	require.NoError(t, c.procs.Start())
	c.waitReady()
	require.Equal(t, "meta-1", c.waitLeader())
	for k, want := range objects {
		got, err := c.get(ctx, "backed", k)
		require.NoError(t, err, k)
		require.True(t, bytes.Equal(want, got), k)
	}
	_, err = c.get(ctx, "backed", "after")
	require.Error(t, err)
	// The new group takes writes.
	require.NoError(t, c.put(ctx, "backed", "restored-write", []byte("new group")))
	got, err := c.get(ctx, "backed", "restored-write")
	require.NoError(t, err)
	require.Equal(t, "new group", string(got))
}
