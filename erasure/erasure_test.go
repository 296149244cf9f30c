package erasure

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

const testBlock = 64

var testProfiles = []Profile{
	{K: 4, M: 2, BlockSize: testBlock},
	{K: 2, M: 1, BlockSize: testBlock},
	{K: 8, M: 3, BlockSize: testBlock},
	{K: 1, M: 0, BlockSize: testBlock},
	{K: 6, M: 3, BlockSize: 2 * testBlock},
}

// testSizes returns the object sizes worth testing for p: empty, tiny, and
// one byte either side of every block and stripe boundary.
func testSizes(p Profile) []int64 {
	b, s, k := int64(p.BlockSize), p.StripeSize(), int64(p.K)
	sizes := []int64{0, 1, k - 1, k, k + 1, b - 1, b, b + 1, s - 1, s, s + 1, 3*s + 2*k + 3}
	var out []int64
	seen := map[int64]bool{}
	for _, n := range sizes {
		if n >= 0 && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// testData is deterministic so a failure reproduces byte for byte.
func testData(size int64) []byte {
	r := rand.New(rand.NewPCG(uint64(size), 42))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// encodeObject lays out a whole object as K+M shard contents.
func encodeObject(t testing.TB, c *Coder, data []byte) [][]byte {
	t.Helper()
	p := c.Profile()
	size := int64(len(data))
	out := make([][]byte, p.Shards())
	for i := range out {
		out[i] = []byte{}
	}
	scratch := make([][]byte, p.Shards())
	for s := range p.StripeCount(size) {
		start := s * p.StripeSize()
		stripe := data[start : start+p.StripeDataLen(size, s)]
		blocks, err := c.EncodeStripe(stripe, scratch)
		require.NoError(t, err)
		for i, blk := range blocks {
			require.Len(t, blk, p.BlockLen(size, s))
			out[i] = append(out[i], blk...)
		}
	}
	return out
}

// stripeBlocks copies stripe s's blocks out of whole shards, so tests can
// drop and rebuild them without touching the originals.
func stripeBlocks(p Profile, shards [][]byte, size, s int64) [][]byte {
	off := p.ShardOffset(s)
	n := int64(p.BlockLen(size, s))
	out := make([][]byte, len(shards))
	for i, sh := range shards {
		out[i] = bytes.Clone(sh[off : off+n])
	}
	return out
}

// combinations calls fn with every subset of {0..n-1} of exactly r elements.
func combinations(n, r int, fn func([]int)) {
	idx := make([]int, r)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == r {
			fn(idx)
			return
		}
		for i := start; i < n; i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
}

func TestProfileValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Profile
		ok   bool
	}{
		{"4+2", Profile{K: 4, M: 2, BlockSize: 1 << 20}, true},
		{"1+0", Profile{K: 1, M: 0, BlockSize: 64}, true},
		{"max shards", Profile{K: 200, M: 56, BlockSize: 64}, true},
		{"max block", Profile{K: 1, M: 1, BlockSize: MaxBlockSize}, true},
		{"zero K", Profile{K: 0, M: 2, BlockSize: 64}, false},
		{"negative M", Profile{K: 4, M: -1, BlockSize: 64}, false},
		{"too many shards", Profile{K: 200, M: 57, BlockSize: 64}, false},
		{"zero block", Profile{K: 4, M: 2, BlockSize: 0}, false},
		{"negative block", Profile{K: 4, M: 2, BlockSize: -64}, false},
		{"unaligned block", Profile{K: 4, M: 2, BlockSize: 100}, false},
		{"block too large", Profile{K: 4, M: 2, BlockSize: MaxBlockSize + 64}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.ok {
				require.NoError(t, err)
				_, err = NewCoder(tt.p)
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidProfile)
			_, err = NewCoder(tt.p)
			require.ErrorIs(t, err, ErrInvalidProfile)
		})
	}
}

