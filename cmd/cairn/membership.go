package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/proto/metapb"
)

// positional splits the leading arguments that are not flags (node and
// drive IDs) from the flags after them.
func positional(args []string, want int) ([]string, []string, error) {
	var ids []string
	for len(args) > 0 && len(ids) < want && !strings.HasPrefix(args[0], "-") {
		ids, args = append(ids, args[0]), args[1:]
	}
	if len(ids) < want {
		return nil, nil, usageError{fmt.Errorf("admin: want %d ID(s) before the flags, got %d", want, len(ids))}
	}
	return ids, args, nil
}

// runAdminNode runs `cairn admin node drain|undrain|add|remove|status`.
func runAdminNode(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin node: want 'drain', 'undrain', 'add', 'remove' or 'status'")}
	}
	verb := args[0]
	args = args[1:]
	if verb == "drain" && len(args) > 0 && args[0] == "status" {
		verb, args = "status", args[1:]
	}
	switch verb {
	case "status":
		return runMembershipStatus("admin node status", args)
	case "drain", "undrain", "add", "remove":
	default:
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{fmt.Errorf("admin node: unknown command %q", verb)}
	}
	ids, rest, err := positional(args, 1)
	if err != nil {
		return err
	}
	node := ids[0]
	a := newAdminFlags("admin node " + verb)
	var (
		dead = a.fs.Bool("dead", false, "remove: the node is gone for good: rebuild its shards from the others first")
		wait = a.fs.Duration("wait", 0, "remove: wait this long for the node's shards to be moved or rebuilt (default: 10m with --dead, else no wait)")
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, rest)
	if err != nil {
		return err
	}
	defer mc.Close()
	switch verb {
	case "remove":
		if *wait == 0 && *dead {
			*wait = 10 * time.Minute
		}
		return adminRemoveNode(ctx, mc, node, *dead, *wait, *a.timeout)
	}
	state, what := metapb.NodeState_NODE_DRAINING, "draining: its shards move to the other nodes; new writes avoid it.\nFollow with 'cairn admin node drain status --watch'; remove it once empty with 'cairn admin node remove "+node+"'."
	switch verb {
	case "undrain":
		state, what = metapb.NodeState_NODE_ACTIVE, "active again: it takes new shards; shards already moved stay where they are."
	case "add":
		state, what = metapb.NodeState_NODE_ACTIVE, "admitted: it takes new shards ('cairn admin rebalance start' moves existing ones onto it)."
	}
	cctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	res, err := propose(cctx, mc, &metapb.Command{Op: &metapb.Command_SetNodeState{SetNodeState: &metapb.SetNodeState{NodeId: node, State: state}}})
	if err != nil {
		return err
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return fmt.Errorf("admin node %s: %s", verb, res.GetMessage())
	}
	fmt.Printf("Node %s is %s\n", node, what)
	return nil
}

func adminRemoveNode(ctx context.Context, mc *metaclient.Client, node string, dead bool, wait, timeout time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := mc.RemoveNode(cctx, &metapb.RemoveNodeRequest{NodeId: node, Dead: dead})
		cancel()
		if err != nil {
			return fmt.Errorf("admin node remove: %w", explain(err))
		}
		if resp.GetRemoved() {
			fmt.Printf("Node %s removed from the cluster map; it is refused if it comes back.\n", node)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("admin node remove: %s", resp.GetMessage())
		}
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format(time.TimeOnly), resp.GetMessage())
		t := time.NewTimer(2 * time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("admin node remove: interrupted; %s", resp.GetMessage())
		case <-t.C:
		}
	}
}

// runAdminDriveState runs `cairn admin drive drain|undrain NODE DRIVE`.
func runAdminDriveState(verb string, args []string) error {
	ids, rest, err := positional(args, 2)
	if err != nil {
		return err
	}
	a := newAdminFlags("admin drive " + verb)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, rest)
	if err != nil {
		return err
	}
	defer mc.Close()
	state := metapb.DriveState_DRIVE_DRAINING
	if verb == "undrain" {
		state = metapb.DriveState_DRIVE_ACTIVE
	}
	cctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	res, err := propose(cctx, mc, &metapb.Command{Op: &metapb.Command_SetDriveState{SetDriveState: &metapb.SetDriveState{NodeId: ids[0], DriveId: ids[1], State: state}}})
	if err != nil {
		return err
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return fmt.Errorf("admin drive %s: %s", verb, res.GetMessage())
	}
	if verb == "drain" {
		fmt.Printf("Drive %s of node %s is draining: its shards move elsewhere; new writes avoid it.\n", ids[1], ids[0])
	} else {
		fmt.Printf("Drive %s of node %s is active again.\n", ids[1], ids[0])
	}
	return nil
}

