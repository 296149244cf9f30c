package bitrot

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// trackPool is a Buffers that records what it lends and gets back.
type trackPool struct {
	sizes []int
	out   int // buffers lent and not given back
}

func (p *trackPool) Get(n int) *[]byte {
	p.sizes = append(p.sizes, n)
	p.out++
	b := bytes.Repeat([]byte{0xee}, n) // not zeroed: ReadBlocks must overwrite
	return &b
}

func (p *trackPool) Put(*[]byte) { p.out-- }

// TestReadBlocksSizesBuffersToTheRange checks that each batch's buffer is
// the framed bytes it needs, not a whole batch of whole frames, and that
// the spans hold exactly the range.
func TestReadBlocksSizesBuffersToTheRange(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name            string
		size, bs        int64
		off, n          int64
		wantSizes       []int
		wantSpansPerBuf []int
	}{
		// A 256 KiB shard of 1 MiB blocks: one short block, no 1 MiB frame.
		{"short shard", 256 << 10, mib, 0, 256 << 10, []int{256<<10 + ChecksumSize}, []int{1}},
		{"part of a short shard", 256 << 10, mib, 1000, 5000, []int{256<<10 + ChecksumSize}, []int{1}},
		{"full blocks", 3 * mib, mib, 0, 3 * mib, []int{mib + 4, mib + 4, mib + 4}, []int{1, 1, 1}},
		{"short last block", 2*mib + 10, mib, mib, mib + 10, []int{mib + 4, 10 + 4}, []int{1, 1}},
		// 64 KiB blocks: 15 frames a batch (1 MiB / (64 KiB + 4)).
		{"small blocks", 20 << 16, 1 << 16, 0, 20 << 16, []int{15 * (1<<16 + 4), 5 * (1<<16 + 4)}, []int{15, 5}},
		{"small blocks, short range", 20 << 16, 1 << 16, 3<<16 + 1, 2, []int{1<<16 + 4}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := testData(tc.size)
			framed := writeFramed(t, data, int(tc.bs), 0)
			pool := &trackPool{}
			var got []byte
			var spansPerBuf []int
			err := ReadBlocks(bytes.NewReader(framed), tc.size, int(tc.bs), tc.off, tc.n, pool, func(buf *[]byte, spans []Span) error {
				spansPerBuf = append(spansPerBuf, len(spans))
				for _, s := range spans {
					got = append(got, (*buf)[s.Lo:s.Hi]...)
				}
				pool.Put(buf)
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, data[tc.off:tc.off+tc.n], got)
			require.Equal(t, tc.wantSizes, pool.sizes)
			require.Equal(t, tc.wantSpansPerBuf, spansPerBuf)
			require.Zero(t, pool.out)
		})
	}
}

// TestReadBlocksOwnership checks who gives a buffer back: yield, for each
// buffer it is handed (even when it fails); ReadBlocks, for a buffer whose
// batch failed to read or verify (and yield never sees it).
func TestReadBlocksOwnership(t *testing.T) {
	const bs, size = 16, 100
	data := testData(size)
	good := writeFramed(t, data, bs, 0)
	bad := bytes.Clone(good)
	bad[HeaderSize+2*(bs+ChecksumSize)+3] ^= 1 // block 2
	stop := errors.New("client gone")
	for _, tc := range []struct {
		name      string
		framed    []byte
		yieldErr  error
		wantErr   error
		wantCalls int
		wantData  []byte
	}{
		{"all good", good, nil, nil, 1, data},
		{"corrupt block", bad, nil, ErrCorrupt, 1, data[:2*bs]}, // the good blocks before it go out
		{"truncated", good[:HeaderSize+40], nil, ErrCorrupt, 0, nil},
		{"yield fails", good, stop, stop, 1, data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &trackPool{}
			calls := 0
			var got []byte
			err := ReadBlocks(bytes.NewReader(tc.framed), size, bs, 0, size, pool, func(buf *[]byte, spans []Span) error {
				calls++
				for _, s := range spans {
					got = append(got, (*buf)[s.Lo:s.Hi]...)
				}
				pool.Put(buf)
				return tc.yieldErr
			})
			if tc.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
			}
			require.Equal(t, tc.wantCalls, calls)
			require.Equal(t, tc.wantData, got)
			require.Zero(t, pool.out, "every buffer given back once")
		})
	}
}
