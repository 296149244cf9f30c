package storage

import (
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// blockCRCs is what a gateway knows of the blocks it sent.
func blockCRCs(data []byte, bs int) []uint32 {
	var out []uint32
	for len(data) > 0 {
		blk := data[:min(bs, len(data))]
		data = data[len(blk):]
		out = append(out, crc32.Checksum(blk, castagnoli))
	}
	return out
}

// shardPath is where the drive rooted at root keeps shardID.
func shardPath(root, shardID string) string {
	d := &drive{root: root}
	return d.shardPath(shardID)
}

func TestWriteReturnsDigest(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	for _, tc := range []struct {
		name  string
		bs    uint32
		size  int
		chunk int
	}{
		{"empty", 4096, 0, 1},
		{"one block", 4096, 4096, 4096},
		{"blocks in small chunks", 4096, 3*4096 + 17, 1000},
		{"block larger than chunks", 64 << 10, 200000, 16 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "d" + tc.name[:3] + ".1"
			data := randBytes(uint64(tc.size), tc.size)
			resp, err := writeShard(ctx, e.client, ref(drive, id), tc.bs, data, max(tc.chunk, 1))
			require.NoError(t, err)
			want := bitrot.ShardDigest(id, int(tc.bs), blockCRCs(data, int(tc.bs)), int64(tc.size))
			require.Equal(t, want, resp.GetDigest(), "the node's digest is the one the sender computes")

			st, err := e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: ref(drive, id)})
			require.NoError(t, err)
			require.Equal(t, want, st.GetDigest())

			v, err := e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, id), ExpectDigest: want})
			require.NoError(t, err)
			require.Equal(t, want, v.GetDigest())
			require.Equal(t, uint64(tc.size), v.GetSize())

			stream, err := e.client.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: ref(drive, id), ExpectDigest: want})
			require.NoError(t, err)
			var got []byte
			for {
				msg, err := stream.Recv()
				if err != nil {
					break
				}
				got = append(got, msg.GetData()...)
			}
			require.Equal(t, data, append([]byte{}, got...))
		})
	}
}

func TestReadWrongDigest(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	r := ref(e.srv.DriveIDs()[0], "w.0")
	data := randBytes(3, 10000)
	resp, err := writeShard(ctx, e.client, r, 4096, data, 10000)
	require.NoError(t, err)
	wrong := append([]byte{}, resp.GetDigest()...)
	wrong[0] ^= 1

	stream, err := e.client.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: r, ExpectDigest: wrong})
	require.NoError(t, err)
	msg, err := stream.Recv()
	requireCode(t, err, codes.DataLoss)
	require.Empty(t, msg.GetData(), "not a byte of a shard with the wrong digest is served")

	_, err = e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: r, ExpectDigest: wrong})
	requireCode(t, err, codes.DataLoss)
}

