package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/vfs"
)

// BenchmarkCommitShard measures the drive's commit path alone (create,
// write, fsync, publish, fsync the directory) on the real filesystem, with
// several writers at once as a storage node under load has, on both temp
// file paths, with direct I/O and through the page cache only. cpu-ns/op
// is the process's user+system CPU per shard: the fixed cost per shard is
// what this benchmark is for.
//
// Before the timer starts, churn shards are written and deleted, as a
// benchmark run and its cleanup (or the GC) leave a drive: on ext4 without
// a journal, recently deleted inodes make creating a file cost more the
// more of them share its block group.
func BenchmarkCommitShard(b *testing.B) {
	for _, path := range []string{"unnamed", "named"} {
		for _, size := range []int{4 << 10, 256 << 10, 1 << 20} {
			for _, writers := range []int{1, 16} {
				for _, direct := range []bool{true, false} {
					b.Run(fmt.Sprintf("path=%s/size=%d/writers=%d/direct=%t", path, size, writers, direct), func(b *testing.B) {
						benchCommit(b, path == "named", size, writers, direct)
					})
				}
			}
		}
	}
}

const benchChurn = 3000

func benchCommit(b *testing.B, named bool, size, writers int, direct bool) {
	d, err := openDrive(vfs.Default, b.TempDir(), FormatOptions{ClusterID: testCluster, NodeID: "node-1", Create: true}, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	if direct && !d.direct {
		b.Skip("no direct I/O on this filesystem")
	}
	d.direct = direct
	if named {
		d.unnamed = false
	} else if !d.unnamed {
		b.Skip("no unnamed files on this filesystem")
	}
	data := randBytes(1, size)
	// The gateway sends one block of the profile's block size (1 MiB) a message.
	const blockSize = 1 << 20
	for i := range benchChurn {
		id := fmt.Sprintf("churn.%d", i)
		require.NoError(b, commitOne(b, d, id, data[:min(len(data), 4<<10)], blockSize))
	}
	for i := range benchChurn {
		_, err := d.remove(fmt.Sprintf("churn.%d", i))
		require.NoError(b, err)
	}
	b.ResetTimer()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var next atomic.Int64
	before := cpuTime(b)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := commitOne(b, d, fmt.Sprintf("bench.%d", i), data, blockSize); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "wall-ns/op")
}

func commitOne(b *testing.B, d *drive, id string, data []byte, blockSize int) error {
	p, err := d.create(id, blockSize)
	if err != nil {
		return err
	}
	defer p.abort()
	if _, err := p.Write(data); err != nil {
		return err
	}
	return p.commit(context.Background())
}

func cpuTime(tb testing.TB) time.Duration {
	user, sys := cpuTimes(tb)
	return user + sys
}

// cpuTimes returns the process's user and system CPU time so far.
func cpuTimes(tb testing.TB) (user, sys time.Duration) {
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkShardBytes measures what a shard's bytes cost, apart from
// creating its file (whose cost on ext4 depends on recent deletes, see
// BenchmarkCommitShard): shards are created in batches outside the
// measure, then 16 writers write and commit them. cpu-ns/op is the
// process's user+system CPU per shard of the write and commit alone.
func BenchmarkShardBytes(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10, 1 << 20} {
		for _, direct := range []bool{true, false} {
			b.Run(fmt.Sprintf("size=%d/writers=16/direct=%t", size, direct), func(b *testing.B) {
				benchWrite(b, size, 16, direct)
			})
		}
	}
}

func benchWrite(b *testing.B, size, writers int, direct bool) {
	d, err := openDrive(vfs.Default, b.TempDir(), FormatOptions{ClusterID: testCluster, NodeID: "node-1", Create: true}, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	if direct && !d.direct {
		b.Skip("no direct I/O on this filesystem")
	}
	d.direct = direct
	data := randBytes(1, size)
	const blockSize, batch = 1 << 20, 64
	b.ResetTimer()
	b.SetBytes(int64(size))
	var cpu, wall time.Duration
	for done := 0; done < b.N; {
		n := min(batch, b.N-done)
		pending := make(chan *pendingShard, n)
		for i := range n {
			p, err := d.create(fmt.Sprintf("bench.%d", done+i), blockSize)
			require.NoError(b, err)
			pending <- p
		}
		close(pending)
		before, start := cpuTime(b), time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range writers {
			wg.Go(func() {
				for p := range pending {
					if _, err := p.Write(data); err != nil {
						errs <- err
					} else if err := p.commit(context.Background()); err != nil {
						errs <- err
					}
					p.abort()
				}
			})
		}
		wg.Wait()
		cpu += cpuTime(b) - before
		wall += time.Since(start)
		close(errs)
		for err := range errs {
			require.NoError(b, err)
		}
		done += n
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(wall)/float64(b.N), "wall-ns/op")
}
