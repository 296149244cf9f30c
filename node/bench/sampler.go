package bench

import (
	"slices"
	"sync"
	"time"
)

// Roles are the process roles the figures are grouped by, in table order.
var Roles = []string{"gateway", "storage", "meta"}

// procRef names one running process of the cluster.
type procRef struct {
	Name string
	Role string
	Pid  int
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
	if !t.After(pts[0].At) {
		return pts[0].CPUSeconds
	}
	for i := 1; i < len(pts); i++ {
		if t.After(pts[i].At) {
			continue
		}
		a, b := pts[i-1], pts[i]
		span := b.At.Sub(a.At)
		if span <= 0 {
			return b.CPUSeconds
		}
		frac := float64(t.Sub(a.At)) / float64(span)
		return a.CPUSeconds + frac*(b.CPUSeconds-a.CPUSeconds)
	}
	return pts[len(pts)-1].CPUSeconds
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

// sampler reads /proc for every process of the cluster at a fixed interval
// until stopped.
type sampler struct {
	procs func() []procRef
	read  func(pid int) (procSample, error)
	every time.Duration
	now   func() time.Time

	mu struct {
		sync.Mutex
		h history
	}
	stop chan struct{}
	done chan struct{}
}

func newSampler(procs func() []procRef, every time.Duration) *sampler {
	s := &sampler{procs: procs, read: readProc, every: every, now: time.Now}
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
		ps, err := s.read(p.Pid)
		at := s.now()
		if err != nil {
			// The process exited between listing and reading (a killed
			// node): it simply has no sample now.
			continue
		}
		k := procKey(p)
		s.mu.Lock()
		s.mu.h[k] = append(s.mu.h[k], point{At: at, procSample: ps})
		s.mu.Unlock()
	}
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
// and returns a copy of the history.
func (s *sampler) snapshot() history {
	s.sampleOnce()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(history, len(s.mu.h))
	for k, v := range s.mu.h {
		pts := append([]point(nil), v...)
		// The ticker's sample and this one may have been appended out of
		// time order.
		slices.SortStableFunc(pts, func(a, b point) int { return a.At.Compare(b.At) })
		out[k] = pts
	}
	return out
}
