package bench

import (
	"slices"
	"sync"
	"time"
)

// Roles are the process roles the figures are grouped by, in table order.
var Roles = []string{"gateway", "storage", "meta"}

// ClientRole is the role of the load generator's process (warp), sampled
// like the cluster's roles but reported apart from them.
const ClientRole = "client"

// procRef names one running process: of the cluster, or the client.
type procRef struct {
	Name string
	Role string
	Pid  int
	// Tree counts the process's descendants too (see treeReader); its
	// samples carry CPU time only.
	Tree bool
}

// procKey identifies one process instance: a restarted process gets a new
// PID and starts its CPU counter at zero, so it is a new series.
type procKey struct {
	Name string
	Role string
	Pid  int
}

type point struct {
	At time.Time
	procSample
}

// history is every sample taken, per process instance. Its methods are
// pure: they answer questions about a time window.
type history map[procKey][]point

// cpuSeconds is the CPU time the processes of role spent between from and
// to. Each process's counter is interpolated linearly between the samples
// that bracket from and to, so the window need not fall on sampling
// instants; a process sampled only inside part of the window contributes
// that part.
func (h history) cpuSeconds(role string, from, to time.Time) float64 {
	var total float64
	for k, pts := range h {
		if k.Role != role || len(pts) == 0 {
			continue
		}
		if pts[len(pts)-1].At.Before(from) || pts[0].At.After(to) {
			continue
		}
		total += cpuAt(pts, to) - cpuAt(pts, from)
	}
	return total
}

// cpuAt interpolates a process's CPU counter at t, clamped to the first and
// last samples. pts is in time order.
func cpuAt(pts []point, t time.Time) float64 {
	a, b, frac := bracket(len(pts), func(i int) time.Time { return pts[i].At }, t)
	return pts[a].CPUSeconds + frac*(pts[b].CPUSeconds-pts[a].CPUSeconds)
}

// bracket finds where t falls among n samples taken at at(0) … at(n-1), in
// time order: between samples a and b = a+1, frac of the way from a to b.
// Before the first sample and after the last it clamps (a = b, frac 0).
// n must be positive.
func bracket(n int, at func(int) time.Time, t time.Time) (a, b int, frac float64) {
	if !t.After(at(0)) {
		return 0, 0, 0
	}
	for i := 1; i < n; i++ {
		if t.After(at(i)) {
			continue
		}
		span := at(i).Sub(at(i - 1))
		if span <= 0 {
			return i, i, 0
		}
		return i - 1, i, float64(t.Sub(at(i-1))) / float64(span)
	}
	return n - 1, n - 1, 0
}

type machinePoint struct {
	At time.Time
	cpuTimes
}

// machineHistory is every sample of /proc/stat taken, in time order.
type machineHistory []machinePoint

// Machine is how the whole machine's CPUs spent a window, from /proc/stat:
// the cluster, the client and anything else running on it.
type Machine struct {
	// Cores is the number of CPUs /proc/stat accounts for (its cpuN
	// lines), which the fractions below are of.
	Cores int `json:"cores"`
	// BusyFraction is the share of all cores' time that was neither idle
	// nor iowait; StealFraction, inside it, is what the hypervisor took.
	BusyFraction   float64 `json:"busy_fraction"`
	IowaitFraction float64 `json:"iowait_fraction"`
	StealFraction  float64 `json:"steal_fraction"`
}

// over is the machine's figures between from and to, the counters
// interpolated like cpuAt's; false without samples or time between them.
// The fractions are of the time the kernel accounted to all cores in the
// window, which is cores × window as the kernel counts it.
func (m machineHistory) over(from, to time.Time) (Machine, bool) {
	if len(m) == 0 {
		return Machine{}, false
	}
	a, b := m.at(from), m.at(to)
	total := b.Total - a.Total
	if total <= 0 {
		return Machine{}, false
	}
	return Machine{
		Cores:          b.Cores,
		BusyFraction:   (b.Busy - a.Busy) / total,
		IowaitFraction: (b.Iowait - a.Iowait) / total,
		StealFraction:  (b.Steal - a.Steal) / total,
	}, true
}

