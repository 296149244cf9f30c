package bench

import (
	"bytes"
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

	// ClientCPUSeconds is the CPU time of warp (and of any process it
	// started) over the same window; ClientCPUPerGiB per GiB moved.
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	ClientCPUPerGiB  float64 `json:"client_cpu_seconds_per_gib"`
	// Machine is the whole machine over the window; nil if /proc/stat
	// could not be sampled.
	Machine *Machine `json:"machine,omitempty"`
	// CPUCeilingMiBPerSec is the throughput if all of Machine.Cores did
	// nothing but this workload's work, at its CPU-s per GiB of all roles
	// and the client (see cpuCeiling); 0 when nothing was moved.
	CPUCeilingMiBPerSec float64 `json:"cpu_ceiling_mib_per_sec,omitempty"`

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

// cpuCeiling is the throughput, in MiB/s, that cores would reach if every
// one of them were busy with work that costs cpuPerGiB CPU seconds per GiB
// moved: a workload cannot go faster on this machine without costing less
// CPU. False without cores or without a cost.
func cpuCeiling(cores int, cpuPerGiB float64) (float64, bool) {
	if cores <= 0 || cpuPerGiB <= 0 {
		return 0, false
	}
	return float64(cores) / cpuPerGiB * gib / mib, true
}

// OfCeiling is the measured throughput as a fraction of the CPU ceiling;
// false when there is no ceiling.
func (r Result) OfCeiling() (float64, bool) {
	if r.CPUCeilingMiBPerSec <= 0 {
		return 0, false
	}
	return r.MiBPerSec / r.CPUCeilingMiBPerSec, true
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
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tMiB/s\tobj/s\tp50\tp99\terrors\t\tMiB/s\t%%\tbusy\tiowait\tgateway\tstorage\tmeta\tclient\tgateway\tstorage\tmeta\t\n", name("workload"))
	var notes []string
	cores := 0
	for _, res := range r.Results {
		if res.Failed != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", name(res.Workload))
			notes = append(notes, fmt.Sprintf("%s failed: %s", res.Workload, res.Failed))
			continue
		}
		bind := []string{"-", "-", "-", "-"}
		if c, ok := res.OfCeiling(); ok {
			bind[0], bind[1] = fmt.Sprintf("%.1f", res.CPUCeilingMiBPerSec), fmtPercent(c)
		}
		if m := res.Machine; m != nil {
			bind[2], bind[3] = fmtPercent(m.BusyFraction), fmtPercent(m.IowaitFraction)
			cores = max(cores, m.Cores)
		}
		cpu := make([]string, 0, len(Roles)+1)
		rss := make([]string, 0, len(Roles))
		for _, role := range Roles {
			if res.Bytes > 0 {
				cpu = append(cpu, fmt.Sprintf("%.2f", res.CPUPerGiB.Get(role)))
			} else {
				cpu = append(cpu, "-")
			}
			rss = append(rss, fmt.Sprintf("%.0f", res.PeakRSS.Get(role)/mib))
		}
		if res.Bytes > 0 {
			cpu = append(cpu, fmt.Sprintf("%.2f", res.ClientCPUPerGiB))
		} else {
			cpu = append(cpu, "-")
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%s\t%d\t\t%s\t%s\t%s\t\n", name(res.Workload), res.MiBPerSec, res.ObjPerSec,
			fmtMillis(res.P50Millis), fmtMillis(res.P99Millis), res.Errors,
			strings.Join(bind, "\t"), strings.Join(cpu, "\t"), strings.Join(rss, "\t"))
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
	header, _, _ := strings.Cut(table.String(), "\n")
	fmt.Fprintln(w, groupLine(header, tableGroups))
	if _, err := table.WriteTo(w); err != nil {
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
		"processes of a role (client: warp and what it started) over warp's window divided by the GiB moved in it.\n"+
		"Peak RSS: the largest VmRSS of one process of the role, sampled every %s during the window. Every\n"+
		"process shares this machine's cores.\n",
		r.WarpVersion, r.Duration, r.SampleEvery)
	if cores > 0 {
		fmt.Fprintf(w, "CPU ceiling: the MiB/s if all %d cores were busy with this mix of work, cores ÷ (CPU-s per GiB of all\n"+
			"roles + client); %%: the measured MiB/s of it. All cores: share of the cores' time in the window that was busy\n"+
			"(hypervisor steal included) or iowait, machine-wide. Near 100 %% of the ceiling with the cores busy, CPU binds;\n"+
			"busy cores well below it, other work took them; idle cores, something else binds: the client's concurrency,\n"+
			"waits inside the cluster, or the disk (iowait).\n", cores)
	}
	_, err := fmt.Fprintf(w, "wall time %s\n", (time.Duration(r.WallSeconds) * time.Second).String())
	return err
}

// headerGroup is a label over a run of the table's columns: from the
// first-th to the last-th word of its header line (0 is "workload").
type headerGroup struct {
	label       string
	first, last int
}

var tableGroups = []headerGroup{
	{label: "CPU ceiling", first: 6, last: 7},
	{label: "all cores", first: 8, last: 9},
	{label: "CPU-s per GiB", first: 10, last: 13},
	{label: "peak RSS MiB", first: 14, last: 16},
}

// groupLine is the line above header (a rendered header line whose column
// headers hold no spaces, columns aligned right) that centres each group's
// label over its columns: from the end of the column before the group to
// the end of its last. It is as wide as header, so that the table's lines
// share one width; a label wider than its columns ends at their end.
func groupLine(header string, groups []headerGroup) string {
	var ends []int // where each word of header ends
	for i := 0; i < len(header); i++ {
		if header[i] != ' ' && (i+1 == len(header) || header[i+1] == ' ') {
			ends = append(ends, i+1)
		}
	}
	line := []byte(strings.Repeat(" ", len(header)))
	for _, g := range groups {
		if g.first < 1 || g.last < g.first || g.last >= len(ends) {
			continue
		}
		from, to := ends[g.first-1], ends[g.last]
		start := from + (to-from-len(g.label)+1)/2
		if len(g.label) > to-from {
			start = max(to-len(g.label), 0)
		}
		copy(line[start:], g.label)
	}
	return string(line)
}

func fmtPercent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

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
