package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/proto/metapb"
)

// usageError marks a command line that cannot be run (exit status 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// adminFlags are the flags every admin command shares.
type adminFlags struct {
	fs        *flag.FlagSet
	metaAddrs *string
	timeout   *time.Duration
	tls       tlsFlags
	// dialer is set by parse: the admin certificate's, or plaintext.
	dialer **dial.Dialer
}

func newAdminFlags(name string) adminFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	a := adminFlags{
		fs:        fs,
		metaAddrs: fs.String("meta-addrs", "", "meta gRPC addresses, comma-separated"),
		timeout:   fs.Duration("timeout", 30*time.Second, "how long to wait for the meta group"),
	}
	fs.String("config", "", "YAML configuration file")
	a.tls = addTLSFlags(fs)
	a.dialer = new(*dial.Dialer)
	return a
}

// parse parses args and dials the meta group; the caller closes the
// client.
func (a adminFlags) parse(ctx context.Context, args []string) (*metaclient.Client, error) {
	if err := a.fs.Parse(args); err != nil {
		return nil, usageError{err}
	}
	if a.fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("admin: unexpected argument %q", a.fs.Arg(0))}
	}
	if err := applyEnvAndFile(a.fs); err != nil {
		return nil, usageError{err}
	}
	addrs := splitList(*a.metaAddrs)
	if len(addrs) == 0 {
		return nil, usageError{errors.New("admin: --meta-addrs (or CAIRN_META_ADDRS) is required")}
	}
	adminTLS, err := a.tls.reloader()
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	*a.dialer = clientDialer(adminTLS)
	dctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	return metaclient.Dial(dctx, addrs, *a.dialer)
}

func runAdminHeal(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin heal: want 'status', 'pause' or 'resume'")}
	}
	verb := args[0]
	a := newAdminFlags("admin heal " + verb)
	var (
		watch    = a.fs.Bool("watch", false, "status: redraw until interrupted")
		asJSON   = a.fs.Bool("json", false, "status: print JSON (one object per line with --watch)")
		interval = a.fs.Duration("interval", 2*time.Second, "status --watch: time between updates")
	)
	switch verb {
	case "status", "pause", "resume":
	default:
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{fmt.Errorf("admin heal: unknown command %q", verb)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args[1:])
	if err != nil {
		return err
	}
	defer mc.Close()
	switch verb {
	case "pause", "resume":
		cctx, cancel := context.WithTimeout(ctx, *a.timeout)
		defer cancel()
		res, err := propose(cctx, mc, &metapb.Command{Op: &metapb.Command_SetHealPaused{SetHealPaused: &metapb.SetHealPaused{Paused: verb == "pause"}}})
		if err != nil {
			return err
		}
		if res.GetCode() != metapb.ErrorCode_OK {
			return fmt.Errorf("admin heal %s: %s: %s", verb, res.GetCode(), res.GetMessage())
		}
		if verb == "pause" {
			fmt.Println("Repair paused: no shard is rebuilt until 'cairn admin heal resume'.")
		} else {
			fmt.Println("Repair resumed.")
		}
		return nil
	}
	if *interval <= 0 {
		return usageError{errors.New("admin heal status: --interval must be positive")}
	}
	get := func() (*metapb.HealStatusResponse, error) {
		cctx, cancel := context.WithTimeout(ctx, *a.timeout)
		defer cancel()
		st, err := mc.HealStatus(cctx, &metapb.HealStatusRequest{})
		if err != nil {
			return nil, fmt.Errorf("admin heal status: %w", explain(err))
		}
		return st, nil
	}
	if !*watch {
		st, err := get()
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(os.Stdout, st)
		}
		printStatus(os.Stdout, st)
		return nil
	}
	return watchStatus(ctx, get, *interval, *asJSON)
}

// explain turns the meta group's answers into what an operator can act on.
func explain(err error) error {
	switch status.Code(err) {
	case codes.Unavailable:
		return fmt.Errorf("no meta leader or its repairer is starting; retry shortly (%w)", err)
	case codes.Unimplemented:
		return fmt.Errorf("not supported by this cluster: %s", status.Convert(err).Message())
	case codes.NotFound, codes.InvalidArgument, codes.ResourceExhausted, codes.FailedPrecondition:
		return errors.New(status.Convert(err).Message())
	}
	return err
}

