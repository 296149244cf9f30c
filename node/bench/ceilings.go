package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Units a ceiling is stated in.
const (
	UnitGBps  = "GB/s"  // 10^9 bytes per second, from the benchmark's MB/s
	UnitPerOp = "ops/s" // benchmark iterations per second, from ns/op
)

// Ceiling is what one stage can reach on the project's machine kind (2
// cores, AMD Zen 4 under KVM with AVX-512, GFNI and SHA-NI), measured per
// core with the best known implementation. A micro-benchmark far below its
// ceiling has room to improve; one above it has a ceiling to re-measure.
type Ceiling struct {
	// Pkg (relative to the module) and Bench (the benchmark's name, or a
	// prefix of its sub-benchmarks ending in '/') select the benchmarks it
	// applies to; an empty Bench is a ceiling no micro-benchmark measures.
	Pkg   string
	Bench string
	Stage string // what is measured
	Text  string // the ceiling as measured
	Unit  string
	Value float64 // the low end of the ceiling in Unit; 0: no ratio
}

// Ceilings maps the repository's micro-benchmarks to their ceilings.
var Ceilings = []Ceiling{
	{Pkg: "erasure", Bench: "BenchmarkEncodeStripe/4+2/", Stage: "Reed-Solomon 4+2 encode", Text: "60-70 GB/s", Unit: UnitGBps, Value: 60},
	{Pkg: "erasure", Bench: "BenchmarkEncodeParity/4+2/", Stage: "Reed-Solomon 4+2 encode", Text: "60-70 GB/s", Unit: UnitGBps, Value: 60},
	{Pkg: "erasure", Bench: "BenchmarkReconstructData/4+2/", Stage: "Reed-Solomon 4+2 reconstruct, 1-2 shards missing", Text: "60-74 GB/s", Unit: UnitGBps, Value: 60},
	{Pkg: "erasure", Bench: "BenchmarkEncodeStripe/12+4/", Stage: "Reed-Solomon 12+4 encode (k > 10 loses GFNI)", Text: "13 GB/s", Unit: UnitGBps, Value: 13},
	{Pkg: "erasure", Bench: "BenchmarkEncodeParity/12+4/", Stage: "Reed-Solomon 12+4 encode (k > 10 loses GFNI)", Text: "13 GB/s", Unit: UnitGBps, Value: 13},
	{Pkg: "erasure/bitrot", Bench: "BenchmarkWriter/", Stage: "CRC32C block checksums", Text: "26 GB/s", Unit: UnitGBps, Value: 26},
	{Pkg: "erasure/bitrot", Bench: "BenchmarkReadRange/", Stage: "CRC32C block checksums", Text: "26 GB/s", Unit: UnitGBps, Value: 26},
	{Pkg: "node/storage", Bench: "BenchmarkWriteShard/size=1048576", Stage: "shard commit 1 MiB (create, write, fsync, rename, fsync dir)", Text: "~290/s one writer, ~670/s six", Unit: UnitPerOp, Value: 290},
	{Pkg: "node/storage", Bench: "BenchmarkWriteShard/size=4096", Stage: "shard commit 4 KiB", Text: "~5,200/s with six writers", Unit: UnitPerOp},
	{Pkg: "node/objio", Bench: "BenchmarkPut", Stage: "4+2 PUT, every process on one machine", Text: "~0.5 GB/s straightforward; ~1.2 GiB/s with md5-simd, raw gRPC codec, O_DIRECT", Unit: UnitGBps, Value: 0.5},
	{Pkg: "node/objio", Bench: "BenchmarkGet", Stage: "4+2 GET of large objects", Text: "~1.9 GiB/s", Unit: UnitGBps, Value: 2.04},
	{Pkg: "node/objio", Bench: "BenchmarkGetDegraded", Stage: "4+2 GET, one data shard missing", Text: "~1.9 GiB/s (reconstruction is nearly free)", Unit: UnitGBps, Value: 2.04},
	{Pkg: "metadata", Bench: "BenchmarkApplyBatch64Puts", Stage: "Pebble synced commit (one per batch)", Text: "7.8k/s one writer, 34k/s with 32 concurrent", Unit: UnitPerOp, Value: 7800},
	{Pkg: "node/gateway/sigv4", Bench: "BenchmarkChunkDecoder/signed-", Stage: "SHA-256 (SHA-NI) of a signed chunked body", Text: "1.8 GB/s", Unit: UnitGBps, Value: 1.8},
	{Pkg: "node/gateway/sigv4", Bench: "BenchmarkChunkDecoder/unsigned-crc64nvme-", Stage: "CRC64-NVME trailer (minio/crc64nvme)", Text: "54 GB/s (hash/crc64: 1.9 GB/s)", Unit: UnitGBps, Value: 54},
	{Pkg: "node/gateway/sigv4", Bench: "BenchmarkChunkDecoder/unsigned-crc32c-", Stage: "CRC32C trailer", Text: "26 GB/s", Unit: UnitGBps, Value: 26},
	// Calibration: the machine's own speed at the costliest primitives,
	// which tells how loaded the machine was during the run.
	{Pkg: "node/bench", Bench: "BenchmarkMD5/crypto-md5", Stage: "MD5, crypto/md5, one stream", Text: "0.81 GB/s", Unit: UnitGBps, Value: 0.81},
	{Pkg: "node/bench", Bench: "BenchmarkMD5/md5-simd-16", Stage: "MD5, md5-simd, 16 streams", Text: "2.5-2.7 GB/s per core", Unit: UnitGBps, Value: 2.5},
	{Pkg: "node/bench", Bench: "BenchmarkSHA256", Stage: "SHA-256 (SHA-NI)", Text: "1.8 GB/s", Unit: UnitGBps, Value: 1.8},
	{Pkg: "node/bench", Bench: "BenchmarkCRC32C", Stage: "CRC32C", Text: "26 GB/s", Unit: UnitGBps, Value: 26},
	// Ceilings no micro-benchmark of the repository measures yet.
	{Pkg: "metadata/raftlog", Stage: "hashicorp/raft v1.8, 3 voters over TCP, Pebble log store", Text: "1.8k applies/s one client, ~30k/s with 64 concurrent"},
	{Pkg: "node/storage", Stage: "disk write, buffered + fsync", Text: "~0.75 GB/s, ~1 CPU-s/GiB; O_DIRECT 1.75 GB/s at ~0.1 CPU-s/GiB"},
	{Pkg: "node/dial", Stage: "gRPC bytes messages, proto codec", Text: "1.6-1.9 GB/s, ~1.0 CPU-s/GiB; raw codec 3-4 GB/s"},
	{Pkg: "node/dial", Stage: "loopback TCP, one stream", Text: "4.4 GB/s"},
}

