package storage

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure/bitrot"
)

func TestReadClass(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{0, minReadClass},
		{1, minReadClass},
		{minReadClass, minReadClass},
		{minReadClass + 1, minReadClass + minReadClass/8},
		// A 1 MiB frame (block and checksum) costs an eighth more, not
		// twice its size.
		{1<<20 + 4, 1<<20 + 128<<10},
		{256<<10 + 4, 256<<10 + 32<<10},
		{1 << 20, 1 << 20},
		{16<<20 + 4, 18 << 20},
	} {
		got := readClass(tc.n)
		require.Equal(t, tc.want, got, "n=%d", tc.n)
		require.GreaterOrEqual(t, got, tc.n)
		require.Equal(t, got, readClass(got), "a class is its own class")
	}
}

func TestReadBuffersReuse(t *testing.T) {
	p := &readBuffers{}
	b := p.Get(1<<20 + 4)
	require.Len(t, *b, 1<<20+4)
	require.Equal(t, readClass(1<<20+4), cap(*b))
	p.Put(b)
	// sync.Pool may drop it (a GC between the calls): check only what any
	// buffer it returns must satisfy.
	c := p.Get(1<<20 + 100)
	require.Len(t, *c, 1<<20+100)
	require.Equal(t, readClass(1<<20+4), cap(*c))
	p.Put(c)
	odd := make([]byte, 5000)
	p.Put(&odd) // not a class size: dropped, not pooled
	require.Equal(t, readClass(5000), cap(*p.Get(5000)))
}

// TestReadSenderGroups checks how a batch's blocks are cut into messages:
// whole blocks together up to maxReadChunk, a larger block in pieces.
func TestReadSenderGroups(t *testing.T) {
	const mib = maxReadChunk
	blocks := func(n, size int) []bitrot.Span {
		var s []bitrot.Span
		for i := range n {
			lo := i * (size + bitrot.ChecksumSize)
			s = append(s, bitrot.Span{Lo: lo, Hi: lo + size})
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		spans []bitrot.Span
		want  [][]int // per message, the length of each part
	}{
		{"one short block", blocks(1, 256<<10), [][]int{{256 << 10}}},
		{"one 1 MiB block", blocks(1, mib), [][]int{{mib}}},
		{"15 blocks of 64 KiB", blocks(15, 64<<10), [][]int{{64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10, 64 << 10}}},
		{"blocks of 600 KiB", blocks(2, 600<<10), [][]int{{600 << 10}, {600 << 10}}},
		{"a 2.5 MiB block", blocks(1, 5*mib/2), [][]int{{mib}, {mib}, {mib / 2}}},
		{"a range inside a block", []bitrot.Span{{Lo: 10, Hi: 20}}, [][]int{{10}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &readSender{}
			var got [][]int
			require.NoError(t, r.group(tc.spans, func(parts []bitrot.Span) error {
				var m []int
				for _, p := range parts {
					m = append(m, p.Hi-p.Lo)
				}
				got = append(got, m)
				return nil
			}))
			require.Equal(t, tc.want, got)
			total := 0
			for _, sp := range tc.spans {
				total += sp.Hi - sp.Lo
			}
			require.EqualValues(t, total, r.sent)
		})
	}
}
