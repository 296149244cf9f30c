package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// Linux fixes it at 100 for every user-space ABI, whatever the kernel's HZ.
const clockTicks = 100

var errMalformed = errors.New("bench: malformed /proc file")

// procSample is what one look at /proc tells about one process.
type procSample struct {
	CPUSeconds float64 // utime + stime since the process started
	RSS        int64   // VmRSS, bytes
	HWM        int64   // VmHWM, the lifetime peak of RSS, bytes
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status.
func readProc(pid int) (procSample, error) {
	st, err := readStat(pid)
	if err != nil {
		return procSample{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("bench: read status of %d: %w", pid, err)
	}
	mem, err := parseStatus(status)
	if err != nil {
		return procSample{}, fmt.Errorf("bench: status of %d: %w", pid, err)
	}
	return procSample{CPUSeconds: st.CPU, RSS: mem["VmRSS"], HWM: mem["VmHWM"]}, nil
}

// stat is what the figures need of /proc/<pid>/stat.
type stat struct {
	PPid int
	// CPU is utime + stime, seconds: the process's own CPU time.
	CPU float64
	// ChildCPU is cutime + cstime, seconds: the CPU time of the children
	// the process has waited for (and of theirs).
	ChildCPU float64
}

// parseStat reads the content of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("%w: no command name", errMalformed)
	}
	// After ')': field 3 (state) is index 0, so ppid (field 4) is index 1,
	// utime (field 14) index 11, stime 12, cutime 13 and cstime 14.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return stat{}, fmt.Errorf("%w: %d fields after the command name", errMalformed, len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return stat{}, fmt.Errorf("%w: ppid: %v", errMalformed, err)
	}
	var ticks [4]uint64
	for j, name := range []string{"utime", "stime", "cutime", "cstime"} {
		// cutime and cstime are signed in the kernel's format but never
		// negative.
		if ticks[j], err = strconv.ParseUint(f[11+j], 10, 64); err != nil {
			return stat{}, fmt.Errorf("%w: %s: %v", errMalformed, name, err)
		}
	}
	return stat{
		PPid:     ppid,
		CPU:      float64(ticks[0]+ticks[1]) / clockTicks,
		ChildCPU: float64(ticks[2]+ticks[3]) / clockTicks,
	}, nil
}

// treeRescan is how often treeReader looks through every process of the
// machine for the tree's members. A scan reads one file per process (about
// 2 ms for 75 processes on the project's machines), too dear for every
// sample on the machine being measured.
const treeRescan = time.Second

// treeReader reads the CPU time, in seconds, of a process and of every
// descendant alive, each counted with the children it has waited for
// (utime + stime + cutime + cstime, summed). Unlike one process's
// utime + stime, this counter does not drop when a descendant exits: once
// waited for, its time moves into its parent's cutime and cstime.
//
// The kernel this runs on may lack /proc/<pid>/task/<tid>/children, so
// the members are found by reading every process's parent from
// /proc/<pid>/stat, at most every `every`; in between, only the members
// known are read. A descendant started since the last scan adds the time
// it spent until the next one as one step; one that exits between two
// readings adds the time it spent since the first at the second.
type treeReader struct {
	every     time.Duration
	now       func() time.Time
	readStats func() (map[int]stat, error)
	readStat  func(pid int) (stat, error)

	// mu guards the members: the sampler's goroutine and snapshot read
	// concurrently.
	mu struct {
		sync.Mutex
		root    int
		members []int // root first, every parent before its children
		scanned time.Time
	}
}

func newTreeReader() *treeReader {
	return &treeReader{every: treeRescan, now: time.Now, readStats: readStats, readStat: readStat}
}

// read is the tree's counter now; an error if root is gone.
func (t *treeReader) read(root int) (float64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if root != t.mu.root || now.Sub(t.mu.scanned) >= t.every {
		stats, err := t.readStats()
		if err != nil {
			return 0, err
		}
		cpu, err := treeCPU(root, stats)
		if err != nil {
			return 0, err
		}
		t.mu.root, t.mu.members, t.mu.scanned = root, descendants(root, stats), now
		return cpu, nil
	}
	var total float64
	alive := make(map[int]bool, len(t.mu.members))
	for i, p := range t.mu.members {
		st, err := t.readStat(p)
		if err != nil {
			if i == 0 {
				return 0, err
			}
			continue // exited and waited for: its time is its parent's now
		}
		if i > 0 && !alive[st.PPid] {
			continue // its parent has gone, or the PID is another process's now
		}
		alive[p] = true
		total += st.CPU + st.ChildCPU
	}
	return total, nil
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, fmt.Errorf("bench: read stat of %d: %w", pid, err)
	}
	st, err := parseStat(b)
	if err != nil {
		return stat{}, fmt.Errorf("bench: stat of %d: %w", pid, err)
	}
	return st, nil
}

