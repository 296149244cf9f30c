package objio_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// multipartVersion stores each part as a body and returns the record of
// the object they make, with the concatenated data.
func multipartVersion(t *testing.T, s *objio.Store, sizes []int) (*metapb.ObjectVersion, []byte, []*objio.Body) {
	t.Helper()
	v := &metapb.ObjectVersion{Bucket: "b", Key: "mp"}
	var all []byte
	var bodies []*objio.Body
	for i, n := range sizes {
		data := payload(uint64(100+i), n)
		b := put(t, s, small, data)
		bodies = append(bodies, b)
		v.Parts = append(v.Parts, &metapb.PartInfo{
			Number: uint32(i + 1), Size: b.Size, DataId: b.DataID,
			Profile: objio.ProfileToProto(b.Profile), Shards: b.Shards,
		})
		v.Size += b.Size
		all = append(all, data...)
	}
	return v, all, bodies
}

func TestMultipartRanges(t *testing.T) {
	ss, bs := small.StripeSize(), int64(small.BlockSize)
	s, _ := newStore(t, 6)
	// Parts that end inside a block, on a stripe boundary and inside a
	// stripe, and a short last part.
	sizes := []int{int(2*ss + 100), int(ss), int(3*ss - bs), 17}
	v, data, _ := multipartVersion(t, s, sizes)
	size := int64(len(data))
	var bounds []int64
	var off int64
	for _, n := range sizes {
		off += int64(n)
		bounds = append(bounds, off)
	}
	ranges := [][2]int64{{0, size}, {0, 0}, {size, 0}, {size - 1, 1}}
	for _, b := range bounds[:len(bounds)-1] {
		ranges = append(ranges,
			[2]int64{b - 1, 2},       // across a part boundary
			[2]int64{b, 1},           // first byte of a part
			[2]int64{b - 1, 1},       // last byte of a part
			[2]int64{b - ss, 2 * ss}, // a stripe either side
			[2]int64{b - 5, ss + bs + 10},
		)
	}
	ranges = append(ranges, [2]int64{bounds[0] - 3, bounds[2] - bounds[0] + 10}) // spans a whole part
	rng := rand.New(rand.NewPCG(5, 6))
	for range 30 {
		o := rng.Int64N(size)
		ranges = append(ranges, [2]int64{o, rng.Int64N(size - o + 1)})
	}
	for _, r := range ranges {
		r[0] = max(r[0], 0)
		r[1] = min(r[1], size-r[0])
		var buf bytes.Buffer
		require.NoError(t, s.ReadBody(context.Background(), v, r[0], r[1], &buf), "range %v", r)
		requireSame(t, data[r[0]:r[0]+r[1]], buf.Bytes(), "range %d+%d", r[0], r[1])
	}
	for _, r := range [][2]int64{{-1, 1}, {0, size + 1}, {size, 1}} {
		err := s.ReadBody(context.Background(), v, r[0], r[1], io.Discard)
		require.ErrorIs(t, err, objio.ErrInvalidArgument, "range %v", r)
	}
}

func TestMultipartReadsOnlyNeededParts(t *testing.T) {
	s, c := newStore(t, 6)
	v, data, bodies := multipartVersion(t, s, []int{5000, 5000, 5000})
	// Part 1 is gone entirely: reads within parts 2 and 3 do not notice.
	for i, sh := range bodies[0].Shards {
		require.True(t, c.Server(sh.NodeId).Remove(sh.DriveId, objio.ShardID(bodies[0].DataID, i)))
	}
	var buf bytes.Buffer
	require.NoError(t, s.ReadBody(context.Background(), v, 5000, 10000, &buf))
	requireSame(t, data[5000:], buf.Bytes())
	err := s.ReadBody(context.Background(), v, 4999, 2, io.Discard)
	require.ErrorIs(t, err, objio.ErrDataUnavailable)
}

func TestPartRange(t *testing.T) {
	v := &metapb.ObjectVersion{Parts: []*metapb.PartInfo{{Size: 10}, {Size: 20}, {Size: 5}}}
	tests := []struct {
		n         int
		off, size int64
		ok        bool
	}{
		{1, 0, 10, true}, {2, 10, 20, true}, {3, 30, 5, true}, {0, 0, 0, false}, {4, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			off, size, ok := objio.PartRange(v, tc.n)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, [2]int64{tc.off, tc.size}, [2]int64{off, size})
		})
	}
}

func TestMultipartRecordShorterThanParts(t *testing.T) {
	s, _ := newStore(t, 6)
	v, _, _ := multipartVersion(t, s, []int{100, 100})
	v.Size = 300
	err := s.ReadBody(context.Background(), v, 0, 300, io.Discard)
	require.ErrorIs(t, err, objio.ErrInvalidArgument)
}