// runAdminRebalance runs `cairn admin rebalance start|status|stop`.
func runAdminRebalance(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin rebalance: want 'start', 'status' or 'stop'")}
	}
	verb := args[0]
	switch verb {
	case "status":
		return runMembershipStatus("admin rebalance status", args[1:])
	case "start", "stop":
	default:
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{fmt.Errorf("admin rebalance: unknown command %q", verb)}
	}
	a := newAdminFlags("admin rebalance " + verb)
	band := a.fs.Float64("band", 10, "start: stop once every drive holds within this many percent of its fair share of the bytes")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args[1:])
	if err != nil {
		return err
	}
	defer mc.Close()
	if *band <= 0 || *band >= 100 {
		return usageError{fmt.Errorf("admin rebalance: --band %v out of (0, 100)", *band)}
	}
	cctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	res, err := propose(cctx, mc, &metapb.Command{Op: &metapb.Command_SetRebalance{SetRebalance: &metapb.SetRebalance{Running: verb == "start", BandPercent: *band}}})
	if err != nil {
		return err
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return fmt.Errorf("admin rebalance %s: %s", verb, res.GetMessage())
	}
	if verb == "start" {
		fmt.Printf("Rebalance started: shards move, throttled by the repair bandwidth, until every drive is within ±%g%% of its share.\nFollow with 'cairn admin rebalance status --watch'.\n", *band)
	} else {
		fmt.Println("Rebalance stopped; moves under way finish.")
	}
	return nil
}

