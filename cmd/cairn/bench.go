package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
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
	var variants []bench.Variant
	fs.Func("variant", "`NAME: SPEC` to compare, repeatable: the matrix runs once per variant on a fresh cluster, and a table compares them with the first; SPEC is server flags (--inline-max-bytes=0), CAIRN_* assignments or binary=PATH", func(s string) error {
		v, err := bench.ParseVariant(s)
		if err != nil {
			return err
		}
		variants = append(variants, v)
		return nil
	})
	fs.String("config", "", "YAML configuration file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: cairn bench [flags]
       cairn bench ceilings [file]   print 'go test -bench' output (file or stdin) beside each benchmark's ceiling

Starts a fresh local cluster (3 meta, 6 storage, 1 gateway, 4+2) in a new
directory, runs MinIO's warp %s against its gateway for each workload and
prints one table: throughput, latency, errors, CPU seconds per GiB by role
and for warp itself, the CPU ceiling (the throughput if every core did this
workload's work) with how busy the cores were and their iowait, peak memory
by role, and the idle cluster's CPU.

With --variant, the matrix runs once per variant, one after another, and a
last table compares each with the first, e.g. a lever off and on:

  cairn bench --variant 'inline-off: --inline-max-bytes=0' --variant 'inline-on:'
  cairn bench --variant 'before: binary=bin/cairn-old' --variant 'after:'

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
	cfg := bench.Config{
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
	}
	if len(variants) == 0 {
		rep, runErr := bench.Run(ctx, cfg)
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
	return runVariants(ctx, cfg, variants, *asJSON)
}

// runVariants runs the matrix once per variant and prints each variant's
// table as it finishes, then the comparison (or, with --json, one document
// at the end).
func runVariants(ctx context.Context, base bench.Config, variants []bench.Variant, asJSON bool) error {
	if err := bench.CheckVariants(variants); err != nil {
		return err
	}
	var reps []bench.VariantReport
	var firstErr error
	for _, v := range variants {
		cfg := base
		if v.Binary != "" {
			cfg.Binary = v.Binary
		}
		cfg.Env = v.Env
		if base.Dir != "" {
			cfg.Dir = filepath.Join(base.Dir, v.Name)
		}
		base.Logger.Info("bench: variant", "name", v.Name, "binary", cfg.Binary, "env", strings.Join(v.Env, " "))
		rep, err := bench.Run(ctx, cfg)
		reps = append(reps, bench.VariantReport{Variant: v, Report: rep})
		if !asJSON && (len(rep.Results) > 0 || rep.Idle != nil) {
			fmt.Printf("== %s\n", v.Name)
			if err := bench.WriteTable(os.Stdout, rep); err != nil {
				return err
			}
			fmt.Println()
		}
		if rep.KeptDirectory != "" {
			fmt.Fprintf(os.Stderr, "cairn bench: %s: data and logs kept in %s\n", v.Name, rep.KeptDirectory)
		}
		if err != nil {
			firstErr = fmt.Errorf("variant %s: %w", v.Name, err)
			break
		}
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Variants []bench.VariantReport `json:"variants"`
		}{reps}); err != nil {
			return err
		}
	} else if err := bench.WriteComparison(os.Stdout, reps); err != nil {
		return err
	}
	return firstErr
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
