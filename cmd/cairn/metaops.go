package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/meta"
	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/proto/metapb"
)

// runAdminMeta runs `cairn admin meta ...`: voter changes, status, backup
// and restore of the meta group.
func runAdminMeta(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin meta: want status, add-voter, remove-voter, transfer-leader, backup or restore")}
	}
	verb, args := args[0], args[1:]
	if verb == "restore" {
		return runAdminMetaRestore(args)
	}
	a := newAdminFlags("admin meta " + verb)
	var (
		id       = a.fs.String("id", "", "voter ID (add-voter, remove-voter)")
		raftAddr = a.fs.String("raft-addr", "", "the new voter's Raft address (add-voter)")
		grpcAddr = a.fs.String("grpc-addr", "", "the new voter's gRPC address (add-voter)")
		to       = a.fs.String("to", "", "the voter to hand leadership to (transfer-leader; default: the most up-to-date)")
	)
	var file string
	if verb == "backup" {
		// The file comes first or last: flags may be on either side.
		if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
			file, args = args[0], args[1:]
		} else if n := len(args); n > 0 && args[n-1] != "" && args[n-1][0] != '-' {
			file, args = args[n-1], args[:n-1]
		}
		if file == "" {
			return usageError{errors.New("admin meta backup: give the FILE to write")}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args)
	if err != nil {
		return err
	}
	defer mc.Close()
	ctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	switch verb {
	case "status":
		return adminMetaStatus(ctx, mc, *a.dialer)
	case "add-voter":
		if *id == "" || *raftAddr == "" || *grpcAddr == "" {
			return usageError{errors.New("admin meta add-voter: --id, --raft-addr and --grpc-addr are required")}
		}
		resp, err := mc.AddVoter(ctx, &metapb.AddVoterRequest{Id: *id, RaftAddr: *raftAddr, GrpcAddr: *grpcAddr})
		if err != nil {
			return fmt.Errorf("admin meta add-voter: %w", explain(err))
		}
		fmt.Printf("Voter %s added (raft %s, gRPC %s) at index %d.\n", *id, *raftAddr, *grpcAddr, resp.GetIndex())
		return nil
	case "remove-voter":
		if *id == "" {
			return usageError{errors.New("admin meta remove-voter: --id is required")}
		}
		resp, err := mc.RemoveVoter(ctx, &metapb.RemoveVoterRequest{Id: *id})
		if err != nil {
			return fmt.Errorf("admin meta remove-voter: %w", explain(err))
		}
		fmt.Printf("Voter %s removed at index %d.\n", *id, resp.GetIndex())
		return nil
	case "transfer-leader":
		resp, err := mc.TransferLeader(ctx, &metapb.TransferLeaderRequest{Id: *to})
		if err != nil {
			return fmt.Errorf("admin meta transfer-leader: %w", explain(err))
		}
		fmt.Printf("Leadership transferred; leader: %s.\n", dash(resp.GetLeaderId()))
		return nil
	case "backup":
		return adminMetaBackup(ctx, mc, a, file)
	}
	fmt.Fprint(os.Stderr, adminUsage)
	return usageError{fmt.Errorf("admin meta: unknown command %q", verb)}
}