func TestVerifyShardDamage(t *testing.T) {
	e := startServer(t, Config{Drives: []string{t.TempDir()}})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	root := e.drives[0]
	data := randBytes(9, 50000)
	a, err := writeShard(ctx, e.client, ref(drive, "aaaa.2"), 4096, data, 8192)
	require.NoError(t, err)
	other := randBytes(10, 50000)
	b, err := writeShard(ctx, e.client, ref(drive, "bbbb.2"), 4096, other, 8192)
	require.NoError(t, err)
	require.NotEqual(t, a.GetDigest(), b.GetDigest())

	t.Run("missing", func(t *testing.T) {
		_, err := e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, "none.0")})
		requireCode(t, err, codes.NotFound)
	})
	t.Run("flipped bit", func(t *testing.T) {
		p := shardPath(root, "aaaa.2")
		orig, err := os.ReadFile(p)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, os.WriteFile(p, orig, 0o644)) })
		bad := append([]byte{}, orig...)
		bad[len(bad)/2] ^= 0x10
		require.NoError(t, os.WriteFile(p, bad, 0o644))
		_, err = e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, "aaaa.2")})
		requireCode(t, err, codes.DataLoss)
	})
	t.Run("another shard's bytes under this name", func(t *testing.T) {
		p := shardPath(root, "aaaa.2")
		orig, err := os.ReadFile(p)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, os.WriteFile(p, orig, 0o644)) })
		foreign, err := os.ReadFile(shardPath(root, "bbbb.2"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, foreign, 0o644))

		_, err = e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, "aaaa.2"), ExpectDigest: a.GetDigest()})
		requireCode(t, err, codes.DataLoss)
		// Even without the record's digest the copy fails: the shard's
		// name is part of its digest.
		_, err = e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, "aaaa.2")})
		requireCode(t, err, codes.DataLoss)
		// Its frames are intact, so only a read that names the digest
		// refuses it.
		got, err := readShard(ctx, e.client, ref(drive, "aaaa.2"), 0, 0)
		require.NoError(t, err)
		require.Equal(t, other, got)
		stream, err := e.client.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: ref(drive, "aaaa.2"), ExpectDigest: a.GetDigest()})
		require.NoError(t, err)
		_, err = stream.Recv()
		requireCode(t, err, codes.DataLoss)
	})
	t.Run("cut at a block boundary", func(t *testing.T) {
		p := shardPath(root, "aaaa.2")
		orig, err := os.ReadFile(p)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, os.WriteFile(p, orig, 0o644)) })
		// Drop the last block and its checksum, keep the trailer.
		cut := append(append([]byte{}, orig[:bitrot.HeaderSize+12*(4096+4)]...), orig[len(orig)-bitrot.TrailerSize:]...)
		require.NoError(t, os.WriteFile(p, cut, 0o644))
		_, err = readShard(ctx, e.client, ref(drive, "aaaa.2"), 0, 100)
		requireCode(t, err, codes.DataLoss)
	})
	t.Run("intact again", func(t *testing.T) {
		v, err := e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, "aaaa.2"), ExpectDigest: a.GetDigest()})
		require.NoError(t, err)
		require.Equal(t, a.GetDigest(), v.GetDigest())
	})
}

// TestVersion1ShardStillServed places a shard that the version 1 writer
// produced (testdata) on a drive: it reads, stats and verifies, and its
// digest is computed from its stored checksums.
func TestVersion1ShardStillServed(t *testing.T) {
	e := startServer(t, Config{Drives: []string{t.TempDir()}})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	const id = "v1.0"
	framed, err := os.ReadFile("testdata/v1-bs16-size100.shard")
	require.NoError(t, err)
	p := shardPath(e.drives[0], id)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, framed, 0o644))
	// The bytes the version 1 writer framed (the bitrot tests' data).
	r := rand.New(rand.NewPCG(100, 7))
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte(r.Uint32())
	}

	got, err := readShard(ctx, e.client, ref(drive, id), 0, 0)
	require.NoError(t, err)
	require.Equal(t, data, got)
	st, err := e.client.StatShard(ctx, &storagepb.StatShardRequest{Ref: ref(drive, id)})
	require.NoError(t, err)
	require.Equal(t, uint64(100), st.GetSize())
	want := bitrot.ShardDigest(id, 16, blockCRCs(data, 16), 100)
	v, err := e.client.VerifyShard(ctx, &storagepb.VerifyShardRequest{Ref: ref(drive, id), ExpectDigest: want})
	require.NoError(t, err)
	require.Equal(t, want, v.GetDigest())
	stream, err := e.client.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: ref(drive, id), ExpectDigest: want})
	require.NoError(t, err)
	msg, err := stream.Recv()
	require.NoError(t, err)
	require.Equal(t, data, msg.GetData())
	wrong := append([]byte{}, want...)
	wrong[3] ^= 1
	stream, err = e.client.ReadShard(ctx, &storagepb.ReadShardRequest{Ref: ref(drive, id), ExpectDigest: wrong})
	require.NoError(t, err)
	_, err = stream.Recv()
	requireCode(t, err, codes.DataLoss)
}
