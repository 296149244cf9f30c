package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func pts(cpuByTime ...float64) []point {
	// pairs: time (s), cpu (s)
	var out []point
	for i := 0; i+1 < len(cpuByTime); i += 2 {
		out = append(out, point{At: at(cpuByTime[i]), procSample: procSample{CPUSeconds: cpuByTime[i+1]}})
	}
	return out
}

func TestHistoryCPUSeconds(t *testing.T) {
	h := history{
		// 0.5 core from t=0 to t=10.
		{Name: "gateway", Role: "gateway", Pid: 10}: pts(0, 100, 2, 101, 4, 102, 10, 105),
		// Two storage nodes at 1 core each.
		{Name: "storage-1", Role: "storage", Pid: 20}: pts(0, 0, 10, 10),
		{Name: "storage-2", Role: "storage", Pid: 21}: pts(0, 50, 10, 60),
		// storage-2 restarted at t=10 under a new PID, its counter from 0:
		// it is a new series, not a drop of 60 seconds.
		{Name: "storage-2", Role: "storage", Pid: 22}: pts(10, 0, 20, 2),
		// A meta node seen only before the windows below.
		{Name: "meta-1", Role: "meta", Pid: 30}: pts(0, 1, 1, 2),
	}
	tests := []struct {
		name     string
		role     string
		from, to float64
		want     float64
	}{
		{name: "on samples", role: "gateway", from: 2, to: 4, want: 1},
		{name: "between samples, interpolated", role: "gateway", from: 1, to: 7, want: 102.0 + 1.5 - 100.5},
		{name: "whole series", role: "gateway", from: 0, to: 10, want: 5},
		{name: "window past the last sample is clamped", role: "gateway", from: 8, to: 30, want: 105 - 104},
		{name: "role sums its processes", role: "storage", from: 0, to: 10, want: 20},
		{name: "a restart is a new series", role: "storage", from: 5, to: 15, want: 5 + 5 + 1},
		{name: "process not sampled in the window", role: "meta", from: 5, to: 10, want: 0},
		{name: "unknown role", role: "console", from: 0, to: 10, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.InDelta(t, tt.want, h.cpuSeconds(tt.role, at(tt.from), at(tt.to)), 1e-9)
		})
	}
}

func TestHistoryPeakRSS(t *testing.T) {
	rss := func(sec float64, mb int64) point {
		return point{At: at(sec), procSample: procSample{RSS: mb << 20}}
	}
	h := history{
		{Name: "storage-1", Role: "storage", Pid: 1}: {rss(0, 500), rss(1, 100), rss(2, 120), rss(3, 110), rss(9, 900)},
		{Name: "storage-2", Role: "storage", Pid: 2}: {rss(1, 90), rss(2, 130), rss(3, 95)},
		{Name: "gateway", Role: "gateway", Pid: 3}:   {rss(1, 50), rss(2, 60)},
	}
	tests := []struct {
		name     string
		role     string
		from, to float64
		wantMiB  int64
	}{
		{name: "largest single process in the window", role: "storage", from: 1, to: 3, wantMiB: 130},
		{name: "window bounds are inclusive", role: "storage", from: 0, to: 1, wantMiB: 500},
		{name: "samples outside the window are ignored", role: "storage", from: 2.5, to: 8, wantMiB: 110},
		{name: "other role", role: "gateway", from: 0, to: 10, wantMiB: 60},
		{name: "no sample", role: "meta", from: 0, to: 10, wantMiB: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.wantMiB<<20, h.peakRSS(tt.role, at(tt.from), at(tt.to)))
		})
	}
}

func TestCPUPerGiB(t *testing.T) {
	tests := []struct {
		name   string
		cpu    float64
		bytes  int64
		want   float64
		wantOK bool
	}{
		{name: "one GiB", cpu: 3, bytes: gib, want: 3, wantOK: true},
		{name: "half a GiB", cpu: 3, bytes: gib / 2, want: 6, wantOK: true},
		{name: "4 KiB objects", cpu: 0.5, bytes: 4096 * 1000, want: 0.5 / (4096 * 1000.0 / gib), wantOK: true},
		{name: "idle CPU, nothing moved", cpu: 2, bytes: 0, wantOK: false},
		{name: "no CPU", cpu: 0, bytes: gib, want: 0, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cpuPerGiB(tt.cpu, tt.bytes)
			require.Equal(t, tt.wantOK, ok)
			require.InDelta(t, tt.want, got, 1e-9)
		})
	}
	require.InDelta(t, 0.25, cores(5, 20*time.Second), 1e-12)
	require.Zero(t, cores(5, 0))
}

