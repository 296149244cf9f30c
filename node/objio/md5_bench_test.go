package objio

import (
	"crypto/md5"
	"fmt"
	"hash"
	"sync"
	"syscall"
	"testing"

	md5simd "github.com/minio/md5-simd"
)

// BenchmarkETagMD5 hashes 1 MiB objects on several streams at once, as
// concurrent 1 MiB PUTs do, with crypto/md5 and with md5-simd, and reports
// the CPU seconds spent per GiB hashed (the figure that decides which one
// PUTs use; wall time on a shared machine says little).
func BenchmarkETagMD5(b *testing.B) {
	const object = 1 << 20
	body := make([]byte, object)
	for i := range body {
		body[i] = byte(i * 7)
	}
	for _, streams := range []int{1, 4, 8, 16} {
		for _, impl := range []string{"crypto", "simd"} {
			b.Run(fmt.Sprintf("%s-%d", impl, streams), func(b *testing.B) {
				var srv md5simd.Server
				newHash := func() (hash.Hash, func()) { return md5.New(), func() {} }
				if impl == "simd" {
					srv = md5simd.NewServer()
					defer srv.Close()
					newHash = func() (hash.Hash, func()) {
						h := srv.NewHash()
						return h, h.Close
					}
				}
				b.SetBytes(int64(streams * object))
				before := cpuSeconds()
				b.ResetTimer()
				for range b.N {
					var wg sync.WaitGroup
					for range streams {
						wg.Go(func() {
							h, done := newHash()
							// A PUT writes stripe by stripe.
							for off := 0; off < object; off += 256 << 10 {
								h.Write(body[off : off+256<<10])
							}
							h.Sum(nil)
							done()
						})
					}
					wg.Wait()
				}
				b.StopTimer()
				gib := float64(b.N) * float64(streams*object) / (1 << 30)
				b.ReportMetric((cpuSeconds()-before)/gib, "cpu-s/GiB")
			})
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
