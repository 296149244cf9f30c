package e2e

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
)

// BenchmarkThroughput64MiB measures PUT and then GET throughput of 64 MiB
// objects with 4 concurrent clients against a local multi-process cluster,
// the gateway's peak resident memory and the CPU time the gateway and the
// storage processes spent per GiB stored. Every process shares this
// machine's cores, so throughput is relative to the machine and its load;
// CPU time per GiB is the steadier figure to compare runs by.
//
// CAIRN_BENCH_NO_METRICS=1 runs the cluster without admin listeners and so
// without metrics, to measure what they cost.
func BenchmarkThroughput64MiB(b *testing.B) {
	const (
		clients   = 4
		perClient = 4
		size      = 64 << 20
	)
	c := startClusterSpec(b, devcluster.Spec{NoAdmin: os.Getenv("CAIRN_BENCH_NO_METRICS") != ""})
	ctx := ctxT(b, 20*time.Minute)
	c.mustCreateBucket(ctx, "bench")
	data := body(42, size)

	run := func(op string, fn func(key string) error) float64 {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, clients*perClient)
		for cl := 0; cl < clients; cl++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perClient; i++ {
					if err := fn(fmt.Sprintf("obj-%d-%d", cl, i)); err != nil {
						errs <- fmt.Errorf("%s: %w", op, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(b, err)
		}
		return float64(clients*perClient*size) / time.Since(start).Seconds() / (1 << 20)
	}
	cpu := func(role string) time.Duration {
		var total time.Duration
		for _, name := range c.layout.Names(role) {
			d, err := cpuTime(c.procs.Pid(name))
			require.NoError(b, err)
			total += d
		}
		return total
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gw0, st0 := cpu("gateway"), cpu("storage")
		put := run("put", func(key string) error {
			_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(key), Body: bytes.NewReader(data)})
			return err
		})
		gib := float64(clients*perClient*size) / (1 << 30)
		b.ReportMetric((cpu("gateway")-gw0).Seconds()/gib, "PUT-gateway-CPU-s/GiB")
		b.ReportMetric((cpu("storage")-st0).Seconds()/gib, "PUT-storage-CPU-s/GiB")
		get := run("get", func(key string) error {
			out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(key)})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			n, err := io.Copy(io.Discard, out.Body)
			if err == nil && n != size {
				err = fmt.Errorf("short body: %d bytes", n)
			}
			return err
		})
		b.ReportMetric(put, "PUT-MiB/s")
		b.ReportMetric(get, "GET-MiB/s")
	}
	b.StopTimer()
	if hwm, err := peakRSS(c.procs.Pid("gateway")); err == nil {
		b.ReportMetric(float64(hwm)/(1<<20), "gateway-peak-RSS-MiB")
	}
}

// cpuTime reads the user plus system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name, which may hold spaces;
	// utime and stime are fields 14 and 15 of the whole line.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("short stat for pid %d", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat of pid %d: %w", pid, err)
		}
		ticks += n
	}
	// Linux reports in USER_HZ, 100 per second on every supported build.
	return time.Duration(ticks) * (time.Second / 100), nil
}

// peakRSS reads VmHWM, the peak resident set size, of a process.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}