func TestSampler(t *testing.T) {
	clock := t0
	cpu := map[int]float64{7: 1, 8: 2}
	tree := map[int]float64{40: 3}
	machine := cpuTimes{Cores: 2, Busy: 10, Total: 100}
	procs := []procRef{
		{Name: "gateway", Role: "gateway", Pid: 7}, {Name: "storage-1", Role: "storage", Pid: 8}, {Name: "storage-2", Role: "storage", Pid: 0},
		{Name: "warp", Role: ClientRole, Pid: 40, Tree: true},
	}
	s := newSampler(func() []procRef { return procs }, time.Hour)
	s.now = func() time.Time { return clock }
	s.read = func(pid int) (procSample, error) {
		c, ok := cpu[pid]
		if !ok {
			return procSample{}, errors.New("no such process")
		}
		return procSample{CPUSeconds: c, RSS: int64(pid) << 20}, nil
	}
	s.readTree = func(pid int) (float64, error) {
		c, ok := tree[pid]
		if !ok {
			return 0, errors.New("no such process")
		}
		return c, nil
	}
	s.readMachine = func() (cpuTimes, error) { return machine, nil }
	s.snapshot()
	clock = at(10)
	cpu[7], cpu[8] = 6, 12
	tree[40] = 5
	machine.Busy, machine.Total = 15, 120
	procs[1].Pid = 9 // storage-1 killed and restarted; 9 vanished before being read
	s.snapshot()

	// The client exits: its PID is gone from /proc and from the list, and
	// its last figure comes from its exit status, recorded before the
	// snapshot's own sample.
	clock = at(11)
	delete(tree, 40)
	procs = procs[:3]
	s.record(procKey{Name: "warp", Role: ClientRole, Pid: 40}, at(10.5), procSample{CPUSeconds: 6})
	h, m := s.snapshot()
	require.Len(t, h, 3, "a process without a PID or that vanished is not sampled")
	require.InDelta(t, 5, h.cpuSeconds("gateway", at(0), at(10)), 1e-9)
	require.Len(t, h[procKey{Name: "storage-1", Role: "storage", Pid: 8}], 1)
	require.Equal(t, int64(7)<<20, h.peakRSS("gateway", at(0), at(10)))
	require.InDelta(t, 3, h.cpuSeconds(ClientRole, at(0), at(10.5)), 1e-9, "tree samples, then the exit's")
	require.Zero(t, h.peakRSS(ClientRole, at(0), at(11)), "the client's samples carry no memory")
	require.Len(t, m, 3)
	mach, ok := m.over(at(0), at(10))
	require.True(t, ok)
	require.Equal(t, Machine{Cores: 2, BusyFraction: 0.25}, mach)

	// Without /proc/stat the machine has no samples; processes still do.
	s.readMachine = func() (cpuTimes, error) { return cpuTimes{}, errors.New("no /proc/stat") }
	_, m2 := s.snapshot()
	require.Len(t, m2, 3)

	// The goroutine starts, samples and is joined.
	s.start()
	s.Close()
	s.Close() // idempotent
}

