package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/node/bench"
)

func runBench(args []string) error {
	if len(args) > 0 && args[0] == "ceilings" {
		return runBenchCeilings(args[1:])
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		duration  = fs.Duration("duration", 20*time.Second, "measured window of each workload")
		idle      = fs.Duration("idle", 20*time.Second, "how long the idle cluster's CPU is measured before the first workload (0 skips it)")
		workloads = fs.String("workloads", "", "comma-separated workloads to run, in order (default all: "+strings.Join(bench.WorkloadNames(), ",")+")")
		warp      = fs.String("warp", "", "`path` of the warp binary (default: the one make warp builds in the user cache directory, else warp on PATH)")
		asJSON    = fs.Bool("json", false, "print the report as JSON instead of a table")
		workDir   = fs.String("work-dir", "", "empty directory for the cluster's data, logs and warp's files (default: a temporary one, removed afterwards)")
		keep      = fs.Bool("keep", false, "keep the temporary directory")
		plainInt  = fs.Bool("insecure-internal", false, "run the cluster without mutual TLS between its processes (to measure what mTLS costs)")
		s3TLS     = fs.Bool("s3-tls", false, "serve S3 over HTTPS only, warp with --tls (to measure what TLS costs)")
	)
	fs.String("config", "", "YAML configuration file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: cairn bench [flags]
       cairn bench ceilings [file]   print 'go test -bench' output (file or stdin) beside each benchmark's ceiling

Starts a fresh local cluster (3 meta, 6 storage, 1 gateway, 4+2) in a new
directory, runs MinIO's warp %s against its gateway for each workload and
prints one table: throughput, latency, errors, CPU seconds per GiB and peak
memory by role, and the idle cluster's CPU.

`, bench.WarpVersion)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnvAndFile(fs); err != nil {
		return err
	}
	var names []string
	if *workloads != "" {
		names = splitList(*workloads)
	}
	wl, err := bench.SelectWorkloads(names)
	if err != nil {
		return err
	}
	warpBin, err := bench.FindWarp(*warp)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	log, err := newLogger("info")
	if err != nil {
		return err
	}
	idleFor := *idle
	if idleFor == 0 {
		idleFor = -1 // Config: zero means the default
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, runErr := bench.Run(ctx, bench.Config{
		Binary:    self,
		Warp:      warpBin,
		Dir:       *workDir,
		Keep:      *keep,
		Workloads: wl,
		Duration:  *duration,
		Idle:      idleFor,
		Logger:    log,

		InsecureInternal: *plainInt,
		S3TLS:            *s3TLS,
	})
	if len(rep.Results) > 0 || rep.Idle != nil {
		if err := printReport(os.Stdout, rep, *asJSON); err != nil {
			return err
		}
	}
	if rep.KeptDirectory != "" {
		fmt.Fprintf(os.Stderr, "cairn bench: data and logs kept in %s\n", rep.KeptDirectory)
	}
	return runErr
}

func printReport(w io.Writer, rep bench.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return bench.WriteTable(w, rep)
}

func runBenchCeilings(args []string) error {
	in := io.Reader(os.Stdin)
	switch len(args) {
	case 0:
	case 1:
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	default:
		return fmt.Errorf("usage: cairn bench ceilings [file]")
	}
	lines, err := bench.ParseBenchOutput(in, "github.com/cairn-io/cairn", runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	return bench.WriteCeilingTable(os.Stdout, lines)
}
