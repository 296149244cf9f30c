package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/proto/metapb"
)

// errUnhealthy makes `cairn admin status` exit 1 after printing a cluster
// that has a problem; the report itself says which.
type errUnhealthy struct{ problems int }

func (e errUnhealthy) Error() string {
	return fmt.Sprintf("cluster unhealthy: %d problem(s)", e.problems)
}

// The JSON shape of `cairn admin status --json`. Field names are a script
// interface: add, never rename.
type clusterStatus struct {
	Healthy  bool          `json:"healthy"`
	Problems []string      `json:"problems"`
	Leader   string        `json:"leader"`
	Voters   []voterStatus `json:"voters"`
	Nodes    []nodeStatus  `json:"nodes"`

	CapacityBytes uint64 `json:"capacity_bytes"`
	UsedBytes     uint64 `json:"used_bytes"`
	FreeBytes     uint64 `json:"free_bytes"`

	BodiesAtRisk   uint64  `json:"bodies_at_risk"`
	BytesToRebuild uint64  `json:"bytes_to_rebuild"`
	RepairPaused   bool    `json:"repair_paused"`
	RepairScanning bool    `json:"repair_scanning"`
	BytesRebuilt   uint64  `json:"bytes_rebuilt"`
	RepairRate     float64 `json:"repair_rate_bytes_per_second"`
	GCBacklog      uint64  `json:"gc_backlog"`
	// HealError is set when the leader's repair figures were unavailable.
	HealError string `json:"heal_error,omitempty"`
}