func TestMachineOver(t *testing.T) {
	mp := func(sec float64, busy, iowait, steal, total float64) machinePoint {
		return machinePoint{At: at(sec), cpuTimes: cpuTimes{Cores: 2, Busy: busy, Iowait: iowait, Steal: steal, Total: total}}
	}
	// Two cores: total grows by 2 s per second. From t=0 to 10 both cores
	// busy; from 10 to 20 half busy, a quarter iowait, a tenth stolen.
	m := machineHistory{
		mp(0, 0, 0, 0, 0),
		mp(10, 20, 0, 0, 20),
		mp(20, 30, 5, 2, 40),
	}
	tests := []struct {
		name     string
		h        machineHistory
		from, to float64
		want     Machine
		wantOK   bool
	}{
		{name: "on samples", h: m, from: 0, to: 10, want: Machine{Cores: 2, BusyFraction: 1}, wantOK: true},
		{name: "second half", h: m, from: 10, to: 20, want: Machine{Cores: 2, BusyFraction: 0.5, IowaitFraction: 0.25, StealFraction: 0.1}, wantOK: true},
		{name: "interpolated across samples", h: m, from: 5, to: 15, want: Machine{Cores: 2, BusyFraction: 0.75, IowaitFraction: 0.125, StealFraction: 0.05}, wantOK: true},
		{name: "window past the last sample is clamped", h: m, from: 15, to: 30, want: Machine{Cores: 2, BusyFraction: 0.5, IowaitFraction: 0.25, StealFraction: 0.1}, wantOK: true},
		{name: "window before the first sample", h: m[1:], from: 0, to: 5},
		{name: "one sample", h: m[:1], from: 0, to: 10},
		{name: "no sample", h: nil, from: 0, to: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.h.over(at(tt.from), at(tt.to))
			require.Equal(t, tt.wantOK, ok)
			if !ok {
				return
			}
			require.Equal(t, tt.want.Cores, got.Cores)
			require.InDelta(t, tt.want.BusyFraction, got.BusyFraction, 1e-9)
			require.InDelta(t, tt.want.IowaitFraction, got.IowaitFraction, 1e-9)
			require.InDelta(t, tt.want.StealFraction, got.StealFraction, 1e-9)
		})
	}
}

func TestCPUCeiling(t *testing.T) {
	tests := []struct {
		name      string
		cores     int
		cpuPerGiB float64
		want      float64
		wantOK    bool
	}{
		// 2 cores, 1 CPU-s per GiB: 2 GiB/s.
		{name: "one CPU-s per GiB", cores: 2, cpuPerGiB: 1, want: 2048, wantOK: true},
		// put-1m at 27.5 CPU-s per GiB in the servers and 2.5 in warp.
		{name: "1 MiB PUTs", cores: 2, cpuPerGiB: 30, want: 2.0 / 30 * 1024, wantOK: true},
		{name: "4 KiB PUTs", cores: 2, cpuPerGiB: 512, want: 4, wantOK: true},
		{name: "more cores, higher ceiling", cores: 8, cpuPerGiB: 4, want: 2048, wantOK: true},
		{name: "no CPU spent", cores: 2, cpuPerGiB: 0},
		{name: "no cores known", cores: 0, cpuPerGiB: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := cpuCeiling(tt.cores, tt.cpuPerGiB)
			require.Equal(t, tt.wantOK, ok)
			require.InDelta(t, tt.want, got, 1e-9)
		})
	}
}

func TestFillResult(t *testing.T) {
	// Over t=0..10, 1 GiB moved: gateway 4 s, storage 10 s, meta 2 s and
	// warp 4 s of CPU, on 2 cores of which 90 % was busy, 5 % iowait.
	h := history{
		{Name: "gateway", Role: "gateway", Pid: 1}:   pts(0, 0, 10, 4),
		{Name: "storage-1", Role: "storage", Pid: 2}: pts(0, 0, 10, 6),
		{Name: "storage-2", Role: "storage", Pid: 3}: pts(0, 0, 10, 4),
		{Name: "meta-1", Role: "meta", Pid: 4}:       pts(0, 0, 10, 2),
		// warp starts before the window and exits after it.
		{Name: "warp", Role: ClientRole, Pid: 5}: pts(-3, 0, 0, 0.5, 10, 4.5, 10.2, 4.6),
		// An earlier workload's warp, over before this window.
		{Name: "warp", Role: ClientRole, Pid: 6}: pts(-30, 0, -20, 9),
	}
	m := machineHistory{
		{At: at(0), cpuTimes: cpuTimes{Cores: 2}},
		{At: at(10), cpuTimes: cpuTimes{Cores: 2, Busy: 18, Iowait: 1, Steal: 0.5, Total: 20}},
	}
	wr := warpResult{Start: at(0), End: at(10), Bytes: gib, BytesPerSec: 100 * mib}

	var res Result
	fillResult(&res, wr, h, m)
	require.InDelta(t, 4, res.ClientCPUSeconds, 1e-9)
	require.InDelta(t, 4, res.ClientCPUPerGiB, 1e-9)
	require.InDelta(t, 16, res.CPUPerGiB.Total(), 1e-9, "the client is not a role")
	require.Equal(t, &Machine{Cores: 2, BusyFraction: 0.9, IowaitFraction: 0.05, StealFraction: 0.025}, res.Machine)
	// 2 cores ÷ (16 + 4) CPU-s per GiB = 0.1 GiB/s.
	require.InDelta(t, 102.4, res.CPUCeilingMiBPerSec, 1e-9)
	of, ok := res.OfCeiling()
	require.True(t, ok)
	require.InDelta(t, 100/102.4, of, 1e-9)

	// Nothing moved: no CPU per GiB and no ceiling, but the machine's
	// figures stand.
	var idle Result
	fillResult(&idle, warpResult{Start: at(0), End: at(10)}, h, m)
	require.Zero(t, idle.ClientCPUPerGiB)
	require.Zero(t, idle.CPUCeilingMiBPerSec)
	require.NotNil(t, idle.Machine)
	_, ok = idle.OfCeiling()
	require.False(t, ok)

	// No /proc/stat samples: no machine and no ceiling.
	var blind Result
	fillResult(&blind, wr, h, nil)
	require.Nil(t, blind.Machine)
	require.Zero(t, blind.CPUCeilingMiBPerSec)
	require.InDelta(t, 4, blind.ClientCPUPerGiB, 1e-9)
}