// readStats reads /proc/<pid>/stat of every process, keyed by PID.
func readStats() (map[int]stat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("bench: list processes: %w", err)
	}
	stats := make(map[int]stat, len(entries))
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p <= 0 {
			continue // not a process
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue // exited since the listing
		}
		st, err := parseStat(b)
		if err != nil {
			return nil, fmt.Errorf("bench: stat of %d: %w", p, err)
		}
		stats[p] = st
	}
	return stats, nil
}

// treeCPU sums CPU and ChildCPU over root and its descendants in stats
// (keyed by PID).
func treeCPU(root int, stats map[int]stat) (float64, error) {
	if _, ok := stats[root]; !ok {
		return 0, fmt.Errorf("bench: process %d: %w", root, os.ErrNotExist)
	}
	var total float64
	for _, p := range descendants(root, stats) {
		total += stats[p].CPU + stats[p].ChildCPU
	}
	return total, nil
}

// descendants is root followed by every process in stats whose chain of
// parents leads to root.
func descendants(root int, stats map[int]stat) []int {
	children := map[int][]int{}
	for p, st := range stats {
		children[st.PPid] = append(children[st.PPid], p)
	}
	out := []int{root}
	seen := map[int]bool{root: true}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			// seen guards against a PID reused while /proc was read,
			// which could make a parent look like its own descendant.
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// cpuTimes is the machine's CPU time from the "cpu" line of /proc/stat,
// in seconds summed over all cores.
type cpuTimes struct {
	// Cores counts the cpuN lines: the CPUs the kernel accounts time for,
	// the same ones the other fields add up.
	Cores int
	// Busy is every state but idle and iowait: user, nice, system, irq,
	// softirq and steal (guest time is already inside user and nice).
	Busy float64
	// Iowait is idle time while the CPU had disk I/O outstanding.
	Iowait float64
	// Steal is the time the hypervisor ran something else while this
	// machine's CPU had work (inside Busy).
	Steal float64
	// Total is every state, idle included.
	Total float64
}

// parseCPUTimes reads the content of /proc/stat. Kernels older than the
// iowait, irq, softirq or steal fields print fewer columns; the missing
// ones count as zero.
func parseCPUTimes(b []byte) (cpuTimes, error) {
	var ct cpuTimes
	found := false
	for rest := b; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		f := strings.Fields(string(line))
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			if found {
				// The cpu lines come first; what follows is not needed
				// (intr, which can run to hundreds of kilobytes on a
				// machine with many interrupts, is not even split).
				break
			}
			continue
		}
		if f[0] != "cpu" {
			if _, err := strconv.Atoi(f[0][len("cpu"):]); err == nil {
				ct.Cores++
			}
			continue
		}
		// user nice system idle iowait irq softirq steal guest guest_nice
		if len(f) < 5 {
			return cpuTimes{}, fmt.Errorf("%w: cpu line has %d fields", errMalformed, len(f)-1)
		}
		var v [8]float64
		for i := 0; i < len(v) && i+1 < len(f); i++ {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("%w: cpu field %d: %v", errMalformed, i+1, err)
			}
			v[i] = float64(n) / clockTicks
		}
		user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		ct.Busy = user + nice + system + irq + softirq + steal
		ct.Iowait = iowait
		ct.Steal = steal
		ct.Total = ct.Busy + idle + iowait
		found = true
	}
	if !found {
		return cpuTimes{}, fmt.Errorf("%w: no cpu line", errMalformed)
	}
	if ct.Cores == 0 {
		return cpuTimes{}, fmt.Errorf("%w: no cpuN lines", errMalformed)
	}
	return ct, nil
}

// readCPUTimes reads /proc/stat.
func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("bench: read /proc/stat: %w", err)
	}
	return parseCPUTimes(b)
}

// parseStatus returns the "Vm…" sizes of /proc/<pid>/status in bytes, keyed
// by name (VmRSS, VmHWM, …). Kernel threads have none; that is not an error.
func parseStatus(b []byte) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(name, "Vm") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return nil, fmt.Errorf("%w: %s: %q", errMalformed, name, rest)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errMalformed, name, err)
		}
		out[name] = n << 10
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: scan status: %w", err)
	}
	return out, nil
}