// runMembershipStatus prints drains and the rebalance, once or --watch.
func runMembershipStatus(name string, args []string) error {
	a := newAdminFlags(name)
	var (
		watch    = a.fs.Bool("watch", false, "redraw until interrupted")
		asJSON   = a.fs.Bool("json", false, "print JSON (one object per line with --watch)")
		interval = a.fs.Duration("interval", 2*time.Second, "--watch: time between updates")
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args)
	if err != nil {
		return err
	}
	defer mc.Close()
	if *interval <= 0 {
		return usageError{errors.New(name + ": --interval must be positive")}
	}
	get := func() (*metapb.MembershipStatusResponse, error) {
		cctx, cancel := context.WithTimeout(ctx, *a.timeout)
		defer cancel()
		st, err := mc.MembershipStatus(cctx, &metapb.MembershipStatusRequest{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, explain(err))
		}
		return st, nil
	}
	tty := isTerminal(os.Stdout)
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		st, err := get()
		switch {
		case err != nil && !*watch:
			return err
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			fmt.Fprintln(os.Stderr, "cairn:", err)
		case *asJSON:
			if err := printMembershipJSON(os.Stdout, st); err != nil {
				return err
			}
		default:
			if *watch && tty {
				fmt.Print("\033[H\033[2J")
			}
			printMembership(os.Stdout, st, tty)
		}
		if !*watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func printMembership(w io.Writer, st *metapb.MembershipStatusResponse, bars bool) {
	if !st.GetScanned() {
		fmt.Fprintln(w, "The repairer has not finished its first scan yet; figures follow.")
	}
	if len(st.GetDrains()) == 0 {
		fmt.Fprintln(w, "Drains: none with shards left.")
	} else {
		fmt.Fprintln(w, "Drains:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE\tDRIVE\tSHARDS LEFT\tBYTES LEFT\tMOVED\tRATE\tETA")
		for _, d := range st.GetDrains() {
			drive := d.GetDriveId()
			if drive == "" {
				drive = "(all)"
			}
			node := d.GetNodeId()
			if d.GetLost() {
				node += " (down: rebuilding)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s/s\t%s\n", node, drive, d.GetShardsLeft(), bytesStr(d.GetBytesLeft()),
				bytesStr(d.GetBytesMoved()), bytesStr(uint64(d.GetRateBytesPerSec())), etaSeconds(d.GetEtaSeconds()))
		}
		tw.Flush()
		if bars {
			for _, d := range st.GetDrains() {
				fmt.Fprintf(w, "  %-12s %s\n", d.GetNodeId()+"/"+d.GetDriveId(), moveBar(d.GetBytesMoved(), d.GetBytesLeft(), 40))
			}
		}
	}
	reb := st.GetRebalance()
	state := "stopped"
	if reb.GetRunning() {
		state = "running"
	}
	band := reb.GetBandPercent()
	if band == 0 {
		band = 10
	}
	balanced := "no"
	if st.GetBalanced() {
		balanced = "yes"
	}
	fmt.Fprintf(w, "Rebalance: %s, band ±%g%% of each drive's share; balanced: %s; moved %s at %s/s\n", state, band, balanced,
		bytesStr(st.GetRebalanceBytesMoved()), bytesStr(uint64(st.GetRebalanceRateBytesPerSec())))
	if len(st.GetFills()) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NODE\tDRIVE\tHELD\tSHARE\tOFF BY")
		for _, f := range st.GetFills() {
			off := 0.0
			if f.GetTargetBytes() > 0 {
				off = (float64(f.GetHeldBytes()) - float64(f.GetTargetBytes())) / float64(f.GetTargetBytes()) * 100
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%+.1f%%\n", f.GetNodeId(), f.GetDriveId(), bytesStr(f.GetHeldBytes()), bytesStr(f.GetTargetBytes()), off)
		}
		tw.Flush()
	}
}

func moveBar(done, left uint64, width int) string {
	frac := 1.0
	if done+left > 0 {
		frac = float64(done) / float64(done+left)
	}
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%%  %s moved, %s to go", strings.Repeat("#", n), strings.Repeat("-", width-n), frac*100, bytesStr(done), bytesStr(left))
}

func etaSeconds(s float64) string {
	if s < 0 {
		return "unknown"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

// membershipJSON is the --json form: plain numbers, snake_case.
type membershipJSON struct {
	Scanned          bool        `json:"scanned"`
	Drains           []drainJSON `json:"drains"`
	RebalanceRunning bool        `json:"rebalance_running"`
	BandPercent      float64     `json:"band_percent"`
	Balanced         bool        `json:"balanced"`
	RebalanceMoved   uint64      `json:"rebalance_bytes_moved"`
	RebalanceRate    float64     `json:"rebalance_rate_bytes_per_second"`
	Fills            []fillJSON  `json:"fills"`
}

type drainJSON struct {
	Node        string  `json:"node"`
	Drive       string  `json:"drive,omitempty"`
	ShardsLeft  uint64  `json:"shards_left"`
	BytesLeft   uint64  `json:"bytes_left"`
	BytesMoved  uint64  `json:"bytes_moved"`
	RateBytesPS float64 `json:"rate_bytes_per_second"`
	ETASeconds  float64 `json:"eta_seconds"`
	Lost        bool    `json:"lost"`
}

type fillJSON struct {
	Node     string `json:"node"`
	Drive    string `json:"drive"`
	Held     uint64 `json:"held_bytes"`
	Target   uint64 `json:"share_bytes"`
	Capacity uint64 `json:"capacity_bytes"`
}

func printMembershipJSON(w io.Writer, st *metapb.MembershipStatusResponse) error {
	out := membershipJSON{
		Scanned: st.GetScanned(), Drains: []drainJSON{}, Fills: []fillJSON{},
		RebalanceRunning: st.GetRebalance().GetRunning(), BandPercent: st.GetRebalance().GetBandPercent(),
		Balanced: st.GetBalanced(), RebalanceMoved: st.GetRebalanceBytesMoved(), RebalanceRate: st.GetRebalanceRateBytesPerSec(),
	}
	for _, d := range st.GetDrains() {
		out.Drains = append(out.Drains, drainJSON{Node: d.GetNodeId(), Drive: d.GetDriveId(), ShardsLeft: d.GetShardsLeft(), BytesLeft: d.GetBytesLeft(),
			BytesMoved: d.GetBytesMoved(), RateBytesPS: d.GetRateBytesPerSec(), ETASeconds: d.GetEtaSeconds(), Lost: d.GetLost()})
	}
	for _, f := range st.GetFills() {
		out.Fills = append(out.Fills, fillJSON{Node: f.GetNodeId(), Drive: f.GetDriveId(), Held: f.GetHeldBytes(), Target: f.GetTargetBytes(), Capacity: f.GetCapacityBytes()})
	}
	return json.NewEncoder(w).Encode(out)
}