type fakeTarget struct {
	calls     []string
	failOn    string
	running   map[string]bool
	frozenNow map[string]bool
}

func (f *fakeTarget) do(call string) error {
	f.calls = append(f.calls, call)
	if call == f.failOn {
		return errors.New("injected")
	}
	return nil
}

func (f *fakeTarget) Kill(name string) error      { return f.do("kill " + name) }
func (f *fakeTarget) StartProc(name string) error { return f.do("start " + name) }
func (f *fakeTarget) Signal(name string, sig syscall.Signal) error {
	err := f.do(fmt.Sprintf("%s %s", map[syscall.Signal]string{syscall.SIGSTOP: "stop", syscall.SIGCONT: "cont"}[sig], name))
	if err == nil {
		f.frozenNow[name] = sig == syscall.SIGSTOP
	}
	return err
}

func TestApplyFault(t *testing.T) {
	victims := []string{"s1", "s2"}
	errRun := errors.New("warp failed")
	tests := []struct {
		name        string
		fault       Fault
		failOn      string
		runErr      error
		wantCalls   []string
		wantRun     bool
		wantRunErr  bool
		wantRestore bool
	}{
		{name: "none", fault: NoFault, wantRun: true, wantCalls: []string{"run"}},
		{name: "kill", fault: KillTwo, wantRun: true, wantCalls: []string{"kill s1", "kill s2", "run", "start s1", "start s2", "ready"}},
		{name: "kill, run fails", fault: KillTwo, runErr: errRun, wantRun: true, wantRunErr: true,
			wantCalls: []string{"kill s1", "kill s2", "run", "start s1", "start s2", "ready"}},
		{name: "kill fails: no run, still restarted", fault: KillTwo, failOn: "kill s2", wantRunErr: true,
			wantCalls: []string{"kill s1", "kill s2", "start s1", "start s2", "ready"}},
		{name: "restart fails", fault: KillTwo, failOn: "start s1", wantRun: true, wantRestore: true,
			wantCalls: []string{"kill s1", "kill s2", "run", "start s1", "start s2"}},
		{name: "freeze", fault: FreezeTwo, wantRun: true, wantCalls: []string{"stop s1", "stop s2", "run", "cont s1", "cont s2", "ready"}},
		{name: "freeze, run fails: resumed", fault: FreezeTwo, runErr: errRun, wantRun: true, wantRunErr: true,
			wantCalls: []string{"stop s1", "stop s2", "run", "cont s1", "cont s2", "ready"}},
		{name: "second freeze fails: first resumed", fault: FreezeTwo, failOn: "stop s2", wantRunErr: true,
			wantCalls: []string{"stop s1", "stop s2", "cont s1", "ready"}},
		{name: "resume fails", fault: FreezeTwo, failOn: "cont s1", wantRun: true, wantRestore: true,
			wantCalls: []string{"stop s1", "stop s2", "run", "cont s1", "cont s2"}},
		{name: "unknown", fault: Fault("flood"), wantRunErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTarget{failOn: tt.failOn, frozenNow: map[string]bool{}}
			ran := false
			out, runErr, restoreErr := applyFault(context.Background(), ft,
				func(context.Context) error { ft.calls = append(ft.calls, "ready"); return nil },
				tt.fault, victims, func() ([]byte, error) {
					ran = true
					ft.calls = append(ft.calls, "run")
					return []byte("report"), tt.runErr
				})
			require.Equal(t, tt.wantRun, ran)
			require.Equal(t, tt.wantCalls, ft.calls)
			require.Equal(t, tt.wantRunErr, runErr != nil, "run error: %v", runErr)
			require.Equal(t, tt.wantRestore, restoreErr != nil, "restore error: %v", restoreErr)
			if ran {
				require.Equal(t, "report", string(out))
			}
			for name, frozen := range ft.frozenNow {
				if frozen && tt.failOn != "cont "+name {
					t.Errorf("%s left frozen", name)
				}
			}
		})
	}
}

