package objio_test

import (
	"fmt"
	"testing"
)

// TestReadAnyMessageCut: however a storage node cuts a shard into messages
// (one block a message, several, or pieces across blocks, as older nodes
// do), a GET returns the same bytes.
func TestReadAnyMessageCut(t *testing.T) {
	s, c := newStore(t, 6)
	data := payload(7, 5*small.K*small.BlockSize+1234)
	b := put(t, s, small, data)
	for _, pack := range []int{0, 1000, small.BlockSize, small.BlockSize + 1, 3 * small.BlockSize, 256 << 10} {
		t.Run(fmt.Sprintf("pack=%d", pack), func(t *testing.T) {
			for _, srv := range c.Servers {
				srv.PackReads(pack)
			}
			requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
			for _, r := range [][2]int64{{1, 10}, {int64(small.BlockSize) - 1, 3}, {int64(len(data)) - 5000, 5000}} {
				requireSame(t, data[r[0]:r[0]+r[1]], readRange(t, s, b, r[0], r[1]), "range %v", r)
			}
		})
	}
}
