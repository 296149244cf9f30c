package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime …
	const rest = " S 1 2 3 0 -1 4194560 100 0 0 0 1234 567 8 9 20 0 12 0 100 1000000 500"
	tests := []struct {
		name    string
		in      string
		want    float64
		wantErr bool
	}{
		{name: "plain", in: "4242 (cairn)" + rest, want: 18.01},
		{name: "command with spaces and parentheses", in: "4242 (cairn (x) y)" + rest, want: 18.01},
		{name: "zero", in: "1 (init) S 0 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", want: 0},
		{name: "no command", in: "4242 cairn S 1 2", wantErr: true},
		{name: "truncated", in: "4242 (cairn) S 1 2 3", wantErr: true},
		{name: "utime not a number", in: "4242 (cairn) S 1 2 3 0 -1 4194560 100 0 0 0 x 567 8", wantErr: true},
		{name: "stime negative", in: "4242 (cairn) S 1 2 3 0 -1 4194560 100 0 0 0 1 -5 8", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if tt.wantErr {
				require.ErrorIs(t, err, errMalformed)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tt.want, got, 1e-9)
		})
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