// normalize squeezes runs of spaces, so tests do not depend on column
// widths.
func normalize(s string) string {
	return regexp.MustCompile(` +`).ReplaceAllString(s, " ")
}

func TestWriteTable(t *testing.T) {
	busy := &Machine{Cores: 2, BusyFraction: 0.968, IowaitFraction: 0.012}
	rep := Report{
		WarpVersion: WarpVersion, Duration: "20s", SampleEvery: "250ms", WallSeconds: 312.4,
		Idle: &Idle{Seconds: 20, Cores: RoleFigures{Gateway: 0.01, Storage: 0.04, Meta: 0.03}},
		Results: []Result{
			{
				Workload: "put-1m", MiBPerSec: 68.04, ObjPerSec: 68.04, P50Millis: 218.4, P99Millis: 1405, Requests: 1400, Bytes: gib,
				CPUPerGiB:       RoleFigures{Gateway: 6.234, Storage: 15.09, Meta: 2.456},
				ClientCPUPerGiB: 1.5, Machine: busy, CPUCeilingMiBPerSec: 81.33,
				PeakRSS: RoleFigures{Gateway: 102 << 20, Storage: 72 << 20, Meta: 44 << 20},
			},
			{
				Workload: "get-1m-2frozen", MiBPerSec: 1.1, ObjPerSec: 1.1, P50Millis: 6060, P99Millis: 7.5, Requests: 40, Errors: 3,
				FirstErrors: []string{"503 Service Unavailable"}, Bytes: 0,
				Machine: &Machine{Cores: 2, BusyFraction: 0.051, IowaitFraction: 0.004},
				PeakRSS: RoleFigures{Gateway: 82 << 20, Storage: 57 << 20, Meta: 46 << 20},
			},
			{Workload: "put-64m", Failed: "bench: warp put: exit status 1"},
			{
				// A report without the machine's figures (/proc/stat could
				// not be read): no ceiling, no busy and iowait.
				Workload: "get-64m", MiBPerSec: 400, ObjPerSec: 6.25, P50Millis: 600, P99Millis: 900, Requests: 125, Bytes: 8 * gib,
				CPUPerGiB: RoleFigures{Gateway: 2, Storage: 1.5, Meta: 0.1}, ClientCPUPerGiB: 0.75,
				PeakRSS: RoleFigures{Gateway: 300 << 20, Storage: 80 << 20, Meta: 45 << 20},
			},
		},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, rep))
	got := normalize(buf.String())
	for _, want := range []string{
		" CPU ceiling all cores CPU-s per GiB peak RSS MiB",
		" workload MiB/s obj/s p50 p99 errors MiB/s % busy iowait gateway storage meta client gateway storage meta\n",
		" put-1m 68.0 68.0 218ms 1.41s 0 81.3 84% 97% 1% 6.23 15.09 2.46 1.50 102 72 44\n",
		" get-1m-2frozen 1.1 1.1 6.06s 7.50ms 3 - - 5% 0% - - - - 82 57 46\n",
		" put-64m - - - - - - - - - - - - - - - -\n",
		" get-64m 400.0 6.2 600ms 900ms 0 - - - - 2.00 1.50 0.10 0.75 300 80 45\n",
		"idle cluster CPU: 0.080 cores over 20s (gateway 0.010, storage 0.040, meta 0.030)\n",
		"get-1m-2frozen: 3 of 40 requests failed; first: 503 Service Unavailable\n",
		"put-64m failed: bench: warp put: exit status 1\n",
		"warp " + WarpVersion + ", 20s per workload.",
		"(client: warp and what it started)",
		"sampled every 250ms",
		"CPU ceiling: the MiB/s if all 2 cores were busy with this mix of work",
		"Near 100 % of the ceiling with the cores busy, CPU binds",
		"wall time 5m12s\n",
	} {
		require.Contains(t, got, want)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	// The group line, the header and the rows share one width.
	for _, l := range lines[:6] {
		require.Equal(t, len(lines[0]), len(l), "row %q", l)
	}
	// Each group's label sits over its columns: it ends no later than its
	// last column's header and starts after the column before the group.
	for _, g := range []struct{ label, before, last string }{
		{"CPU ceiling", "errors", "  %"},
		{"all cores", "  %", "iowait"},
		{"CPU-s per GiB", "iowait", "client"},
		{"peak RSS MiB", "client", "meta  "},
	} {
		start := strings.Index(lines[0], g.label)
		require.GreaterOrEqual(t, start, strings.Index(lines[1], g.before)+len(g.before), g.label)
		require.LessOrEqual(t, start+len(g.label), strings.LastIndex(lines[1], strings.TrimSpace(g.last))+len(strings.TrimSpace(g.last)), g.label)
	}

	// Without any machine figures the ceiling is not explained.
	rep.Results = rep.Results[2:]
	buf.Reset()
	require.NoError(t, WriteTable(&buf, rep))
	require.NotContains(t, buf.String(), "CPU ceiling:")
}