// at interpolates every counter at t; Cores is the later sample's.
func (m machineHistory) at(t time.Time) cpuTimes {
	a, b, frac := bracket(len(m), func(i int) time.Time { return m[i].At }, t)
	lerp := func(x, y float64) float64 { return x + frac*(y-x) }
	pa, pb := m[a].cpuTimes, m[b].cpuTimes
	return cpuTimes{
		Cores:  pb.Cores,
		Busy:   lerp(pa.Busy, pb.Busy),
		Iowait: lerp(pa.Iowait, pb.Iowait),
		Steal:  lerp(pa.Steal, pb.Steal),
		Total:  lerp(pa.Total, pb.Total),
	}
}

// peakRSS is the largest resident set of any one process of role sampled
// between from and to (inclusive), in bytes: the memory one node of that
// role needed. Sampling misses peaks shorter than the sampling interval.
func (h history) peakRSS(role string, from, to time.Time) int64 {
	var peak int64
	for k, pts := range h {
		if k.Role != role {
			continue
		}
		for _, p := range pts {
			if p.At.Before(from) || p.At.After(to) {
				continue
			}
			peak = max(peak, p.RSS)
		}
	}
	return peak
}

// sampler reads /proc for every process of the cluster and the client,
// and /proc/stat for the machine, at a fixed interval until stopped.
type sampler struct {
	procs       func() []procRef
	read        func(pid int) (procSample, error)
	readTree    func(pid int) (float64, error)
	readMachine func() (cpuTimes, error)
	every       time.Duration
	now         func() time.Time

	mu struct {
		sync.Mutex
		h       history
		machine machineHistory
	}
	stop chan struct{}
	done chan struct{}
}

func newSampler(procs func() []procRef, every time.Duration) *sampler {
	s := &sampler{procs: procs, read: readProc, readTree: newTreeReader().read, readMachine: readCPUTimes, every: every, now: time.Now}
	s.mu.h = history{}
	return s
}

// start launches the sampling goroutine; Close stops and joins it.
func (s *sampler) start() {
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			s.sampleOnce()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (s *sampler) sampleOnce() {
	for _, p := range s.procs() {
		if p.Pid == 0 {
			continue
		}
		var ps procSample
		var err error
		if p.Tree {
			ps.CPUSeconds, err = s.readTree(p.Pid)
		} else {
			ps, err = s.read(p.Pid)
		}
		at := s.now()
		if err != nil {
			// The process exited between listing and reading (a killed
			// node, the client at its end): it simply has no sample now.
			continue
		}
		s.record(procKey{Name: p.Name, Role: p.Role, Pid: p.Pid}, at, ps)
	}
	if ct, err := s.readMachine(); err == nil {
		at := s.now()
		s.mu.Lock()
		s.mu.machine = append(s.mu.machine, machinePoint{At: at, cpuTimes: ct})
		s.mu.Unlock()
	}
	// A /proc/stat that cannot be read leaves the machine's figures out
	// of the report; the processes' figures stand without them.
}

// record adds one sample of a process taken at at. The client's last
// sample comes from its exit status (see warpHooks), not from /proc.
func (s *sampler) record(k procKey, at time.Time, ps procSample) {
	s.mu.Lock()
	s.mu.h[k] = append(s.mu.h[k], point{At: at, procSample: ps})
	s.mu.Unlock()
}

// Close stops the sampler and waits for its goroutine.
func (s *sampler) Close() {
	if s.stop == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.stop = nil
}

// snapshot takes a sample now, so that a window ending now is bracketed,
// and returns a copy of the processes' and the machine's histories.
func (s *sampler) snapshot() (history, machineHistory) {
	s.sampleOnce()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(history, len(s.mu.h))
	for k, v := range s.mu.h {
		pts := append([]point(nil), v...)
		// The ticker's sample and this one (or the client's exit) may
		// have been appended out of time order.
		slices.SortStableFunc(pts, func(a, b point) int { return a.At.Compare(b.At) })
		out[k] = pts
	}
	m := append(machineHistory(nil), s.mu.machine...)
	slices.SortStableFunc(m, func(a, b machinePoint) int { return a.At.Compare(b.At) })
	return out, m
}
