package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseVariant(t *testing.T) {
	abs, err := filepath.Abs("bin/cairn-old")
	require.NoError(t, err)
	cases := []struct {
		in      string
		want    Variant
		wantErr string
	}{
		{in: "base:", want: Variant{Name: "base"}},
		{in: " inline-off : --inline-max-bytes=0", want: Variant{Name: "inline-off", Env: []string{"CAIRN_INLINE_MAX_BYTES=0"}}},
		{in: "nocache: --no-bucket-cache", want: Variant{Name: "nocache", Env: []string{"CAIRN_NO_BUCKET_CACHE=true"}}},
		{in: "both: CAIRN_INLINE_MAX_BYTES=0 --no-bucket-cache=false", want: Variant{Name: "both", Env: []string{"CAIRN_INLINE_MAX_BYTES=0", "CAIRN_NO_BUCKET_CACHE=false"}}},
		{in: "old: binary=bin/cairn-old --raft-commit-timeout=50ms", want: Variant{Name: "old", Binary: abs, Env: []string{"CAIRN_RAFT_COMMIT_TIMEOUT=50ms"}}},
		{in: "no-colon", wantErr: "want NAME:"},
		{in: ": --x=1", wantErr: "want NAME:"},
		{in: "a b: --x=1", wantErr: "no spaces"},
		{in: "a/b:", wantErr: "no spaces"},
		{in: "x: binary=", wantErr: "empty binary"},
		{in: "x: ---y", wantErr: "bad flag"},
		{in: "x: --=1", wantErr: "bad flag"},
		{in: "x: inline=0", wantErr: "neither"},
		{in: "x: HOME=/", wantErr: "neither"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			v, err := ParseVariant(c.in)
			if c.wantErr != "" {
				require.ErrorContains(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, v)
		})
	}
}

func TestCheckVariants(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "cairn")
	require.NoError(t, os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755))
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, []byte("x"), 0o644))

	require.NoError(t, CheckVariants([]Variant{{Name: "a"}, {Name: "b", Binary: exe}}))
	require.ErrorContains(t, CheckVariants([]Variant{{Name: "a"}, {Name: "a"}}), "given twice")
	require.ErrorContains(t, CheckVariants([]Variant{{Name: "a", Binary: filepath.Join(dir, "missing")}}), "no such file")
	require.ErrorContains(t, CheckVariants([]Variant{{Name: "a", Binary: plain}}), "not an executable")
	require.ErrorContains(t, CheckVariants([]Variant{{Name: "a", Binary: dir}}), "not an executable")
}

func TestWriteComparison(t *testing.T) {
	row := func(name string, mibs, gw, st, meta float64) Result {
		return Result{Workload: name, MiBPerSec: mibs, ObjPerSec: mibs, P99Millis: 12, Bytes: 1 << 30,
			CPUPerGiB: RoleFigures{Gateway: gw, Storage: st, Meta: meta}}
	}
	// put-1m before: 10 CPU-s per GiB in the roles and 2 in warp on 2
	// cores, a ceiling of 170.7 MiB/s, of which 50 is 29 %.
	before := row("put-1m", 50, 4, 4, 2)
	before.CPUCeilingMiBPerSec = 2.0 / 12 * 1024
	reps := []VariantReport{
		{Variant: Variant{Name: "before"}, Report: Report{
			Idle:    &Idle{Seconds: 10, Cores: RoleFigures{Gateway: 0.01, Storage: 0.02, Meta: 0.03}},
			Results: []Result{before, row("get-1m", 100, 2, 2, 1)},
		}},
		{Variant: Variant{Name: "after"}, Report: Report{
			Results: []Result{row("put-1m", 100, 2, 2, 1), {Workload: "get-1m", Failed: "boom"}},
		}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteComparison(&buf, reps))
	out := buf.String()
	lines := strings.Split(out, "\n")
	find := func(sub ...string) string {
		for _, l := range lines {
			ok := true
			for _, s := range sub {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				return l
			}
		}
		t.Fatalf("no line with %q in:\n%s", sub, out)
		return ""
	}
	// Twice the throughput at half the CPU per GiB.
	after := find("after", "100.0")
	require.Contains(t, after, "×2.00")
	require.Contains(t, after, "×0.50")
	require.Contains(t, find("put-1m", "before"), "10.00")
	require.Contains(t, find("put-1m", "before"), "29%")
	require.Contains(t, out, "% of ceiling")
	// A report without a ceiling (no machine figures) shows a dash.
	require.Contains(t, normalize(find("get-1m", "before")), " 5.00 - ")
	// A failed workload shows dashes, not figures or ratios.
	failed := find("after", "  -      -")
	require.NotContains(t, failed, "×")
	require.Contains(t, find("idle cores", "before"), "0.060")
	require.Contains(t, out, "Ratios are to before")

	require.Error(t, WriteComparison(&buf, nil))
}