func TestGroupLine(t *testing.T) {
	const header = "name    a   bb  ccc    d"
	tests := []struct {
		name   string
		groups []headerGroup
		want   string
	}{
		{name: "centred over its columns", groups: []headerGroup{{label: "xy", first: 1, last: 2}}, want: "        xy              "},
		{name: "wider than its columns: ends at their end", groups: []headerGroup{{label: "wide lab", first: 2, last: 2}}, want: "      wide lab          "},
		{name: "two groups", groups: []headerGroup{{label: "AB", first: 1, last: 2}, {label: "CD", first: 3, last: 4}}, want: "        AB        CD    "},
		{name: "out of range is left out", groups: []headerGroup{{label: "x", first: 0, last: 1}, {label: "y", first: 3, last: 9}}, want: "                        "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, groupLine(header, tt.groups))
		})
	}
}

func TestParseBenchOutputAndCeilings(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "gobench.txt"))
	require.NoError(t, err)
	defer f.Close()
	lines, err := ParseBenchOutput(f, "github.com/cairn-io/cairn", 2)
	require.NoError(t, err)
	require.Equal(t, []BenchLine{
		{Pkg: "erasure", Name: "BenchmarkEncodeStripe/4+2/1048576", NsPerOp: 734416, MBps: 5711.08},
		{Pkg: "erasure", Name: "BenchmarkEncodeStripe/2+1/1048576", NsPerOp: 243833, MBps: 8600.77},
		{Pkg: "erasure", Name: "BenchmarkReconstructData/4+2/1048576/lost=2", NsPerOp: 500000, MBps: 8388.61},
		{Pkg: "node/storage", Name: "BenchmarkWriteShard/size=4096", NsPerOp: 10996352, MBps: 0.37},
		{Pkg: "node/storage", Name: "BenchmarkWriteShard/size=1048576", NsPerOp: 18619872, MBps: 56.31},
		{Pkg: "metadata", Name: "BenchmarkApplyBatch64Puts", NsPerOp: 2000000, MBps: 3.5},
		{Pkg: "metadata", Name: "BenchmarkListObjectsPage/flat", NsPerOp: 1500000},
	}, lines)

	var buf bytes.Buffer
	require.NoError(t, WriteCeilingTable(&buf, lines))
	got := normalize(buf.String())
	for _, want := range []string{
		"package benchmark measured of ceiling ceiling stage\n",
		"erasure BenchmarkEncodeStripe/4+2/1048576 5.71 GB/s 10% 60-70 GB/s Reed-Solomon 4+2 encode\n",
		"erasure BenchmarkEncodeStripe/2+1/1048576 243.833µs/op - - -\n",
		"erasure BenchmarkReconstructData/4+2/1048576/lost=2 8.39 GB/s 14% 60-74 GB/s Reed-Solomon 4+2 reconstruct",
		"node/storage BenchmarkWriteShard/size=4096 91/s - ~5,200/s with six writers shard commit 4 KiB\n",
		"node/storage BenchmarkWriteShard/size=1048576 54/s 19% ~290/s one writer",
		"metadata BenchmarkApplyBatch64Puts 500/s 6% 7.8k/s one writer",
		"metadata BenchmarkListObjectsPage/flat 1.5ms/op - - -\n",
		"metadata/raftlog (no micro-benchmark) - - 1.8k applies/s one client, ~30k/s with 64 concurrent",
	} {
		require.Contains(t, got, want)
	}
}