func TestLayoutMath(t *testing.T) {
	for _, p := range testProfiles {
		for _, size := range testSizes(p) {
			t.Run(fmt.Sprintf("%s/size=%d", p, size), func(t *testing.T) {
				stripes := p.StripeCount(size)
				var dataSum, shardSum int64
				for s := range stripes {
					n := p.StripeDataLen(size, s)
					require.Positive(t, n)
					bl := p.BlockLen(size, s)
					if s < stripes-1 {
						require.Equal(t, p.StripeSize(), n, "only the last stripe may be short")
						require.Equal(t, p.BlockSize, bl)
					}
					require.Equal(t, (n+int64(p.K)-1)/int64(p.K), int64(bl))
					require.Equal(t, shardSum, p.ShardOffset(s), "stripe %d must start where the previous ended", s)
					dataSum += n
					shardSum += int64(bl)
				}
				require.Equal(t, size, dataSum)
				require.Equal(t, p.ShardSize(size), shardSum)
				require.Zero(t, p.StripeDataLen(size, stripes), "past the end")
				require.Zero(t, p.StripeDataLen(size, -1))
				require.Zero(t, p.BlockLen(size, stripes))
			})
		}
	}
}

func TestStripeSpan(t *testing.T) {
	p := Profile{K: 2, M: 1, BlockSize: 64} // stripes of 128 bytes
	const size = 3*128 + 5
	tests := []struct {
		name                string
		off, length         int64
		wantFirst, wantLast int64
	}{
		{"first byte", 0, 1, 0, 0},
		{"whole first stripe", 0, 128, 0, 0},
		{"one past first stripe", 0, 129, 0, 1},
		{"last byte of stripe 0", 127, 1, 0, 0},
		{"crosses boundary", 127, 2, 0, 1},
		{"first byte of stripe 1", 128, 1, 1, 1},
		{"whole object", 0, size, 0, 3},
		{"clipped past end", 300, 1 << 20, 2, 3},
		{"last byte", size - 1, 1, 3, 3},
		{"tail stripe", 3 * 128, 5, 3, 3},
		{"empty length", 10, 0, 0, -1},
		{"negative length", 10, -1, 0, -1},
		{"negative offset", -1, 10, 0, -1},
		{"offset at end", size, 1, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last := p.StripeSpan(size, tt.off, tt.length)
			require.Equal(t, tt.wantFirst, first)
			require.Equal(t, tt.wantLast, last)
		})
	}
	t.Run("exhaustive against brute force", func(t *testing.T) {
		for _, p := range testProfiles {
			for _, size := range testSizes(p) {
				for off := int64(0); off <= size; off++ {
					for _, length := range []int64{1, 2, int64(p.BlockSize), p.StripeSize(), p.StripeSize() + 1, size} {
						first, last := p.StripeSpan(size, off, length)
						wantFirst, wantLast := int64(0), int64(-1)
						found := false
						for s := range p.StripeCount(size) {
							lo := s * p.StripeSize()
							hi := lo + p.StripeDataLen(size, s)
							if lo < off+length && off < hi && length > 0 {
								if !found {
									wantFirst, found = s, true
								}
								wantLast = s
							}
						}
						require.Equal(t, wantFirst, first, "%s size=%d off=%d len=%d", p, size, off, length)
						require.Equal(t, wantLast, last, "%s size=%d off=%d len=%d", p, size, off, length)
					}
				}
			}
		}
	})
}

func TestRoundTrip(t *testing.T) {
	for _, p := range testProfiles {
		for _, size := range testSizes(p) {
			t.Run(fmt.Sprintf("%s/size=%d", p, size), func(t *testing.T) {
				c, err := NewCoder(p)
				require.NoError(t, err)
				data := testData(size)
				shards := encodeObject(t, c, data)
				for i, sh := range shards {
					require.Len(t, sh, int(p.ShardSize(size)), "shard %d", i)
				}
				// Data shards hold the object bytes verbatim at the offsets
				// the layout promises, so healthy reads need no decoding.
				for s := range p.StripeCount(size) {
					bl := int64(p.BlockLen(size, s))
					for i := range p.K {
						lo := min(s*p.StripeSize()+int64(i)*bl, s*p.StripeSize()+p.StripeDataLen(size, s))
						hi := min(lo+bl, s*p.StripeSize()+p.StripeDataLen(size, s))
						got := shards[i][p.ShardOffset(s) : p.ShardOffset(s)+bl]
						require.Equal(t, data[lo:hi], got[:hi-lo])
						require.Equal(t, make([]byte, bl-(hi-lo)), got[hi-lo:], "padding must be zero")
					}
				}
				var out []byte
				for s := range p.StripeCount(size) {
					blocks := stripeBlocks(p, shards, size, s)
					require.NoError(t, c.ReconstructData(blocks))
					out = c.AppendData(out, blocks, int(p.StripeDataLen(size, s)))
				}
				require.Equal(t, data, append([]byte{}, out...))
			})
		}
	}
}

