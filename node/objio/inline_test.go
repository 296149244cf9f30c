package objio_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

func inlineVersion(b *objio.Body) *metapb.ObjectVersion {
	return &metapb.ObjectVersion{Bucket: "b", Key: "k", DataId: b.DataID, Size: b.Size, Inline: true, InlineData: b.Inline}
}

// TestInlineBodies: bodies up to InlineMax come back inline and write no
// shard; larger ones (with or without a size hint) go to shards whole.
func TestInlineBodies(t *testing.T) {
	s, c := newStore(t, 6)
	p := erasure.Profile{K: 4, M: 2, BlockSize: 4096}
	const limit = 10 << 10
	for _, tc := range []struct {
		name   string
		size   int
		hint   int64
		inline bool
	}{
		{"empty", 0, 0, true},
		{"small", 4 << 10, 4 << 10, true},
		{"at limit", limit, limit, true},
		{"at limit, unknown size", limit, -1, true},
		{"one over, unknown size", limit + 1, -1, false},
		{"hint lies low", limit + 1, 10, false},
		{"large", 100 << 10, 100 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := payload(uint64(tc.size), tc.size)
			before := c.ShardCount()
			b, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: p, Size: tc.hint, InlineMax: limit})
			require.NoError(t, err)
			sum := md5.Sum(data)
			require.Equal(t, sum[:], b.MD5)
			require.EqualValues(t, tc.size, b.Size)
			require.NotEmpty(t, b.DataID)
			require.Equal(t, tc.inline, b.IsInline())
			var buf bytes.Buffer
			if tc.inline {
				require.Equal(t, before, c.ShardCount(), "an inline body writes no shard")
				require.Empty(t, b.Shards)
				requireSame(t, data, b.Inline)
				require.NoError(t, s.ReadBody(context.Background(), inlineVersion(b), 0, int64(tc.size), &buf))
			} else {
				require.Equal(t, before+p.K+p.M, c.ShardCount())
				require.Len(t, b.Shards, p.K+p.M)
				require.NoError(t, s.ReadBody(context.Background(), version(b), 0, int64(tc.size), &buf))
			}
			requireSame(t, data, buf.Bytes())
		})
	}
}

func TestInlineRangesAndLimits(t *testing.T) {
	s, _ := newStore(t, 6)
	p := erasure.Profile{K: 4, M: 2, BlockSize: 4096}
	data := payload(7, 3000)
	b, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: p, Size: -1, InlineMax: 4096})
	require.NoError(t, err)
	v := inlineVersion(b)
	for _, r := range [][2]int64{{0, 1}, {1, 2998}, {2999, 1}, {3000, 0}, {100, 0}} {
		var buf bytes.Buffer
		require.NoError(t, s.ReadBody(context.Background(), v, r[0], r[1], &buf))
		requireSame(t, data[r[0]:r[0]+r[1]], buf.Bytes())
	}
	var buf bytes.Buffer
	require.ErrorIs(t, s.ReadBody(context.Background(), v, 2999, 2, &buf), objio.ErrInvalidArgument)
	// A record whose bytes disagree with its size is refused, not served.
	bad := inlineVersion(b)
	bad.Size = 2999
	require.ErrorIs(t, s.ReadBody(context.Background(), bad, 0, 10, &buf), objio.ErrInvalidArgument)
	// Encrypted bodies: stored_size addresses the stored bytes.
	enc := inlineVersion(b)
	enc.Size, enc.StoredSize = 2900, 3000
	buf.Reset()
	require.NoError(t, s.ReadBody(context.Background(), enc, 2990, 10, &buf))
	require.Equal(t, data[2990:], buf.Bytes())

	_, err = s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{Profile: p, Size: -1, InlineMax: objio.MaxInlineBytes + 1})
	require.ErrorIs(t, err, objio.ErrInvalidArgument)
}
