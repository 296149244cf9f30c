package objio_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/objio"
)

// TestWriteStripeBoundaries round-trips bodies around stripe boundaries
// with right, missing and wrong size hints, which size the read buffer
// but must never change what is stored.
func TestWriteStripeBoundaries(t *testing.T) {
	s, _ := newStore(t, 6)
	stripe := int(small.StripeSize())
	for _, size := range []int{1, stripe - 1, stripe, stripe + 1, 3 * stripe, 3*stripe + small.BlockSize, 3*stripe + 5} {
		for _, hint := range []int64{int64(size), -1, 0, int64(stripe)} {
			t.Run(fmt.Sprintf("size=%d/hint=%d", size, hint), func(t *testing.T) {
				data := payload(uint64(size), size)
				b, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: hint})
				require.NoError(t, err)
				require.Equal(t, int64(size), b.Size)
				want := md5.Sum(data)
				require.Equal(t, want[:], b.MD5)
				var got bytes.Buffer
				require.NoError(t, s.ReadBody(context.Background(), version(b), 0, b.Size, &got))
				require.Equal(t, data, got.Bytes())
			})
		}
	}
}
