package bench

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime cstime …
	const rest = " S 1 2 3 0 -1 4194560 100 0 0 0 1234 567 8 9 20 0 12 0 100 1000000 500"
	tests := []struct {
		name    string
		in      string
		want    stat
		wantErr bool
	}{
		{name: "plain", in: "4242 (cairn)" + rest, want: stat{PPid: 1, CPU: 18.01, ChildCPU: 0.17}},
		{name: "command with spaces and parentheses", in: "4242 (cairn (x) y)" + rest, want: stat{PPid: 1, CPU: 18.01, ChildCPU: 0.17}},
		{name: "zero", in: "1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", want: stat{}},
		{name: "no command", in: "4242 cairn S 1 2", wantErr: true},
		{name: "truncated", in: "4242 (cairn) S 1 2 3", wantErr: true},
		{name: "truncated before cstime", in: "4242 (cairn) S 1 2 3 0 -1 4194560 100 0 0 0 1 2 3", wantErr: true},
		{name: "ppid not a number", in: "4242 (cairn) S x 2 3 0 -1 4194560 100 0 0 0 1 5 8 9", wantErr: true},
		{name: "utime not a number", in: "4242 (cairn) S 1 2 3 0 -1 4194560 100 0 0 0 x 567 8 9", wantErr: true},
		{name: "stime negative", in: "4242 (cairn) S 1 2 3 0 -1 4194560 100 0 0 0 1 -5 8 9", wantErr: true},
		{name: "cstime not a number", in: "4242 (cairn) S 1 2 3 0 -1 4194560 100 0 0 0 1 5 8 y", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if tt.wantErr {
				require.ErrorIs(t, err, errMalformed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want.PPid, got.PPid)
			require.InDelta(t, tt.want.CPU, got.CPU, 1e-9)
			require.InDelta(t, tt.want.ChildCPU, got.ChildCPU, 1e-9)
		})
	}
}

func TestParseCPUTimes(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return string(b)
	}
	// Busy is user + nice + system + irq + softirq + steal; guest and
	// guest_nice are already inside user and nice.
	tests := []struct {
		name    string
		in      string
		want    cpuTimes
		wantErr string
	}{
		{
			name: "2 cores, this machine kind", in: read("proc-stat-2cpu.txt"),
			want: cpuTimes{Cores: 2, Busy: 1475.17, Iowait: 2.81, Steal: 24.49, Total: 23277.48},
		},
		{
			name: "4 cores, guest time not counted twice", in: read("proc-stat-4cpu-guest.txt"),
			want: cpuTimes{Cores: 4, Busy: 15.21, Iowait: 0.5, Steal: 0.08, Total: 415.71},
		},
		{
			name: "kernel before steal", in: read("proc-stat-2.6.0.txt"),
			want: cpuTimes{Cores: 2, Busy: 15.13, Iowait: 0.5, Total: 415.63},
		},
		{
			name: "kernel before iowait", in: "cpu  100 0 100 800\ncpu0 100 0 100 800\n",
			want: cpuTimes{Cores: 1, Busy: 2, Total: 10},
		},
		{
			// Lines after the cpu lines are not read: an intr line longer
			// than a scanner's buffer, on a machine with many interrupts,
			// does not fail the parse.
			name: "huge intr line", in: "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\nintr" + strings.Repeat(" 0", 100_000) + "\nctxt 1\n",
			want: cpuTimes{Cores: 1, Busy: 2, Total: 10},
		},
		{name: "no cpu line", in: "cpu0 1 2 3 4\nintr 1\n", wantErr: "no cpu line"},
		{name: "no cpuN lines", in: "cpu  1 2 3 4 5\nintr 1\n", wantErr: "no cpuN lines"},
		{name: "too few fields", in: "cpu  1 2 3\ncpu0 1 2 3\n", wantErr: "3 fields"},
		{name: "not a number", in: "cpu  1 2 x 4 5\ncpu0 1 2 3 4 5\n", wantErr: "cpu field 3"},
		{name: "negative", in: "cpu  1 2 3 -4 5\ncpu0 1 2 3 4 5\n", wantErr: "cpu field 4"},
		{name: "empty", in: "", wantErr: "no cpu line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPUTimes([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, errMalformed)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want.Cores, got.Cores)
			require.InDelta(t, tt.want.Busy, got.Busy, 1e-9)
			require.InDelta(t, tt.want.Iowait, got.Iowait, 1e-9)
			require.InDelta(t, tt.want.Steal, got.Steal, 1e-9)
			require.InDelta(t, tt.want.Total, got.Total, 1e-9)
		})
	}
}