// adminMetaStatus prints the leader's Raft configuration, then each voter's
// own view (state, term, applied index, last contact with the leader).
func adminMetaStatus(ctx context.Context, mc *metaclient.Client, d *dial.Dialer) error {
	// Any node's Status names the leader; the leader's lists the
	// configuration with every voter's addresses.
	st, err := mc.Status(ctx, &metapb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("admin meta status: %w", explain(err))
	}
	if st.GetLeaderAddr() != "" && st.GetLeaderId() != st.GetNodeId() {
		if answers := askVoters(ctx, []string{st.GetLeaderAddr()}, d); answers[0].err == nil {
			st = answers[0].resp
		}
	}
	var addrs []string
	for _, v := range st.GetVoterInfo() {
		addrs = append(addrs, v.GetGrpcAddr())
	}
	views := askVoters(ctx, addrs, d)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRAFT ADDR\tGRPC ADDR\tSUFFRAGE\tLEADER\tSTATE\tTERM\tAPPLIED\tLAST CONTACT")
	unhealthy := 0
	for i, v := range st.GetVoterInfo() {
		state, term, applied, contact := "unreachable", "-", "-", "-"
		if views[i].err == nil {
			r := views[i].resp
			state, term, applied = r.GetRaftState(), fmt.Sprint(r.GetTerm()), fmt.Sprint(r.GetAppliedIndex())
			contact = "-"
			if d := time.Duration(r.GetLastContactNanos()); d > 0 {
				contact = d.Round(time.Millisecond).String()
			}
		} else {
			unhealthy++
		}
		leader := ""
		if v.GetLeader() {
			leader = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.GetId(), v.GetRaftAddr(), dash(v.GetGrpcAddr()), v.GetSuffrage(), leader, state, term, applied, contact)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if st.GetLeaderId() == "" {
		return errors.New("admin meta status: no leader")
	}
	if unhealthy > 0 {
		return fmt.Errorf("admin meta status: %d voter(s) unreachable", unhealthy)
	}
	return nil
}

// adminMetaBackup streams a backup from the leader into file: written to a
// temporary file beside it, fsynced, renamed, and the directory fsynced.
func adminMetaBackup(ctx context.Context, mc *metaclient.Client, a adminFlags, file string) (err error) {
	st, err := mc.Status(ctx, &metapb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("admin meta backup: %w", explain(err))
	}
	client := metapb.MetaClient(mc)
	if st.GetLeaderAddr() != "" {
		lc, err := metaclient.Dial(ctx, []string{st.GetLeaderAddr()}, *a.dialer)
		if err != nil {
			return err
		}
		defer lc.Close()
		client = lc
	}
	stream, err := client.Backup(ctx, &metapb.BackupRequest{})
	if err != nil {
		return fmt.Errorf("admin meta backup: %w", explain(err))
	}
	first, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("admin meta backup: %w", explain(err))
	}
	h := first.GetHeader()
	if h == nil {
		return errors.New("admin meta backup: the leader sent no header")
	}
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("admin meta backup: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	pr := &progressReader{stream: stream, w: os.Stderr, start: time.Now()}
	n, err := meta.WriteBackup(tmp, h, pr)
	if err != nil {
		return fmt.Errorf("admin meta backup: %w", explain(err))
	}
	pr.report(true)
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("admin meta backup: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admin meta backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("admin meta backup: %w", err)
	}
	if err := syncDirectory(dir); err != nil {
		return fmt.Errorf("admin meta backup: sync directory: %w", err)
	}
	fmt.Printf("Backup written to %s: cluster %s, index %d, term %d, %s of state, taken on %s.\n",
		file, dash(h.GetClusterId()), h.GetIndex(), h.GetTerm(), bytesStr(uint64(n)), h.GetNodeId())
	return nil
}

// progressReader turns the Backup stream into a reader and reports bytes
// received every second.
type progressReader struct {
	stream interface {
		Recv() (*metapb.BackupChunk, error)
	}
	buf   []byte
	total int64
	w     io.Writer
	start time.Time
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	for len(p.buf) == 0 {
		c, err := p.stream.Recv()
		if err != nil {
			return 0, err // io.EOF at the end of the stream
		}
		p.buf = c.GetData()
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	p.total += int64(n)
	p.report(false)
	return n, nil
}

func (p *progressReader) report(final bool) {
	now := time.Now()
	if !final && now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	rate := float64(p.total) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "backup: %s received (%s/s)\n", bytesStr(uint64(p.total)), bytesStr(uint64(rate)))
}

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// runAdminMetaRestore prepares, offline, the data directory of the first
// voter of a new meta group from a backup file.
func runAdminMetaRestore(args []string) error {
	fs := flag.NewFlagSet("admin meta restore", flag.ContinueOnError)
	var (
		dataDir   = fs.String("data-dir", "", "the new voter's data directory (as given to cairn server); its meta state must not exist")
		nodeID    = fs.String("node-id", "", "the new voter's node ID")
		raftAddr  = fs.String("raft-addr", "", "the new voter's Raft address")
		clusterID = fs.String("cluster-id", "", "refuse a backup of another cluster (default: accept any)")
	)
	var file string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageError{fmt.Errorf("admin meta restore: unexpected argument %q", fs.Arg(0))}
	}
	if file == "" || *dataDir == "" || *nodeID == "" || *raftAddr == "" {
		return usageError{errors.New("admin meta restore: FILE, --data-dir, --node-id and --raft-addr are required")}
	}
	h, err := meta.Restore(context.Background(), meta.RestoreConfig{
		File:      file,
		DataDir:   filepath.Join(*dataDir, "meta"),
		NodeID:    *nodeID,
		RaftAddr:  *raftAddr,
		ClusterID: *clusterID,
	})
	if err != nil {
		return fmt.Errorf("admin meta restore: %w", err)
	}
	fmt.Printf(`Restored the state of cluster %s at index %d (term %d) into %s.
Start the node as the single voter of the new group, with its own entry in
--meta-peers (it does not bootstrap: it has Raft state now), then add voters
with 'cairn admin meta add-voter' after starting each with --meta-join.
`, dash(h.GetClusterId()), h.GetIndex(), h.GetTerm(), *dataDir)
	return nil
}
