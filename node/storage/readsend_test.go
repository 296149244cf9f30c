package storage

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure/bitrot"
)

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