func TestReconstructEveryLoss(t *testing.T) {
	for _, p := range testProfiles {
		for _, size := range testSizes(p) {
			if size == 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s/size=%d", p, size), func(t *testing.T) {
				c, err := NewCoder(p)
				require.NoError(t, err)
				data := testData(size)
				shards := encodeObject(t, c, data)
				for s := range p.StripeCount(size) {
					start := s * p.StripeSize()
					want := data[start : start+p.StripeDataLen(size, s)]
					for lost := 0; lost <= p.M; lost++ {
						combinations(p.Shards(), lost, func(idx []int) {
							blocks := stripeBlocks(p, shards, size, s)
							for _, i := range idx {
								blocks[i] = nil
							}
							require.NoError(t, c.ReconstructData(blocks), "stripe %d lost %v", s, idx)
							got := c.AppendData(nil, blocks, len(want))
							require.Equal(t, want, got, "stripe %d lost %v", s, idx)
						})
					}
					combinations(p.Shards(), p.M+1, func(idx []int) {
						blocks := stripeBlocks(p, shards, size, s)
						for _, i := range idx {
							blocks[i] = blocks[i][:0] // empty counts as missing too
						}
						require.ErrorIs(t, c.ReconstructData(blocks), ErrTooFewShards, "stripe %d lost %v", s, idx)
					})
				}
			})
		}
	}
}

func TestEncodeStripeReusesBuffers(t *testing.T) {
	p := Profile{K: 4, M: 2, BlockSize: 64}
	c, err := NewCoder(p)
	require.NoError(t, err)
	shards := make([][]byte, p.Shards())
	full := testData(p.StripeSize())
	shards, err = c.EncodeStripe(full, shards)
	require.NoError(t, err)
	first := &shards[3][0]

	// A short stripe after a full one reuses the same buffers; stale bytes
	// must not leak into the padding, or parity would encode garbage.
	short := testData(13) // blocks of 4 bytes, last data block holds 1 byte
	shards, err = c.EncodeStripe(short, shards)
	require.NoError(t, err)
	require.Same(t, first, &shards[3][0])
	for _, blk := range shards {
		require.Len(t, blk, 4)
	}
	require.Equal(t, []byte{short[12], 0, 0, 0}, shards[3])

	fresh, err := c.EncodeStripe(short, make([][]byte, p.Shards()))
	require.NoError(t, err)
	require.Equal(t, fresh, shards)
}

func TestEncodeParityMatchesEncodeStripe(t *testing.T) {
	for _, p := range testProfiles {
		for _, n := range []int64{1, int64(p.K) + 1, p.StripeSize()} {
			t.Run(fmt.Sprintf("%s/%d", p, n), func(t *testing.T) {
				c, err := NewCoder(p)
				require.NoError(t, err)
				data := testData(n)
				want, err := c.EncodeStripe(data, make([][]byte, p.Shards()))
				require.NoError(t, err)
				blocks := make([][]byte, p.Shards())
				for i := range p.K {
					blocks[i] = bytes.Clone(want[i])
				}
				got, err := c.EncodeParity(blocks)
				require.NoError(t, err)
				require.Equal(t, want, got)
			})
		}
	}
}

