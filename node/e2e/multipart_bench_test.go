package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkMultipartUpload1GiB measures the throughput of a 1 GiB
// multipart upload, 32 MiB parts, 8 in flight, against a local
// multi-process cluster. The parts are generated on the fly, so the
// figure includes generating and signing them on this machine's cores.
func BenchmarkMultipartUpload1GiB(b *testing.B) {
	const (
		size     = 1 << 30
		partSize = 32 << 20
	)
	c := startCluster(b)
	ctx := ctxT(b, 20*time.Minute)
	c.mustCreateBucket(ctx, "mpbench")
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		_, err := c.parallelUpload(ctx, "mpbench", fmt.Sprintf("obj-%d", i), uint64(i), size, partSize, 8)
		require.NoError(b, err)
		b.ReportMetric(float64(size>>20)/time.Since(start).Seconds(), "upload-MiB/s")
	}
}
