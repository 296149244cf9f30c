package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
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
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("bench: read stat of %d: %w", pid, err)
	}
	cpu, err := parseStat(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("bench: stat of %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("bench: read status of %d: %w", pid, err)
	}
	mem, err := parseStatus(status)
	if err != nil {
		return procSample{}, fmt.Errorf("bench: status of %d: %w", pid, err)
	}
	return procSample{CPUSeconds: cpu, RSS: mem["VmRSS"], HWM: mem["VmHWM"]}, nil
}

// parseStat returns utime+stime in seconds from the content of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last
// ')'.
func parseStat(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no command name", errMalformed)
	}
	// After ')': field 3 (state) is index 0, so utime (field 14) is index
	// 11 and stime (field 15) index 12.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: %d fields after the command name", errMalformed, len(f))
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: utime: %v", errMalformed, err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: stime: %v", errMalformed, err)
	}
	return float64(utime+stime) / clockTicks, nil
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