// watchStatus redraws the status every interval until ctx ends: a live
// screen with a progress bar in a terminal, one line per update otherwise.
func watchStatus(ctx context.Context, get func() (*metapb.HealStatusResponse, error), interval time.Duration, asJSON bool) error {
	tty := isTerminal(os.Stdout)
	var firstRebuilt uint64
	first := true
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := get()
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			// Keep watching through a leader change.
			fmt.Fprintln(os.Stderr, "cairn:", err)
		case asJSON:
			if err := printJSON(os.Stdout, st); err != nil {
				return err
			}
		default:
			if first {
				firstRebuilt, first = st.GetBytesRebuilt(), false
			}
			done := st.GetBytesRebuilt() - min(firstRebuilt, st.GetBytesRebuilt())
			if tty {
				fmt.Print("\033[H\033[2J")
				printStatus(os.Stdout, st)
				fmt.Printf("\n%s\n", progressBar(done, st.GetBytesToRebuild(), 40))
			} else {
				fmt.Println(statusLine(st))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar shows the share of the bytes rebuilt while watching among
// those plus the bytes still to rebuild.
func progressBar(done, left uint64, width int) string {
	frac := 1.0
	if done+left > 0 {
		frac = float64(done) / float64(done+left)
	}
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%%  %s rebuilt, %s to go", strings.Repeat("#", n), strings.Repeat("-", width-n), frac*100, bytesStr(done), bytesStr(left))
}

func bodiesAtRisk(st *metapb.HealStatusResponse) uint64 {
	var n uint64
	for _, l := range st.GetAtRisk() {
		n += l.GetBodies()
	}
	return n
}

func statusLine(st *metapb.HealStatusResponse) string {
	state := "running"
	if st.GetPaused() {
		state = "paused"
	}
	return fmt.Sprintf("%s %s at_risk=%d to_rebuild=%s rebuilt=%s rate=%s/s eta=%s failures=%d",
		time.Now().Format(time.TimeOnly), state, bodiesAtRisk(st), bytesStr(st.GetBytesToRebuild()),
		bytesStr(st.GetBytesRebuilt()), bytesStr(uint64(st.GetRateBytesPerSecond())), etaStr(st), st.GetRepairFailures())
}

func printStatus(w io.Writer, st *metapb.HealStatusResponse) {
	state := "running"
	switch {
	case st.GetPaused():
		state = "PAUSED (cairn admin heal resume)"
	case st.GetScanning():
		state = "running, scanning the metadata (figures may still grow)"
	}
	fmt.Fprintf(w, "Repairer on %s: %s\n", st.GetLeaderId(), state)
	if len(st.GetAtRisk()) == 0 {
		fmt.Fprintln(w, "Bodies at risk: none; every body has all its shards.")
	} else {
		fmt.Fprintln(w, "Bodies at risk, most at risk first:")
		fmt.Fprintf(w, "  %-8s %-10s %-14s %10s %14s\n", "PROFILE", "SURVIVING", "CAN STILL LOSE", "BODIES", "TO REBUILD")
		for _, l := range st.GetAtRisk() {
			k, m, s := int(l.GetDataShards()), int(l.GetParityShards()), int(l.GetSurviving())
			lose := fmt.Sprint(s - k)
			if s < k {
				lose = "lost"
			}
			fmt.Fprintf(w, "  %-8s %-10s %-14s %10d %14s\n", fmt.Sprintf("%d+%d", k, m), fmt.Sprintf("%d of %d", s, k+m), lose, l.GetBodies(), bytesStr(l.GetBytesToRebuild()))
		}
	}
	fmt.Fprintf(w, "Bytes to rebuild: %s\n", bytesStr(st.GetBytesToRebuild()))
	fmt.Fprintf(w, "Rate: %s/s   ETA: %s\n", bytesStr(uint64(st.GetRateBytesPerSecond())), etaStr(st))
	fmt.Fprintf(w, "Rebuilt since this leader took over: %d shards, %s; failures: %d\n", st.GetShardsRebuilt(), bytesStr(st.GetBytesRebuilt()), st.GetRepairFailures())
	if st.GetScrubShardsVerified() > 0 || st.GetScrubDamageFound() > 0 {
		fmt.Fprintf(w, "Bucket scrub: %d shards verified, %d damaged\n", st.GetScrubShardsVerified(), st.GetScrubDamageFound())
	}
	if ls := st.GetLastScanUnixNano(); ls > 0 {
		fmt.Fprintf(w, "Last full scan: %s ago\n", time.Since(time.Unix(0, ls)).Round(time.Second))
	}
}

func etaStr(st *metapb.HealStatusResponse) string {
	switch eta := st.GetEtaSeconds(); {
	case st.GetBytesToRebuild() == 0:
		return "-"
	case eta < 0:
		return "unknown (no rate yet)"
	default:
		return (time.Duration(eta * float64(time.Second))).Round(time.Second).String()
	}
}

func bytesStr(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// healJSON is the --json form of the status: plain numbers, snake_case.
type healJSON struct {
	Leader             string      `json:"leader"`
	Paused             bool        `json:"paused"`
	Scanning           bool        `json:"scanning"`
	BodiesAtRisk       uint64      `json:"bodies_at_risk"`
	AtRisk             []riskJSON  `json:"at_risk"`
	BytesToRebuild     uint64      `json:"bytes_to_rebuild"`
	BytesRebuilt       uint64      `json:"bytes_rebuilt"`
	ShardsRebuilt      uint64      `json:"shards_rebuilt"`
	RepairFailures     uint64      `json:"repair_failures"`
	RateBytesPerSecond float64     `json:"rate_bytes_per_second"`
	ETASeconds         float64     `json:"eta_seconds"`
	LastScan           *time.Time  `json:"last_scan,omitempty"`
	Scrub              scrubFigure `json:"scrub"`
}

type riskJSON struct {
	DataShards     uint32 `json:"data_shards"`
	ParityShards   uint32 `json:"parity_shards"`
	Surviving      uint32 `json:"surviving"`
	Bodies         uint64 `json:"bodies"`
	BytesToRebuild uint64 `json:"bytes_to_rebuild"`
}

type scrubFigure struct {
	ShardsVerified uint64 `json:"shards_verified"`
	DamageFound    uint64 `json:"damage_found"`
}

func printJSON(w io.Writer, st *metapb.HealStatusResponse) error {
	out := healJSON{
		Leader: st.GetLeaderId(), Paused: st.GetPaused(), Scanning: st.GetScanning(), BodiesAtRisk: bodiesAtRisk(st),
		AtRisk: []riskJSON{}, BytesToRebuild: st.GetBytesToRebuild(), BytesRebuilt: st.GetBytesRebuilt(),
		ShardsRebuilt: st.GetShardsRebuilt(), RepairFailures: st.GetRepairFailures(),
		RateBytesPerSecond: st.GetRateBytesPerSecond(), ETASeconds: st.GetEtaSeconds(),
		Scrub: scrubFigure{ShardsVerified: st.GetScrubShardsVerified(), DamageFound: st.GetScrubDamageFound()},
	}
	for _, l := range st.GetAtRisk() {
		out.AtRisk = append(out.AtRisk, riskJSON{DataShards: l.GetDataShards(), ParityShards: l.GetParityShards(),
			Surviving: l.GetSurviving(), Bodies: l.GetBodies(), BytesToRebuild: l.GetBytesToRebuild()})
	}
	if ls := st.GetLastScanUnixNano(); ls > 0 {
		t := time.Unix(0, ls).UTC()
		out.LastScan = &t
	}
	return json.NewEncoder(w).Encode(out)
}

func runAdminScrub(args []string) error {
	a := newAdminFlags("admin scrub")
	var (
		node   = a.fs.String("node", "", "scrub only this storage node")
		bucket = a.fs.String("bucket", "", "verify every shard of this bucket's objects against its recorded digest")
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args)
	if err != nil {
		return err
	}
	defer mc.Close()
	if *node != "" && *bucket != "" {
		return usageError{errors.New("admin scrub: give --node or --bucket, not both")}
	}
	cctx, cancel := context.WithTimeout(ctx, *a.timeout)
	defer cancel()
	resp, err := mc.Scrub(cctx, &metapb.ScrubRequest{NodeId: *node, Bucket: *bucket})
	if err != nil {
		return fmt.Errorf("admin scrub: %w", explain(err))
	}
	switch {
	case *bucket != "":
		fmt.Printf("Scrub of bucket %s started: %d bodies to verify. Damage found is repaired; see 'cairn admin heal status'.\n", *bucket, resp.GetStarted())
	case *node != "":
		fmt.Printf("Scrub started on storage node %s.\n", *node)
	default:
		fmt.Printf("Scrub started on %d storage nodes.\n", resp.GetStarted())
	}
	return nil
}
