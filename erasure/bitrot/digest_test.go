package bitrot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// crcsOf returns the checksum of every block of data, as a gateway that
// sent those blocks knows them.
func crcsOf(data []byte, bs int) []uint32 {
	var out []uint32
	for len(data) > 0 {
		blk := data[:min(bs, len(data))]
		data = data[len(blk):]
		out = append(out, crc32.Checksum(blk, crc32.MakeTable(crc32.Castagnoli)))
	}
	return out
}

func TestDigestMatchesIndependentComputation(t *testing.T) {
	for _, bs := range []int{1, 16, 4096} {
		for _, size := range []int64{0, 1, 15, 16, 17, 1000} {
			t.Run(fmt.Sprintf("bs=%d/size=%d", bs, size), func(t *testing.T) {
				data := testData(size)
				var buf bytes.Buffer
				w := NewWriter(&buf, bs, testName)
				_, err := w.Write(data)
				require.NoError(t, err)
				require.NoError(t, w.Close())
				want := ShardDigest(testName, bs, crcsOf(data, bs), size)
				require.Equal(t, want, w.Digest(), "the writer's digest is the one a sender computes from its blocks")
				require.Equal(t, want, buf.Bytes()[buf.Len()-TrailerSize+16:buf.Len()-4], "the trailer holds it")

				info, err := Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()), testName)
				require.NoError(t, err)
				require.Equal(t, want, info.Digest)
				require.Equal(t, size, info.DataSize)
				require.Equal(t, uint8(Version), info.Header.Version)

				info, err = ReadInfo(bytes.NewReader(buf.Bytes()), int64(buf.Len()), testName)
				require.NoError(t, err)
				require.Equal(t, want, info.Digest)
				require.Equal(t, size, info.DataSize)
			})
		}
	}
}

func TestDigestDependsOnEveryInput(t *testing.T) {
	base := ShardDigest("a.0", 16, []uint32{1, 2}, 20)
	for name, d := range map[string][]byte{
		"name":       ShardDigest("a.1", 16, []uint32{1, 2}, 20),
		"block size": ShardDigest("a.0", 32, []uint32{1, 2}, 20),
		"crc":        ShardDigest("a.0", 16, []uint32{1, 3}, 20),
		"crc order":  ShardDigest("a.0", 16, []uint32{2, 1}, 20),
		"data size":  ShardDigest("a.0", 16, []uint32{1, 2}, 21),
	} {
		require.NotEqual(t, base, d, name)
		require.Len(t, d, DigestSize)
	}
}

// TestVersion1StillReads reads a shard that the version 1 Writer wrote
// (testdata, generated before version 2 existed).
func TestVersion1StillReads(t *testing.T) {
	const bs, size = 16, 100
	framed, err := os.ReadFile("testdata/v1-bs16-size100.shard")
	require.NoError(t, err)
	data := testData(size)
	require.Equal(t, frame(data, bs), framed, "the reference of version 1 matches the old writer's output")

	h, err := ParseHeader(framed)
	require.NoError(t, err)
	require.Equal(t, uint8(Version1), h.Version)
	got, err := h.DataSize(int64(len(framed)))
	require.NoError(t, err)
	require.Equal(t, int64(size), got)

	out, err := readRange(t, framed, size, bs, 3, 90)
	require.NoError(t, err)
	require.Equal(t, data[3:93], out)

	want := ShardDigest(testName, bs, crcsOf(data, bs), size)
	info, err := ReadInfo(bytes.NewReader(framed), int64(len(framed)), testName)
	require.NoError(t, err)
	require.Equal(t, want, info.Digest, "a version 1 shard's digest comes from its stored checksums")
	info, err = Verify(bytes.NewReader(framed), int64(len(framed)), testName)
	require.NoError(t, err)
	require.Equal(t, want, info.Digest)

	bad := bytes.Clone(framed)
	bad[HeaderSize+40] ^= 4
	_, err = Verify(bytes.NewReader(bad), int64(len(bad)), testName)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestVerifyCatchesEveryFlip(t *testing.T) {
	const bs, size = 16, 40
	framed := writeFramed(t, testData(size), bs, 0)
	for pos := range framed {
		for _, mask := range []byte{0x01, 0x80} {
			bad := bytes.Clone(framed)
			bad[pos] ^= mask
			_, err := Verify(bytes.NewReader(bad), int64(len(bad)), testName)
			require.Error(t, err, "flip %#x at byte %d went unnoticed", mask, pos)
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrBadHeader), "byte %d: %v", pos, err)
		}
	}
}

func TestVerifyCatchesTruncation(t *testing.T) {
	const bs, size = 16, 40
	framed := writeFramed(t, testData(size), bs, 0)
	for cut := range len(framed) {
		_, err := Verify(bytes.NewReader(framed[:cut]), int64(cut), testName)
		require.Error(t, err, "cut at %d", cut)
		_, err = ReadInfo(bytes.NewReader(framed[:cut]), int64(cut), testName)
		require.Error(t, err, "cut at %d", cut)
	}
}