func TestReadCPUTimes(t *testing.T) {
	// The parser against this machine's real /proc/stat.
	ct, err := readCPUTimes()
	require.NoError(t, err)
	require.Positive(t, ct.Cores)
	require.Positive(t, ct.Total)
	require.LessOrEqual(t, ct.Busy+ct.Iowait, ct.Total)
	require.LessOrEqual(t, ct.Steal, ct.Busy)
}

func TestTreeCPU(t *testing.T) {
	// 10 is the root; 11 and 12 its children, 13 a grandchild; 20 is
	// unrelated and 1 is the root's parent.
	stats := map[int]stat{
		1:  {PPid: 0, CPU: 100, ChildCPU: 100},
		10: {PPid: 1, CPU: 5, ChildCPU: 0.5}, // 0.5: children it waited for
		11: {PPid: 10, CPU: 1},
		12: {PPid: 10, CPU: 2, ChildCPU: 0.25},
		13: {PPid: 12, CPU: 0.125},
		20: {PPid: 1, CPU: 50},
	}
	tests := []struct {
		name     string
		root     int
		want     float64
		wantTree []int
		wantErr  bool
	}{
		{name: "root, children, grandchild and those waited for", root: 10, want: 5 + 0.5 + 1 + 2 + 0.25 + 0.125, wantTree: []int{10, 11, 12, 13}},
		{name: "a subtree", root: 12, want: 2 + 0.25 + 0.125, wantTree: []int{12, 13}},
		{name: "a leaf", root: 20, want: 50, wantTree: []int{20}},
		{name: "root gone", root: 30, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := treeCPU(tt.root, stats)
			if tt.wantErr {
				require.ErrorIs(t, err, os.ErrNotExist)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tt.want, got, 1e-9)
			tree := descendants(tt.root, stats)
			slices.Sort(tree)
			require.Equal(t, tt.wantTree, tree)
		})
	}
	// A PID reused while /proc was read can make a process look like its
	// own ancestor; each is still counted once.
	loop := map[int]stat{5: {PPid: 6, CPU: 1}, 6: {PPid: 5, CPU: 2}}
	got, err := treeCPU(5, loop)
	require.NoError(t, err)
	require.InDelta(t, 3.0, got, 1e-9)
}

func TestReadStatsFindsChildren(t *testing.T) {
	// Descendants are found in the real /proc through their parent's PID:
	// a child of this test process is in its tree.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	child := exec.CommandContext(ctx, "sleep", "60")
	require.NoError(t, child.Start())
	defer func() { cancel(); _ = child.Wait() }()

	stats, err := readStats()
	require.NoError(t, err)
	require.Contains(t, descendants(os.Getpid(), stats), child.Process.Pid)
	require.NotContains(t, descendants(child.Process.Pid, stats), os.Getpid())
	tr := newTreeReader()
	cpu, err := tr.read(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, cpu, stats[os.Getpid()].CPU)
	again, err := tr.read(os.Getpid()) // between scans: members only
	require.NoError(t, err)
	require.GreaterOrEqual(t, again, cpu)
}

