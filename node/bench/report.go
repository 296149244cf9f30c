package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	mib = 1 << 20
	gib = 1 << 30
)

// RoleFigures holds one figure per role.
type RoleFigures struct {
	Gateway float64 `json:"gateway"`
	Storage float64 `json:"storage"`
	Meta    float64 `json:"meta"`
}

// Get returns the figure of role.
func (f RoleFigures) Get(role string) float64 {
	switch role {
	case "gateway":
		return f.Gateway
	case "storage":
		return f.Storage
	case "meta":
		return f.Meta
	}
	return 0
}

func (f *RoleFigures) set(role string, v float64) {
	switch role {
	case "gateway":
		f.Gateway = v
	case "storage":
		f.Storage = v
	case "meta":
		f.Meta = v
	}
}

// Total is the sum over roles.
func (f RoleFigures) Total() float64 { return f.Gateway + f.Storage + f.Meta }

// Result is one workload's row.
type Result struct {
	Workload string `json:"workload"`
	Op       string `json:"op"`
	Size     int64  `json:"size"`
	Clients  int    `json:"clients"`
	Fault    Fault  `json:"fault,omitempty"`

	MiBPerSec   float64  `json:"mib_per_sec"`
	ObjPerSec   float64  `json:"obj_per_sec"`
	P50Millis   float64  `json:"p50_millis"`
	P99Millis   float64  `json:"p99_millis"`
	Requests    int      `json:"requests"`
	Errors      int      `json:"errors"`
	FirstErrors []string `json:"first_errors,omitempty"`

	// WindowSeconds and Bytes: warp's window (first operation's start to
	// last operation's end) and the bytes moved in it; CPU figures are
	// over the same window.
	WindowSeconds float64     `json:"window_seconds"`
	Bytes         int64       `json:"bytes"`
	CPUSeconds    RoleFigures `json:"cpu_seconds"`
	CPUPerGiB     RoleFigures `json:"cpu_seconds_per_gib"`
	// PeakRSS is, per role, the largest VmRSS of one process sampled in
	// the window, bytes.
	PeakRSS RoleFigures `json:"peak_rss_bytes"`

	// Failed says why the workload produced no figures.
	Failed string `json:"failed,omitempty"`
}

// Idle is the CPU an unloaded cluster burns.
type Idle struct {
	Seconds float64     `json:"seconds"`
	Cores   RoleFigures `json:"cores"`
}

// Report is the outcome of one `cairn bench` run.
type Report struct {
	WarpVersion   string   `json:"warp_version"`
	Duration      string   `json:"duration"`
	SampleEvery   string   `json:"sample_every"`
	Idle          *Idle    `json:"idle,omitempty"`
	Results       []Result `json:"results"`
	WallSeconds   float64  `json:"wall_seconds"`
	KeptDirectory string   `json:"kept_directory,omitempty"`
}

// cpuPerGiB is CPU seconds per GiB moved; false when nothing was moved.
func cpuPerGiB(cpuSeconds float64, bytes int64) (float64, bool) {
	if bytes <= 0 {
		return 0, false
	}
	return cpuSeconds / (float64(bytes) / gib), true
}

// cores is CPU seconds spent per second of wall time.
func cores(cpuSeconds float64, over time.Duration) float64 {
	if over <= 0 {
		return 0
	}
	return cpuSeconds / over.Seconds()
}

// WriteTable prints the report as one table and a few lines that explain
// it.
func WriteTable(w io.Writer, r Report) error {
	// Numbers align right; the workload names are padded so that they
	// read left-aligned.
	width := len("workload")
	for _, res := range r.Results {
		width = max(width, len(res.Workload))
	}
	name := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t\t\t\t\t\t\tCPU-s per GiB\t\t\tpeak RSS MiB\t\t\t\n", name(""))
	fmt.Fprintf(tw, "%s\tMiB/s\tobj/s\tp50\tp99\terrors\t\tgateway\tstorage\tmeta\tgateway\tstorage\tmeta\t\n", name("workload"))
	var notes []string
	for _, res := range r.Results {
		if res.Failed != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t\t-\t-\t-\t-\t-\t-\t\n", name(res.Workload))
			notes = append(notes, fmt.Sprintf("%s failed: %s", res.Workload, res.Failed))
			continue
		}
		cpu := make([]string, 0, len(Roles))
		rss := make([]string, 0, len(Roles))
		for _, role := range Roles {
			if res.Bytes > 0 {
				cpu = append(cpu, fmt.Sprintf("%.2f", res.CPUPerGiB.Get(role)))
			} else {
				cpu = append(cpu, "-")
			}
			rss = append(rss, fmt.Sprintf("%.0f", res.PeakRSS.Get(role)/mib))
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%s\t%d\t\t%s\t%s\t\n", name(res.Workload), res.MiBPerSec, res.ObjPerSec,
			fmtMillis(res.P50Millis), fmtMillis(res.P99Millis), res.Errors, strings.Join(cpu, "\t"), strings.Join(rss, "\t"))
		if res.Errors > 0 {
			first := ""
			if len(res.FirstErrors) > 0 {
				first = "; first: " + res.FirstErrors[0]
			}
			notes = append(notes, fmt.Sprintf("%s: %d of %d requests failed%s", res.Workload, res.Errors, res.Requests, first))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Idle != nil {
		fmt.Fprintf(w, "idle cluster CPU: %.3f cores over %.0fs (gateway %.3f, storage %.3f, meta %.3f)\n",
			r.Idle.Cores.Total(), r.Idle.Seconds, r.Idle.Cores.Gateway, r.Idle.Cores.Storage, r.Idle.Cores.Meta)
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintf(w, "warp %s, %s per workload. MiB/s, obj/s, p50, p99: warp's own report. CPU-s per GiB: CPU time of all\n"+
		"processes of a role over warp's window divided by the GiB moved in it. Peak RSS: the largest VmRSS of one\n"+
		"process of the role, sampled every %s during the window. Every process shares this machine's cores.\n",
		r.WarpVersion, r.Duration, r.SampleEvery)
	_, err := fmt.Fprintf(w, "wall time %s\n", (time.Duration(r.WallSeconds) * time.Second).String())
	return err
}

func fmtMillis(ms float64) string {
	switch {
	case ms <= 0:
		return "-"
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.2fs", ms/1000)
	}
}