// BenchLine is one result line of `go test -bench` output.
type BenchLine struct {
	Pkg     string // relative to the module; "" if the output named none
	Name    string // without the -GOMAXPROCS suffix
	NsPerOp float64
	MBps    float64 // 0 if the benchmark set no bytes
}

// ParseBenchOutput reads `go test -bench` output (any number of packages,
// "pkg:" lines naming each) and returns its result lines in order. procs is
// the GOMAXPROCS the benchmarks ran with: go test appends "-<procs>" to
// every name when it is above 1, and only then.
func ParseBenchOutput(r io.Reader, module string, procs int) ([]BenchLine, error) {
	suffix := ""
	if procs > 1 {
		suffix = "-" + strconv.Itoa(procs)
	}
	var out []BenchLine
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(strings.TrimSpace(p), strings.TrimSuffix(module, "/")+"/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue // a benchmark's log line, not its result
		}
		bl := BenchLine{Pkg: pkg, Name: strings.TrimSuffix(f[0], suffix)}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bench: %q: value %q: %w", f[0], f[i], err)
			}
			switch f[i+1] {
			case "ns/op":
				bl.NsPerOp = v
			case "MB/s":
				bl.MBps = v
			}
		}
		out = append(out, bl)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: read benchmark output: %w", err)
	}
	return out, nil
}

// ceilingFor returns the ceiling of a benchmark, if one applies.
func ceilingFor(b BenchLine) (Ceiling, bool) {
	for _, c := range Ceilings {
		if c.Bench == "" || c.Pkg != b.Pkg {
			continue
		}
		if b.Name == c.Bench || (strings.HasSuffix(c.Bench, "/") || strings.HasSuffix(c.Bench, "-")) && strings.HasPrefix(b.Name, c.Bench) {
			return c, true
		}
	}
	return Ceiling{}, false
}

// measured is a benchmark's figure in unit, and false if the benchmark
// does not report that unit.
func measured(b BenchLine, unit string) (float64, bool) {
	switch unit {
	case UnitGBps:
		return b.MBps / 1000, b.MBps > 0
	case UnitPerOp:
		if b.NsPerOp <= 0 {
			return 0, false
		}
		return 1e9 / b.NsPerOp, true
	}
	return 0, false
}

// WriteCeilingTable prints each benchmark's figure beside its ceiling, then
// the ceilings no benchmark measures.
func WriteCeilingTable(w io.Writer, lines []BenchLine) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "package\tbenchmark\tmeasured\tof ceiling\tceiling\tstage")
	for _, b := range lines {
		c, ok := ceilingFor(b)
		if !ok {
			// No ceiling: the time per operation, which every benchmark
			// reports (its bytes may count something other than data).
			fig := time.Duration(b.NsPerOp).String() + "/op"
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\n", b.Pkg, b.Name, fig)
			continue
		}
		v, ok := measured(b, c.Unit)
		fig, pct := "-", "-"
		if ok {
			fig = formatFigure(v, c.Unit)
			if c.Value > 0 {
				pct = fmt.Sprintf("%.0f%%", 100*v/c.Value)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.Pkg, b.Name, fig, pct, c.Text, c.Stage)
	}
	for _, c := range Ceilings {
		if c.Bench == "" {
			fmt.Fprintf(tw, "%s\t(no micro-benchmark)\t-\t-\t%s\t%s\n", c.Pkg, c.Text, c.Stage)
		}
	}
	return tw.Flush()
}

func formatFigure(v float64, unit string) string {
	if unit == UnitGBps {
		if v < 10 {
			return fmt.Sprintf("%.2f GB/s", v)
		}
		return fmt.Sprintf("%.1f GB/s", v)
	}
	return fmt.Sprintf("%.0f/s", v)
}