// TestVerifyOtherShardsBytes: a self-consistent shard copied under another
// shard's name fails, because the name is part of the digest.
func TestVerifyOtherShardsBytes(t *testing.T) {
	framed := writeFramed(t, testData(100), 16, 0)
	_, err := Verify(bytes.NewReader(framed), int64(len(framed)), "0123456789abcdef.4")
	require.ErrorIs(t, err, ErrDigestMismatch)
	require.ErrorIs(t, err, ErrCorrupt)
}

// TestVerifyForgedTrailer: a trailer re-signed with another digest is
// caught by recomputing the digest from the blocks.
func TestVerifyForgedTrailer(t *testing.T) {
	framed := writeFramed(t, testData(100), 16, 0)
	forged := bytes.Clone(framed)
	copy(forged[len(forged)-TrailerSize:], Trailer{DataSize: 100, Digest: make([]byte, DigestSize)}.Marshal())
	info, err := ReadInfo(bytes.NewReader(forged), int64(len(forged)), testName)
	require.NoError(t, err, "the trailer alone is well formed")
	require.Equal(t, make([]byte, DigestSize), info.Digest)
	_, err = Verify(bytes.NewReader(forged), int64(len(forged)), testName)
	require.ErrorIs(t, err, ErrDigestMismatch)
}

func TestVerifyBatches(t *testing.T) {
	const bs = 64 << 10
	size := int64(3*readBatch + 12345)
	data := testData(size)
	framed := writeFramed(t, data, bs, 0)
	r := &countingReaderAt{r: bytes.NewReader(framed)}
	info, err := Verify(r, int64(len(framed)), testName)
	require.NoError(t, err)
	require.Equal(t, ShardDigest(testName, bs, crcsOf(data, bs), size), info.Digest)
	require.LessOrEqual(t, r.max, readBatch, "reads stay within the batch")
	require.Equal(t, int64(len(framed)), r.total, "every byte read once")
}

type countingReaderAt struct {
	r          *bytes.Reader
	max        int
	total      int64
	readsCount int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.max = max(c.max, len(p))
	c.total += int64(len(p))
	c.readsCount++
	return c.r.ReadAt(p, off)
}

func TestParseTrailerErrors(t *testing.T) {
	valid := Trailer{DataSize: 7, Digest: bytes.Repeat([]byte{9}, DigestSize)}.Marshal()
	got, err := ParseTrailer(valid)
	require.NoError(t, err)
	require.Equal(t, int64(7), got.DataSize)
	resign := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], crc32.MakeTable(crc32.Castagnoli)))
		return b
	}
	edit := func(fn func(b []byte)) []byte {
		b := bytes.Clone(valid)
		fn(b)
		return b
	}
	for name, b := range map[string][]byte{
		"short":       valid[:TrailerSize-1],
		"checksum":    edit(func(b []byte) { b[20] ^= 1 }),
		"magic":       edit(func(b []byte) { b[0] = 'X'; resign(b) }),
		"algorithm":   edit(func(b []byte) { b[4] = 2; resign(b) }),
		"reserved":    edit(func(b []byte) { b[6] = 1; resign(b) }),
		"huge size":   edit(func(b []byte) { b[15] = 0x80; resign(b) }),
		"not trailer": make([]byte, TrailerSize),
	} {
		_, err := ParseTrailer(b)
		require.ErrorIs(t, err, ErrBadTrailer, name)
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
}

func FuzzParseTrailer(f *testing.F) {
	f.Add(Trailer{DataSize: 100, Digest: bytes.Repeat([]byte{1}, DigestSize)}.Marshal())
	f.Add(make([]byte, TrailerSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTrailer(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.Equal(t, b, tr.Marshal(), "a parsed trailer must re-encode to its bytes")
	})
}

// FuzzVerify frames data, optionally damages one byte and cuts the file,
// and checks that Verify fails exactly when the file was changed, and
// otherwise returns the digest a sender computes.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("hello, shard"), uint16(4), uint32(0), byte(0), uint32(0))
	f.Add([]byte("hello, shard"), uint16(4), uint32(HeaderSize+5), byte(1), uint32(0))
	f.Add(testData(100), uint16(16), uint32(150), byte(0x40), uint32(0))
	f.Add(testData(100), uint16(7), uint32(0), byte(0), uint32(3))
	f.Add([]byte{}, uint16(1), uint32(0), byte(0), uint32(1))
	f.Fuzz(func(t *testing.T, data []byte, bs uint16, pos uint32, mask byte, cut uint32) {
		if bs == 0 {
			return
		}
		framed := writeFramed(t, data, int(bs), 0)
		changed := false
		if mask != 0 && int(pos) < len(framed) {
			framed[pos] ^= mask
			changed = true
		}
		if cut > 0 && int(cut) <= len(framed) {
			framed = framed[:len(framed)-int(cut)]
			changed = true
		}
		info, err := Verify(bytes.NewReader(framed), int64(len(framed)), testName)
		if changed {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.Equal(t, ShardDigest(testName, int(bs), crcsOf(data, int(bs)), int64(len(data))), info.Digest)
	})
}