func TestParseBenchOutputProcs(t *testing.T) {
	const out = "pkg: github.com/cairn-io/cairn/node/bench\n" +
		"BenchmarkMD5/md5-simd-16   \t 32\t 36183607 ns/op\t 463.67 MB/s\n" +
		"BenchmarkMD5/md5-simd-16-4 \t 32\t 36183607 ns/op\t 463.67 MB/s\n"
	tests := []struct {
		procs int
		want  []string
	}{
		// With GOMAXPROCS 1 go test adds no suffix: "-16" is the name's.
		{procs: 1, want: []string{"BenchmarkMD5/md5-simd-16", "BenchmarkMD5/md5-simd-16-4"}},
		{procs: 4, want: []string{"BenchmarkMD5/md5-simd-16", "BenchmarkMD5/md5-simd-16"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.procs), func(t *testing.T) {
			lines, err := ParseBenchOutput(strings.NewReader(out), "github.com/cairn-io/cairn/", tt.procs)
			require.NoError(t, err)
			var names []string
			for _, l := range lines {
				require.Equal(t, "node/bench", l.Pkg)
				names = append(names, l.Name)
			}
			require.Equal(t, tt.want, names)
		})
	}
	_, err := ParseBenchOutput(strings.NewReader("BenchmarkX-2 10 abc ns/op\n"), "m", 2)
	require.Error(t, err)
}

func TestCeilingsCoverBenchmarks(t *testing.T) {
	// Every ceiling that names a benchmark selects one that exists in its
	// package, so a renamed benchmark does not silently lose its ceiling.
	for _, c := range Ceilings {
		if c.Bench == "" {
			require.NotEmpty(t, c.Text)
			continue
		}
		require.Contains(t, []string{UnitGBps, UnitPerOp}, c.Unit, "%s %s", c.Pkg, c.Bench)
		top, _, _ := strings.Cut(c.Bench, "/")
		files, err := filepath.Glob(filepath.Join("..", "..", c.Pkg, "*_test.go"))
		require.NoError(t, err)
		found := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			if bytes.Contains(b, []byte("func "+top+"(b *testing.B)")) {
				found = true
				break
			}
		}
		require.True(t, found, "ceiling for %s %s: no such benchmark", c.Pkg, c.Bench)
	}
}

func TestSelectWorkloads(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "default is the whole matrix", want: WorkloadNames()},
		{name: "subset in the order given", in: []string{"get-1m", "put-4k"}, want: []string{"get-1m", "put-4k"}},
		{name: "duplicates and blanks dropped", in: []string{"put-4k", " ", "put-4k"}, want: []string{"put-4k"}},
		{name: "unknown", in: []string{"put-5k"}, wantErr: `unknown workload "put-5k"`},
		{name: "only blanks", in: []string{" "}, wantErr: "no workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SelectWorkloads(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, w := range got {
				names = append(names, w.Name)
			}
			require.Equal(t, tt.want, names)
		})
	}
	require.Equal(t, []string{"put-4k", "put-1m", "put-64m", "get-1m", "get-64m", "get-1m-2killed", "get-1m-2frozen", "put-64m-32c"}, WorkloadNames())
}

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		c := Config{Binary: "cairn", Warp: "warp"}
		c.setDefaults()
		return c
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "no binary", mutate: func(c *Config) { c.Binary = "" }, wantErr: "cairn binary"},
		{name: "no warp", mutate: func(c *Config) { c.Warp = "" }, wantErr: "warp binary"},
		{name: "too short", mutate: func(c *Config) { c.Duration = time.Second }, wantErr: "shorter than 2s"},
		{name: "sampling too coarse", mutate: func(c *Config) { c.Duration = 2 * time.Second; c.SampleEvery = time.Second }, wantErr: "sampling interval"},
		{name: "bad op", mutate: func(c *Config) { c.Workloads = []Workload{{Name: "x", Op: "HEAD", Size: 1, Clients: 1}} }, wantErr: "unknown operation"},
		{name: "get without objects", mutate: func(c *Config) { c.Workloads = []Workload{{Name: "x", Op: OpGet, Size: 1, Clients: 1}} }, wantErr: "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, 20*time.Second, c.Duration)
				require.Equal(t, DefaultWorkloads(), c.Workloads)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
