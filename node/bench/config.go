package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Operations warp is run with.
const (
	OpPut = "PUT"
	OpGet = "GET"
)

// Fault is what is done to the cluster for the length of one workload.
type Fault string

const (
	// NoFault runs the workload on a healthy cluster.
	NoFault Fault = ""
	// KillTwo kills two storage nodes (SIGKILL) before the measurement
	// and restarts them after it.
	KillTwo Fault = "kill-2-storage"
	// FreezeTwo stops two storage nodes (SIGSTOP) before the measurement
	// and resumes them (SIGCONT) after it: a hung node, which keeps its
	// connections open but never answers.
	FreezeTwo Fault = "freeze-2-storage"
)

// Workload is one row of the table.
type Workload struct {
	Name    string
	Op      string // OpPut or OpGet
	Size    int64  // object size, bytes
	Clients int    // warp's --concurrent
	// Objects is how many objects a GET workload reads from (uploaded
	// before the measurement; workloads of one size share them).
	Objects int
	Fault   Fault
}

// DefaultWorkloads is the matrix `cairn bench` runs unless told otherwise.
func DefaultWorkloads() []Workload {
	const kib, mib = 1 << 10, 1 << 20
	return []Workload{
		{Name: "put-4k", Op: OpPut, Size: 4 * kib, Clients: 16},
		{Name: "put-1m", Op: OpPut, Size: mib, Clients: 16},
		{Name: "put-64m", Op: OpPut, Size: 64 * mib, Clients: 4},
		{Name: "get-1m", Op: OpGet, Size: mib, Clients: 16, Objects: 256},
		{Name: "get-64m", Op: OpGet, Size: 64 * mib, Clients: 4, Objects: 12},
		{Name: "get-1m-2killed", Op: OpGet, Size: mib, Clients: 16, Objects: 256, Fault: KillTwo},
		{Name: "get-1m-2frozen", Op: OpGet, Size: mib, Clients: 16, Objects: 256, Fault: FreezeTwo},
		// Many large bodies at once: the gateway's memory must stay bounded
		// by the stripes in flight (objio.Config.StripesInFlight per PUT),
		// not grow with the bodies; the peak RSS column shows it. Last,
		// because the Go heap it leaves behind would raise the peak RSS of
		// the workloads after it.
		{Name: "put-64m-32c", Op: OpPut, Size: 64 * mib, Clients: 32},
	}
}

// SelectWorkloads returns the named workloads of the default matrix, in the
// order given; an empty list selects them all.
func SelectWorkloads(names []string) ([]Workload, error) {
	all := DefaultWorkloads()
	if len(names) == 0 {
		return all, nil
	}
	var out []Workload
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		found := false
		for _, w := range all {
			if w.Name == n {
				out = append(out, w)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("bench: unknown workload %q (known: %s)", n, strings.Join(WorkloadNames(), ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("bench: no workload selected")
	}
	return out, nil
}

// WorkloadNames lists the default matrix's names.
func WorkloadNames() []string {
	var out []string
	for _, w := range DefaultWorkloads() {
		out = append(out, w.Name)
	}
	return out
}

// Config configures one benchmark run.
type Config struct {
	// Binary is the cairn binary the cluster's processes run.
	Binary string
	// Warp is the warp binary.
	Warp string
	// Dir holds the cluster's data and logs and warp's files. It must not
	// hold a cluster already. "" makes a temporary directory, removed at
	// the end unless Keep is set or the run failed.
	Dir  string
	Keep bool
	// Workloads to run, in order; default DefaultWorkloads.
	Workloads []Workload
	// Duration of each measured window; default 20s.
	Duration time.Duration
	// Idle is how long the idle cluster's CPU is measured before the first
	// workload; default 20s, negative to skip.
	Idle time.Duration
	// SampleEvery is the /proc sampling interval; default 250ms.
	SampleEvery time.Duration
	// Logger reports progress; default discards.
	Logger *slog.Logger
	// InsecureInternal runs the cluster without mutual TLS between its
	// processes, and S3TLS serves S3 over HTTPS (warp with --tls): the two
	// settings whose cost the README reports. Both off is the default
	// cluster (mutual TLS inside, plain HTTP S3).
	InsecureInternal bool
	S3TLS            bool
	// Env is more environment for every process of the cluster (server
	// flags in their CAIRN_* form), to measure a setting's effect.
	Env []string
}

func (c *Config) setDefaults() {
	if len(c.Workloads) == 0 {
		c.Workloads = DefaultWorkloads()
	}
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.Idle == 0 {
		c.Idle = 20 * time.Second
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports a configuration that cannot run.
func (c *Config) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("bench: cairn binary is required")
	case c.Warp == "":
		return errors.New("bench: warp binary is required")
	case c.Duration < 2*time.Second:
		// Warp needs whole one-second segments beyond its ramp.
		return fmt.Errorf("bench: duration %v is shorter than 2s", c.Duration)
	case c.SampleEvery <= 0 || c.SampleEvery > c.Duration/4:
		return fmt.Errorf("bench: sampling interval %v must be positive and at most a quarter of the duration", c.SampleEvery)
	}
	for _, w := range c.Workloads {
		if w.Op != OpPut && w.Op != OpGet {
			return fmt.Errorf("bench: workload %s: unknown operation %q", w.Name, w.Op)
		}
		if w.Size <= 0 || w.Clients <= 0 || (w.Op == OpGet && w.Objects <= 0) {
			return fmt.Errorf("bench: workload %s: size, clients and (for GET) objects must be positive", w.Name)
		}
	}
	return nil
}
