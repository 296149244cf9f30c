package objio

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
)

func TestClassCap(t *testing.T) {
	const stripe = 4 << 20
	cases := []struct{ need, want int }{
		{1, 64 << 10},
		{64 << 10, 64 << 10},
		{64<<10 + 1, 128 << 10},
		{1<<20 + 1, 2 << 20},
		{3 << 20, stripe},
		{stripe, stripe},
		{stripe + 1, stripe},
	}
	for _, c := range cases {
		require.Equal(t, c.want, classCap(c.need, stripe), "need %d", c.need)
	}
	// A stripe smaller than the first class is its own cap.
	require.Equal(t, 16<<10, classCap(1, 16<<10))
}

// A slab handed back by the pool still holds an earlier stripe: lay must
// leave the data blocks holding exactly the body followed by zeros (parity
// is computed over the padding), and the parity blocks after them.
func TestLayOnDirtySlab(t *testing.T) {
	for _, p := range []erasure.Profile{{K: 4, M: 2, BlockSize: 4096}, {K: 3, M: 1, BlockSize: 8192}, {K: 1, M: 0, BlockSize: 4096}} {
		stripeSize := int(p.StripeSize())
		for _, n := range []int{1, p.K - 1, p.K, p.K + 1, stripeSize/2 + 3, stripeSize - 1, stripeSize} {
			if n < 1 {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", p, n), func(t *testing.T) {
				dataCap := classCap(n+1, stripeSize)
				st := &stripe{shards: make([][]byte, p.K+p.M), slab: newSlab(p, dataCap), dataCap: dataCap}
				for i := range st.slab {
					st.slab[i] = 0xff
				}
				body := make([]byte, n)
				for i := range body {
					body[i] = byte(i*13 + 1)
				}
				copy(st.slab, body)
				st.lay(p, n)

				bl := (n + p.K - 1) / p.K
				var data []byte
				for i, b := range st.shards {
					require.Len(t, b, bl, "block %d", i)
					require.Equal(t, bl, cap(b), "block %d must not reach into the next", i)
					if i < p.K {
						data = append(data, b...)
					}
				}
				require.Equal(t, body, data[:n])
				require.Equal(t, make([]byte, len(data)-n), data[n:], "padding must be zero")

				c, err := erasure.NewCoder(p)
				require.NoError(t, err)
				_, err = c.EncodeParity(st.shards)
				require.NoError(t, err)
				// The data blocks are untouched by encoding and the
				// parity matches a fresh encoding of the body.
				want, err := c.EncodeStripe(body, make([][]byte, p.K+p.M))
				require.NoError(t, err)
				for i := range want {
					require.True(t, bytes.Equal(want[i], st.shards[i]), "shard %d", i)
				}
			})
		}
	}
}

func TestPutReservation(t *testing.T) {
	p := erasure.Profile{K: 4, M: 2, BlockSize: 1 << 20} // 4 MiB stripes, 6 MiB slabs
	const mib = 1 << 20
	cases := []struct {
		name     string
		size     int64
		inFlight int
		want     int64
	}{
		{"unknown size: every stripe in flight", -1, 2, 12 * mib},
		{"large body", 64 * mib, 2, 12 * mib},
		{"large body, more stripes in flight", 64 * mib, 4, 24 * mib},
		{"one stripe and a bit: two slabs", 4*mib + 1, 4, 12 * mib},
		{"exactly one stripe: a second slab sees EOF", 4 * mib, 4, 12 * mib},
		{"below a stripe: one slab of its class", 1 * mib, 2, int64(slabLen(p, 2*mib))},
		{"empty", 0, 2, int64(slabLen(p, 64<<10))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, putReservation(p, c.size, c.inFlight))
		})
	}
}