func TestCoderInvalidInput(t *testing.T) {
	p := Profile{K: 4, M: 2, BlockSize: 64}
	c, err := NewCoder(p)
	require.NoError(t, err)
	tests := []struct {
		name string
		run  func() error
	}{
		{"empty stripe", func() error {
			_, err := c.EncodeStripe(nil, make([][]byte, 6))
			return err
		}},
		{"stripe too large", func() error {
			_, err := c.EncodeStripe(make([]byte, p.StripeSize()+1), make([][]byte, 6))
			return err
		}},
		{"encode wrong shard count", func() error {
			_, err := c.EncodeStripe([]byte("x"), make([][]byte, 5))
			return err
		}},
		{"parity wrong shard count", func() error {
			_, err := c.EncodeParity(make([][]byte, 5))
			return err
		}},
		{"parity empty blocks", func() error {
			_, err := c.EncodeParity(make([][]byte, 6))
			return err
		}},
		{"parity block too large", func() error {
			blk := make([]byte, p.BlockSize+1)
			_, err := c.EncodeParity([][]byte{blk, blk, blk, blk, nil, nil})
			return err
		}},
		{"parity unequal blocks", func() error {
			_, err := c.EncodeParity([][]byte{{1, 2}, {1, 2}, {1}, {1, 2}, nil, nil})
			return err
		}},
		{"reconstruct wrong shard count", func() error {
			return c.ReconstructData(make([][]byte, 7))
		}},
		{"reconstruct unequal lengths", func() error {
			return c.ReconstructData([][]byte{{1, 2}, {1, 2}, {1}, nil, {1, 2}, {1, 2}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.run(), ErrInvalidInput)
		})
	}
}

func TestAppendDataStopsAtMissingBlock(t *testing.T) {
	p := Profile{K: 3, M: 1, BlockSize: 64}
	c, err := NewCoder(p)
	require.NoError(t, err)
	shards := [][]byte{[]byte("abcd"), nil, []byte("ijkl"), []byte("pppp")}
	require.Equal(t, []byte("abcd"), c.AppendData(nil, shards, 12))

	shards[1] = []byte("efgh")
	tests := []struct {
		n    int
		want string
	}{
		{0, ""},
		{3, "abc"},
		{4, "abcd"},
		{9, "abcdefghi"},
		{12, "abcdefghijkl"},
		{100, "abcdefghijkl"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			require.Equal(t, "x"+tt.want, string(c.AppendData([]byte("x"), shards, tt.n)))
		})
	}
}

func benchProfiles() []Profile {
	return []Profile{
		{K: 4, M: 2, BlockSize: 1 << 20},
		{K: 2, M: 1, BlockSize: 1 << 20},
		{K: 8, M: 3, BlockSize: 1 << 20},
		{K: 6, M: 3, BlockSize: 1 << 20},
		{K: 12, M: 4, BlockSize: 1 << 20},
	}
}

func BenchmarkEncodeStripe(b *testing.B) {
	for _, p := range benchProfiles() {
		b.Run(p.String(), func(b *testing.B) {
			c, err := NewCoder(p)
			require.NoError(b, err)
			data := testData(p.StripeSize())
			shards := make([][]byte, p.Shards())
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.EncodeStripe(data, shards); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeParity(b *testing.B) {
	for _, p := range benchProfiles() {
		b.Run(p.String(), func(b *testing.B) {
			c, err := NewCoder(p)
			require.NoError(b, err)
			shards, err := c.EncodeStripe(testData(p.StripeSize()), make([][]byte, p.Shards()))
			require.NoError(b, err)
			b.SetBytes(p.StripeSize())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.EncodeParity(shards); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReconstructData(b *testing.B) {
	for _, p := range benchProfiles() {
		for lost := 1; lost <= min(p.M, 2); lost++ {
			b.Run(fmt.Sprintf("%s/lost=%d", p, lost), func(b *testing.B) {
				c, err := NewCoder(p)
				require.NoError(b, err)
				data := testData(p.StripeSize())
				shards, err := c.EncodeStripe(data, make([][]byte, p.Shards()))
				require.NoError(b, err)
				work := make([][]byte, p.Shards())
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					copy(work, shards)
					for i := range lost {
						work[i] = work[i][:0] // data shards: the expensive case
					}
					if err := c.ReconstructData(work); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