func TestTreeReader(t *testing.T) {
	// One fake /proc that each step changes; the reader scans it whole at
	// most every 10 s of the fake clock and reads known members between.
	procs := map[int]stat{}
	scans := 0
	clock := t0
	tr := &treeReader{
		every: 10 * time.Second,
		now:   func() time.Time { return clock },
		readStats: func() (map[int]stat, error) {
			scans++
			return maps.Clone(procs), nil
		},
		readStat: func(pid int) (stat, error) {
			st, ok := procs[pid]
			if !ok {
				return stat{}, os.ErrNotExist
			}
			return st, nil
		},
	}
	steps := []struct {
		name      string
		at        float64
		root      int
		set       map[int]stat // processes changed or started
		gone      []int        // processes waited for
		want      float64
		wantScans int
		wantErr   bool
	}{
		{
			name: "first read scans", at: 0, root: 10,
			set:  map[int]stat{1: {CPU: 100}, 10: {PPid: 1, CPU: 1}, 11: {PPid: 10, CPU: 2}, 20: {PPid: 1, CPU: 50}},
			want: 3, wantScans: 1,
		},
		{
			name: "between scans the members are read, a new child is not seen yet", at: 1, root: 10,
			set:  map[int]stat{10: {PPid: 1, CPU: 1.5}, 11: {PPid: 10, CPU: 3}, 12: {PPid: 10, CPU: 0.5}},
			want: 4.5, wantScans: 1,
		},
		{
			name: "a child waited for: its time moves into its parent's", at: 2, root: 10,
			set:  map[int]stat{10: {PPid: 1, CPU: 1.5, ChildCPU: 3.25}},
			gone: []int{11}, want: 1.5 + 3.25, wantScans: 1,
		},
		{
			name: "a member's PID taken by another process is left out", at: 3, root: 10,
			set:  map[int]stat{11: {PPid: 1, CPU: 40}},
			want: 4.75, wantScans: 1,
		},
		{
			name: "rescan finds the new child", at: 10, root: 10,
			want: 1.5 + 3.25 + 0.5, wantScans: 2,
		},
		{
			name: "another root is scanned at once", at: 11, root: 20,
			want: 50, wantScans: 3,
		},
		{
			name: "root gone", at: 12, root: 20, gone: []int{20},
			wantErr: true, wantScans: 3,
		},
		{
			name: "root gone at a scan", at: 30, root: 20,
			wantErr: true, wantScans: 4,
		},
	}
	for _, st := range steps {
		maps.Copy(procs, st.set)
		for _, p := range st.gone {
			delete(procs, p)
		}
		clock = at(st.at)
		got, err := tr.read(st.root)
		if st.wantErr {
			require.Error(t, err, st.name)
		} else {
			require.NoError(t, err, st.name)
			require.InDelta(t, st.want, got, 1e-9, st.name)
		}
		require.Equal(t, st.wantScans, scans, st.name)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]int64
		wantErr bool
	}{
		{
			name: "process",
			in:   "Name:\tcairn\nState:\tS (sleeping)\nVmPeak:\t 2000000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\nThreads:\t12\n",
			want: map[string]int64{"VmPeak": 2000000 << 10, "VmHWM": 80 << 20, "VmRSS": 40 << 20},
		},
		{name: "kernel thread", in: "Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n", want: map[string]int64{}},
		{name: "not kB", in: "VmRSS:\t 40 MB\n", wantErr: true},
		{name: "not a number", in: "VmRSS:\t forty kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.in))
			if tt.wantErr {
				require.ErrorIs(t, err, errMalformed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReadProcSelf(t *testing.T) {
	// The parsers against the real files of this very process.
	ps, err := readProc(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, ps.RSS)
	require.GreaterOrEqual(t, ps.HWM, ps.RSS)
	require.GreaterOrEqual(t, ps.CPUSeconds, 0.0)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v
}

func TestParseWarp(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return b
	}
	// Two clients (as a distributed warp run reports them), two segments
	// each, and errors: percentiles are averaged over the merged entries.
	const synthetic = `
{"v":2,"total":{},"by_op_type":{"GET":{
  "total_requests":40,"total_errors":3,"total_bytes":41943040,
  "start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:10Z",
  "first_errors":["503 Service Unavailable","context deadline exceeded"],
  "throughput":{"measure_duration_millis":8000,"bytes":33554432,"objects":32},
  "requests_by_client":{
    "a":[{"single_sized_requests":{"dur_median_millis":10,"dur_99_millis":100,"merged_entries":1}},
         {"single_sized_requests":{"dur_median_millis":20,"dur_99_millis":200,"merged_entries":1}}],
    "b":[{"single_sized_requests":{"dur_median_millis":30,"dur_99_millis":300,"merged_entries":1}},
         {"multi_sized_requests":{}}]}}}}`
	// Too short for warp's segments: the whole window is used.
	const short = `{"v":2,"by_op_type":{"PUT":{"total_requests":11,"total_errors":1,"total_bytes":10485760,
  "start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:02Z","throughput":{"measure_duration_millis":0}}}}`

	tests := []struct {
		name    string
		in      []byte
		op      string
		want    warpResult
		wantErr string
	}{
		{
			name: "put sample", in: read("warp-put-1mib.json"), op: OpPut,
			want: warpResult{
				Op: OpPut, Requests: 235, Bytes: 246415360,
				Start: mustTime(t, "2026-12-02T04:19:01.332740612Z"), End: mustTime(t, "2026-12-02T04:19:06.345862529Z"),
				BytesPerSec: 54819698.60162745, ObjPerSec: 52.280138589503714,
				P50: millis(81.809696), P99: millis(203.84545),
			},
		},
		{
			name: "get sample", in: read("warp-get-1mib.json"), op: OpGet,
			want: warpResult{
				Op: OpGet, Requests: 538, Bytes: 564133888,
				Start: mustTime(t, "2026-12-02T04:19:16.87842624Z"), End: mustTime(t, "2026-12-02T04:19:21.889732477Z"),
				BytesPerSec: 110082484.69229163, ObjPerSec: 104.9828383372227,
				P50: millis(33.033157), P99: millis(133.512129),
			},
		},
		{
			name: "segments, clients and errors", in: []byte(synthetic), op: OpGet,
			want: warpResult{
				Op: OpGet, Requests: 40, Errors: 3, FirstErrors: []string{"503 Service Unavailable", "context deadline exceeded"},
				Bytes: 41943040, Start: mustTime(t, "2026-01-01T00:00:00Z"), End: mustTime(t, "2026-01-01T00:00:10Z"),
				BytesPerSec: 4 << 20, ObjPerSec: 4, P50: 20 * time.Millisecond, P99: 200 * time.Millisecond,
			},
		},
		{
			name: "too short for segments", in: []byte(short), op: OpPut,
			want: warpResult{
				Op: OpPut, Requests: 11, Errors: 1, Bytes: 10485760,
				Start: mustTime(t, "2026-01-01T00:00:00Z"), End: mustTime(t, "2026-01-01T00:00:02Z"),
				BytesPerSec: 5 << 20, ObjPerSec: 5,
			},
		},
		{name: "other operation", in: read("warp-put-1mib.json"), op: OpGet, wantErr: "no GET operations"},
		{name: "no report", in: []byte("warp: <ERROR> Error preparing server\n"), op: OpPut, wantErr: "no JSON report"},
		{name: "other data version", in: []byte(`{"v":3,"by_op_type":{"PUT":{}}}`), op: OpPut, wantErr: "data version 3"},
		{name: "broken JSON", in: []byte(`{"v":2,"by_op_type":`), op: OpPut, wantErr: "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWarp(tt.in, tt.op)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tt.want.BytesPerSec, got.BytesPerSec, 1e-6)
			require.InDelta(t, tt.want.ObjPerSec, got.ObjPerSec, 1e-9)
			tt.want.BytesPerSec, tt.want.ObjPerSec = got.BytesPerSec, got.ObjPerSec
			require.True(t, tt.want.Start.Equal(got.Start) && tt.want.End.Equal(got.End), "window %v..%v", got.Start, got.End)
			tt.want.Start, tt.want.End = got.Start, got.End
			require.Equal(t, tt.want, got)
		})
	}
}

func TestWarpArgs(t *testing.T) {
	tests := []struct {
		name     string
		w        Workload
		want     []string // present, each followed by its value where it has one
		wantNot  []string
		wantVerb string
	}{
		{
			name: "put", w: Workload{Name: "put-4k", Op: OpPut, Size: 4096, Clients: 16}, wantVerb: "put",
			want:    []string{"--obj.size 4096", "--concurrent 16", "--duration 5s", "--disable-multipart", "--noclear", "--json", "--bucket b", "--host 127.0.0.1:9000", "--benchdata bd"},
			wantNot: []string{"--list-existing", "--access-key", "--secret-key"},
		},
		{
			name: "get", w: Workload{Name: "get-1m", Op: OpGet, Size: 1 << 20, Clients: 4, Objects: 10}, wantVerb: "get",
			want:    []string{"--list-existing", "--concurrent 4", "--noclear", "--json"},
			wantNot: []string{"--obj.size", "--access-key", "--secret-key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := warpArgs(tt.w, "127.0.0.1:9000", "b", 5*time.Second, "bd")
			require.Equal(t, tt.wantVerb, args[0])
			joined := " " + strings.Join(args, " ") + " "
			for _, w := range tt.want {
				require.Contains(t, joined, " "+w+" ")
			}
			for _, w := range tt.wantNot {
				require.NotContains(t, joined, w)
			}
		})
	}
}

func TestWarpRunnerHooks(t *testing.T) {
	// A stand-in for warp that spends its CPU in a child it waits for:
	// the exit hook's figure includes the child (wait4's usage counts the
	// children waited for), which the process's own utime+stime would not.
	dir := t.TempDir()
	bin := filepath.Join(dir, "warp")
	script := "#!/bin/sh\n" +
		"( i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done )\n" +
		"echo \"$@\"\n" +
		"[ \"$1\" = put ] || exit 3\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))

	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "succeeds", args: []string{"put", "--json"}},
		{name: "fails: hooks still called", args: []string{"get"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pid int
			cpu := -1.0
			r := warpRunner{bin: bin, dir: dir, accessKey: "AK", secretKey: "SK"}
			out, err := r.run(context.Background(), tt.args, warpHooks{
				started: func(p int) { pid = p },
				exited:  func(c float64) { cpu = c },
			})
			if tt.wantErr {
				require.ErrorContains(t, err, "exit status 3")
			} else {
				require.NoError(t, err)
				require.Equal(t, strings.Join(tt.args, " ")+"\n", string(out))
			}
			require.Positive(t, pid)
			// The loop takes about 0.25 CPU-s here; the shell alone a few
			// milliseconds.
			require.Greater(t, cpu, 0.05)
		})
	}
	// No hooks is fine.
	_, err := warpRunner{bin: bin, dir: dir}.run(context.Background(), []string{"put"}, warpHooks{})
	require.NoError(t, err)
}
