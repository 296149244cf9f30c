package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WarpVersion is the release of MinIO's load generator the figures are
// taken with; `make bench` builds exactly this one.
const WarpVersion = "v1.3.1"

// warpResult is what one warp run measured, reduced to the figures of the
// table.
type warpResult struct {
	Op          string
	Requests    int
	Errors      int
	FirstErrors []string
	// Start and End bound the benchmark's operations (the first start and
	// the last end); Bytes were moved between them. The CPU per GiB is
	// taken over this same window.
	Start, End time.Time
	Bytes      int64
	// BytesPerSec and ObjPerSec are warp's own "Average" figures: measured
	// over whole one-second segments with the ramp-up and ramp-down
	// segments left out, as warp prints them.
	BytesPerSec, ObjPerSec float64
	// P50 and P99 are request durations as warp reports them: the mean
	// over its segments of each segment's percentile.
	P50, P99 time.Duration
}

// The subset of warp's --json output (aggregate.Realtime, data version 2)
// that the table needs.
type warpJSON struct {
	Version  int                      `json:"v"`
	Total    warpAggregate            `json:"total"`
	ByOpType map[string]warpAggregate `json:"by_op_type"`
}

type warpAggregate struct {
	TotalRequests int       `json:"total_requests"`
	TotalErrors   int       `json:"total_errors"`
	TotalBytes    int64     `json:"total_bytes"`
	StartTime     time.Time `json:"start_time"`
	EndTime       time.Time `json:"end_time"`
	FirstErrors   []string  `json:"first_errors"`
	Throughput    struct {
		MeasureMillis int     `json:"measure_duration_millis"`
		Bytes         float64 `json:"bytes"`
		Objects       float64 `json:"objects"`
	} `json:"throughput"`
	Requests map[string][]struct {
		Single *struct {
			MedianMillis float64 `json:"dur_median_millis"`
			P99Millis    float64 `json:"dur_99_millis"`
			Merged       int     `json:"merged_entries"`
		} `json:"single_sized_requests"`
	} `json:"requests_by_client"`
}

// parseWarp reads warp's --json report of one operation type ("PUT",
// "GET"). Warp prints an empty line before the JSON document.
func parseWarp(out []byte, op string) (warpResult, error) {
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return warpResult{}, errors.New("bench: warp printed no JSON report")
	}
	var doc warpJSON
	if err := json.NewDecoder(bytes.NewReader(out[i:])).Decode(&doc); err != nil {
		return warpResult{}, fmt.Errorf("bench: decode warp report: %w", err)
	}
	if doc.Version != 2 {
		return warpResult{}, fmt.Errorf("bench: warp report has data version %d, want 2", doc.Version)
	}
	agg, ok := doc.ByOpType[op]
	if !ok {
		return warpResult{}, fmt.Errorf("bench: warp report has no %s operations", op)
	}
	r := warpResult{
		Op:          op,
		Requests:    agg.TotalRequests,
		Errors:      agg.TotalErrors,
		FirstErrors: agg.FirstErrors,
		Start:       agg.StartTime,
		End:         agg.EndTime,
		Bytes:       agg.TotalBytes,
	}
	if ms := agg.Throughput.MeasureMillis; ms > 0 {
		r.BytesPerSec = agg.Throughput.Bytes * 1000 / float64(ms)
		r.ObjPerSec = agg.Throughput.Objects * 1000 / float64(ms)
	} else if d := r.End.Sub(r.Start).Seconds(); d > 0 {
		// Too short a run for warp's segments: the whole window instead.
		r.BytesPerSec = float64(r.Bytes) / d
		r.ObjPerSec = float64(r.Requests-r.Errors) / d
	}
	var p50, p99 float64
	merged := 0
	for _, segs := range agg.Requests {
		for _, s := range segs {
			if s.Single == nil {
				continue
			}
			p50 += s.Single.MedianMillis
			p99 += s.Single.P99Millis
			merged += s.Single.Merged
		}
	}
	if merged > 0 {
		r.P50 = millis(p50 / float64(merged))
		r.P99 = millis(p99 / float64(merged))
	}
	return r, nil
}

func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// warpArgs is the command line of one measured warp run. Warp's defaults
// are kept (SigV4 with a signed payload, its random data); credentials
// travel in the environment, not the arguments.
func warpArgs(w Workload, host, bucket string, dur time.Duration, benchdata string) []string {
	args := []string{
		strings.ToLower(w.Op),
		"--host", host,
		"--bucket", bucket,
		"--concurrent", strconv.Itoa(w.Clients),
		"--duration", dur.String(),
		"--disable-multipart",
		"--noclear",
		"--json",
		"--no-color",
		"--benchdata", benchdata,
	}
	switch w.Op {
	case OpPut:
		args = append(args, "--obj.size", strconv.FormatInt(w.Size, 10))
	case OpGet:
		// The objects were uploaded beforehand (seed), so that the fault
		// can be injected between upload and measurement.
		args = append(args, "--list-existing")
	}
	return args
}

// warpRunner runs the warp binary.
type warpRunner struct {
	bin       string
	dir       string // working directory; warp writes its benchdata here
	accessKey string
	secretKey string
	// tls: the gateway serves HTTPS with the cluster's own certificate,
	// which warp is told not to verify (it has no flag for a CA file).
	tls bool
}

// warpHooks let the caller follow the warp process: started gets its PID
// once it runs; exited, once it has ended (whether it succeeded or not),
// the CPU seconds it and the descendants it waited for spent in all, from
// wait4's resource usage: the process's CPU counter up to its very end,
// which /proc no longer shows once it has been waited for.
type warpHooks struct {
	started func(pid int)
	exited  func(cpuSeconds float64)
}

// run runs warp and returns its standard output. A run that outlives its
// context is killed.
func (r warpRunner) run(ctx context.Context, args []string, hooks warpHooks) ([]byte, error) {
	if r.tls {
		args = append(slices.Clone(args), "--tls", "--insecure")
	}
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "WARP_ACCESS_KEY="+r.accessKey, "WARP_SECRET_KEY="+r.secretKey)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Start()
	if err == nil {
		if hooks.started != nil {
			hooks.started(cmd.Process.Pid)
		}
		err = cmd.Wait()
		if hooks.exited != nil && cmd.ProcessState != nil {
			hooks.exited((cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
		}
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("bench: warp %s: %w: %s", args[0], err, tail(stderr.String()+stdout.String(), 600))
	}
	return stdout.Bytes(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// FindWarp returns the warp binary to use: name if given (a path or a
// command on PATH), else the one `make bench` builds into the user's cache directory,
// else warp on PATH.
func FindWarp(name string) (string, error) {
	if name != "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("bench: warp binary %q: %w", name, err)
		}
		return p, nil
	}
	// The pinned build first: a warp on PATH may be another release.
	if cache, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(cache, "cairn", "warp-"+WarpVersion, "warp")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("warp"); err == nil {
		return p, nil
	}
	return "", errors.New("bench: no warp binary: run `make warp` (builds MinIO's warp " + WarpVersion + ") or pass --warp")
}
