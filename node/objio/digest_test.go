package objio_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// TestPutRecordsDigests: the body carries, for every shard, the digest the
// storage node computed from the bytes it framed, which is also the one
// computed independently from the shard's data.
func TestPutRecordsDigests(t *testing.T) {
	s, c := newStore(t, 6)
	for _, tc := range []struct {
		p    erasure.Profile
		size int
	}{
		{small, 1},
		{small, 3*int(small.StripeSize()) + 17},
		// Blocks larger than a WriteShard message: each goes in chunks.
		{large, int(large.StripeSize()) + 1000},
		{erasure.Profile{K: 2, M: 1, BlockSize: 512 << 10}, 3 << 20},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.p, tc.size), func(t *testing.T) {
			data := payload(uint64(tc.size), tc.size)
			b := put(t, s, tc.p, data)
			require.Len(t, b.ShardDigests, tc.p.K+tc.p.M)
			for i, d := range b.ShardDigests {
				srv, drive, id := shardHolder(c, b, i)
				got, ok := srv.Digest(drive, id)
				require.True(t, ok)
				require.Equal(t, got, d, "shard %d: the node's digest", i)
				shard, ok := srv.Data(drive, id)
				require.True(t, ok)
				var crcs []uint32
				for p := shard; len(p) > 0; {
					blk := p[:min(tc.p.BlockSize, len(p))]
					p = p[len(blk):]
					crcs = append(crcs, crc32.Checksum(blk, crc32.MakeTable(crc32.Castagnoli)))
				}
				require.Equal(t, bitrot.ShardDigest(id, tc.p.BlockSize, crcs, int64(len(shard))), d, "shard %d", i)
			}
			requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
		})
	}
}

// TestPutFailsOnWrongDigest: a node that acknowledges a digest other than
// the one of the blocks it was sent fails the PUT (a multi-stripe body
// cannot move), and nothing is left behind.
func TestPutFailsOnWrongDigest(t *testing.T) {
	s, c := newStore(t, 6)
	c.Servers[2].AnswerWrongDigest(true)
	data := payload(3, 3*int(small.StripeSize()))
	_, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: int64(len(data))})
	require.ErrorIs(t, err, objio.ErrShardWrite)
	require.ErrorIs(t, err, objio.ErrDigestMismatch)
	require.Zero(t, c.ShardCount(), "the failed PUT's shards were deleted")
}

// TestSmallPutMovesOffWrongDigest: a body of one stripe is still in memory
// at the commit, so its shard moves to another node.
func TestSmallPutMovesOffWrongDigest(t *testing.T) {
	s, c := newStore(t, 7)
	bad := c.Servers[0]
	bad.AnswerWrongDigest(true)
	data := payload(4, 1000)
	b := put(t, s, small, data)
	for _, sp := range b.Shards {
		require.NotEqual(t, string(bad.ID), sp.GetNodeId())
	}
	require.Empty(t, bad.Shards(), "the shard acknowledged with the wrong digest was deleted")
	requireSame(t, data, readRange(t, s, b, 0, int64(len(data))))
}

// TestReadWithoutDigests: records written before digests are read against
// their frames only; a shard with another digest is then served.
func TestReadWithoutDigests(t *testing.T) {
	var failed []int
	s, c := newStore(t, 6, func(cfg *objio.Config) {
		cfg.OnReadFailure = func(_ *metapb.ObjectVersion, shard int, err error) {
			require.Equal(t, codes.DataLoss, status.Code(err))
			failed = append(failed, shard)
		}
	})
	data := payload(5, 2*int(small.StripeSize()))
	b := put(t, s, small, data)
	srv, drive, id := shardHolder(c, b, 0)
	require.True(t, srv.Misplace(drive, id))

	v := version(b)
	v.ShardDigests = nil
	var buf bytes.Buffer
	require.NoError(t, s.ReadBody(context.Background(), v, 0, int64(len(data)), &buf))
	requireSame(t, data, buf.Bytes())
	require.Empty(t, failed)

	buf.Reset()
	require.NoError(t, s.ReadBody(context.Background(), version(b), 0, int64(len(data)), &buf))
	requireSame(t, data, buf.Bytes())
	require.Equal(t, []int{0}, failed, "with digests the misplaced shard is read around and reported")
}