type voterStatus struct {
	Addr         string `json:"addr"`
	ID           string `json:"id,omitempty"`
	Reachable    bool   `json:"reachable"`
	RaftState    string `json:"raft_state,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	Version      string `json:"version,omitempty"`
	Error        string `json:"error,omitempty"`
}

type nodeStatus struct {
	ID            string        `json:"id"`
	Addr          string        `json:"addr"`
	FailureDomain string        `json:"failure_domain,omitempty"`
	State         string        `json:"state"` // up, down, draining, pending
	Version       string        `json:"version,omitempty"`
	LastHeartbeat string        `json:"last_heartbeat,omitempty"`
	Drives        []driveStatus `json:"drives"`
}

type driveStatus struct {
	ID            string `json:"id"`
	State         string `json:"state"` // active, draining, faulty
	Fault         string `json:"fault,omitempty"`
	CapacityBytes uint64 `json:"capacity_bytes"`
	UsedBytes     uint64 `json:"used_bytes"`
	FreeBytes     uint64 `json:"free_bytes"`
}

// voterAnswer is what one meta address said to Status.
type voterAnswer struct {
	addr string
	resp *metapb.StatusResponse
	err  error
}

// buildStatus assembles the report from the answers of the meta group; it
// is pure, so the rendering and the health verdict are tested from fixed
// responses. heal may be nil (with healErr) when the leader's repairer did
// not answer.
func buildStatus(voters []voterAnswer, m *metapb.ClusterMap, heal *metapb.HealStatusResponse, healErr error) clusterStatus {
	st := clusterStatus{Problems: []string{}, Voters: []voterStatus{}, Nodes: []nodeStatus{}}
	for _, v := range voters {
		vs := voterStatus{Addr: v.addr}
		if v.err != nil {
			vs.Error = v.err.Error()
			st.Problems = append(st.Problems, fmt.Sprintf("meta %s unreachable", v.addr))
		} else {
			r := v.resp
			vs.ID, vs.Reachable, vs.RaftState, vs.AppliedIndex, vs.Version = r.GetNodeId(), true, r.GetRaftState(), r.GetAppliedIndex(), r.GetVersion()
			if st.Leader == "" {
				st.Leader = r.GetLeaderId()
			}
		}
		st.Voters = append(st.Voters, vs)
	}
	if st.Leader == "" {
		st.Problems = append(st.Problems, "no meta leader")
	}
	for _, n := range m.GetNodes() {
		ns := nodeStatus{ID: n.GetNodeId(), Addr: n.GetAddr(), FailureDomain: n.GetFailureDomain(), Version: n.GetVersion(), Drives: []driveStatus{}}
		switch {
		case n.GetDown() || !n.GetUp():
			ns.State = "down"
			st.Problems = append(st.Problems, fmt.Sprintf("storage node %s down", n.GetNodeId()))
		case n.GetState() == metapb.NodeState_NODE_DRAINING:
			ns.State = "draining"
		case n.GetState() == metapb.NodeState_NODE_PENDING:
			// Not a fault: it waits for an operator (cairn admin node add).
			ns.State = "pending"
		default:
			ns.State = "up"
		}
		if t := n.GetLastHeartbeatUnixNano(); t > 0 {
			ns.LastHeartbeat = time.Unix(0, t).UTC().Format(time.RFC3339)
		}
		for _, d := range n.GetDrives() {
			ds := driveStatus{ID: d.GetDriveId(), Fault: d.GetFault(), CapacityBytes: d.GetCapacityBytes(), FreeBytes: d.GetFreeBytes()}
			ds.UsedBytes = ds.CapacityBytes - min(ds.FreeBytes, ds.CapacityBytes)
			switch d.GetState() {
			case metapb.DriveState_DRIVE_FAILED:
				ds.State = "faulty"
				st.Problems = append(st.Problems, fmt.Sprintf("drive %s of %s faulty", d.GetDriveId(), n.GetNodeId()))
			case metapb.DriveState_DRIVE_DRAINING:
				ds.State = "draining"
			default:
				ds.State = "active"
			}
			st.CapacityBytes += ds.CapacityBytes
			st.UsedBytes += ds.UsedBytes
			st.FreeBytes += ds.FreeBytes
			ns.Drives = append(ns.Drives, ds)
		}
		st.Nodes = append(st.Nodes, ns)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	if healErr != nil {
		st.HealError = healErr.Error()
		st.Problems = append(st.Problems, "repair status unavailable")
	}
	if heal != nil {
		st.BodiesAtRisk = bodiesAtRisk(heal)
		st.BytesToRebuild = heal.GetBytesToRebuild()
		st.RepairPaused, st.RepairScanning = heal.GetPaused(), heal.GetScanning()
		st.BytesRebuilt, st.RepairRate = heal.GetBytesRebuilt(), heal.GetRateBytesPerSecond()
		st.GCBacklog = heal.GetGcBacklog()
		if st.BodiesAtRisk > 0 {
			st.Problems = append(st.Problems, fmt.Sprintf("%d bodies below full redundancy", st.BodiesAtRisk))
		}
	}
	st.Healthy = len(st.Problems) == 0
	return st
}

// renderStatus prints the report as tables.
func renderStatus(w io.Writer, st clusterStatus) error {
	health := "HEALTHY"
	if !st.Healthy {
		health = "UNHEALTHY"
	}
	fmt.Fprintf(w, "cluster: %s\n", health)
	for _, p := range st.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "\nmeta: leader %s\n", leader)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tADDRESS\tRAFT STATE\tAPPLIED\tVERSION")
	for _, v := range st.Voters {
		if !v.Reachable {
			fmt.Fprintf(tw, "  ?\t%s\tunreachable\t-\t-\n", v.Addr)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", v.ID, v.Addr, v.RaftState, v.AppliedIndex, dash(v.Version))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nstorage: %d nodes, %s used of %s, %s free\n", len(st.Nodes), bytesStr(st.UsedBytes), bytesStr(st.CapacityBytes), bytesStr(st.FreeBytes))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tSTATE\tDRIVE\tDRIVE STATE\tUSED\tFREE\tVERSION")
	for _, n := range st.Nodes {
		if len(n.Drives) == 0 {
			fmt.Fprintf(tw, "  %s\t%s\t-\t-\t-\t-\t%s\n", n.ID, n.State, dash(n.Version))
		}
		for i, d := range n.Drives {
			id, state, version := n.ID, n.State, dash(n.Version)
			if i > 0 {
				id, state, version = "", "", ""
			}
			ds := d.State
			if d.Fault != "" {
				ds += " (" + d.Fault + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, state, shortID(d.ID), ds, bytesStr(d.UsedBytes), bytesStr(d.FreeBytes), version)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ndata: %d bodies at risk, %s to rebuild", st.BodiesAtRisk, bytesStr(st.BytesToRebuild))
	switch {
	case st.HealError != "":
		fmt.Fprintf(w, " (repair status unavailable: %s)", st.HealError)
	case st.RepairPaused:
		fmt.Fprint(w, "; repair PAUSED")
	case st.RepairScanning:
		fmt.Fprint(w, "; scanning")
	}
	fmt.Fprintf(w, "\nrepair: %s rebuilt, %s/s\ngc: %d entries queued\n", bytesStr(st.BytesRebuilt), bytesStr(uint64(st.RepairRate)), st.GCBacklog)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortID keeps drive IDs (32 hex digits) readable in a table; --json has
// them whole.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func runAdminStatus(args []string) error {
	a := newAdminFlags("admin status")
	asJSON := a.fs.Bool("json", false, "print JSON")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args)
	if err != nil {
		return err
	}
	defer mc.Close()
	ctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	voters := askVoters(ctx, splitList(*a.metaAddrs), *a.dialer)
	resp, err := mc.GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
	if err != nil {
		return fmt.Errorf("admin status: cluster map: %w", explain(err))
	}
	m := resp.GetMap()
	heal, healErr := mc.HealStatus(ctx, &metapb.HealStatusRequest{})
	if healErr != nil {
		healErr = explain(healErr)
	}
	st := buildStatus(voters, m, heal, healErr)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else if err := renderStatus(os.Stdout, st); err != nil {
		return err
	}
	if !st.Healthy {
		return errUnhealthy{len(st.Problems)}
	}
	return nil
}

// voterTimeout bounds the wait for one meta address: an unreachable voter
// must not hold up the report.
const voterTimeout = 3 * time.Second

// askVoters asks every address for its own Status, in parallel.
func askVoters(ctx context.Context, addrs []string, d *dial.Dialer) []voterAnswer {
	out := make([]voterAnswer, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		out[i].addr = addr
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, voterTimeout)
			defer cancel()
			c, err := metaclient.Dial(cctx, []string{addr}, d)
			if err != nil {
				out[i].err = err
				return
			}
			defer c.Close()
			out[i].resp, out[i].err = c.Status(cctx, &metapb.StatusRequest{})
		}()
	}
	wg.Wait()
	return out
}
