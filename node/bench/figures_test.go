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
	procs := []procRef{{Name: "gateway", Role: "gateway", Pid: 7}, {Name: "storage-1", Role: "storage", Pid: 8}, {Name: "storage-2", Role: "storage", Pid: 0}}
	s := newSampler(func() []procRef { return procs }, time.Hour)
	s.now = func() time.Time { return clock }
	s.read = func(pid int) (procSample, error) {
		c, ok := cpu[pid]
		if !ok {
			return procSample{}, errors.New("no such process")
		}
		return procSample{CPUSeconds: c, RSS: int64(pid) << 20}, nil
	}
	s.snapshot()
	clock = at(10)
	cpu[7], cpu[8] = 6, 12
	procs[1].Pid = 9 // storage-1 killed and restarted; 9 vanished before being read
	h := s.snapshot()
	require.Len(t, h, 2, "a process without a PID or that vanished is not sampled")
	require.InDelta(t, 5, h.cpuSeconds("gateway", at(0), at(10)), 1e-9)
	require.Len(t, h[procKey{Name: "storage-1", Role: "storage", Pid: 8}], 1)
	require.Equal(t, int64(7)<<20, h.peakRSS("gateway", at(0), at(10)))

	// The goroutine starts, samples and is joined.
	s.start()
	s.Close()
	s.Close() // idempotent
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
	rep := Report{
		WarpVersion: WarpVersion, Duration: "20s", SampleEvery: "250ms", WallSeconds: 312.4,
		Idle: &Idle{Seconds: 20, Cores: RoleFigures{Gateway: 0.01, Storage: 0.04, Meta: 0.03}},
		Results: []Result{
			{
				Workload: "put-1m", MiBPerSec: 68.04, ObjPerSec: 68.04, P50Millis: 218.4, P99Millis: 1405, Requests: 1400, Bytes: gib,
				CPUPerGiB: RoleFigures{Gateway: 6.234, Storage: 15.09, Meta: 2.456},
				PeakRSS:   RoleFigures{Gateway: 102 << 20, Storage: 72 << 20, Meta: 44 << 20},
			},
			{
				Workload: "get-1m-2frozen", MiBPerSec: 1.1, ObjPerSec: 1.1, P50Millis: 6060, P99Millis: 7.5, Requests: 40, Errors: 3,
				FirstErrors: []string{"503 Service Unavailable"}, Bytes: 0,
				PeakRSS: RoleFigures{Gateway: 82 << 20, Storage: 57 << 20, Meta: 46 << 20},
			},
			{Workload: "put-64m", Failed: "bench: warp put: exit status 1"},
		},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, rep))
	got := normalize(buf.String())
	for _, want := range []string{
		" workload MiB/s obj/s p50 p99 errors gateway storage meta gateway storage meta\n",
		" put-1m 68.0 68.0 218ms 1.41s 0 6.23 15.09 2.46 102 72 44\n",
		" get-1m-2frozen 1.1 1.1 6.06s 7.50ms 3 - - - 82 57 46\n",
		" put-64m - - - - - - - - - - -\n",
		"idle cluster CPU: 0.080 cores over 20s (gateway 0.010, storage 0.040, meta 0.030)\n",
		"get-1m-2frozen: 3 of 40 requests failed; first: 503 Service Unavailable\n",
		"put-64m failed: bench: warp put: exit status 1\n",
		"warp " + WarpVersion + ", 20s per workload.",
		"sampled every 250ms",
		"wall time 5m12s\n",
	} {
		require.Contains(t, got, want)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	// The header, the rows and the blank line after them share one width.
	for _, l := range lines[:5] {
		require.Equal(t, len(lines[0]), len(l), "row %q", l)
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
