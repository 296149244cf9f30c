package bitrot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func testData(size int64) []byte {
	r := rand.New(rand.NewPCG(uint64(size), 7))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// frame is an independent reference implementation of format version 1,
// as the version 1 Writer wrote it (testdata/v1-*.shard comes from that
// Writer itself).
func frame(data []byte, blockSize int) []byte { return frameVersion(data, blockSize, 1) }

// frameV2 is an independent reference implementation of format version 2:
// version 1's header (version byte 2) and blocks, then the trailer with
// the digest as doc.go documents it.
func frameV2(data []byte, blockSize int, name string) []byte {
	out := frameVersion(data, blockSize, 2)
	tab := crc32.MakeTable(crc32.Castagnoli)
	h := sha256.New()
	h.Write([]byte("cairn shard digest v1\x00"))
	h.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(name))))
	h.Write([]byte(name))
	h.Write(binary.LittleEndian.AppendUint32(nil, uint32(blockSize)))
	for p := data; len(p) > 0; {
		blk := p[:min(blockSize, len(p))]
		p = p[len(blk):]
		h.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(blk, tab)))
	}
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(data))))
	tr := []byte{'C', 'R', 'N', 'T', 1, 0, 0, 0}
	tr = binary.LittleEndian.AppendUint64(tr, uint64(len(data)))
	tr = append(tr, h.Sum(nil)[:16]...)
	tr = binary.LittleEndian.AppendUint32(tr, crc32.Checksum(tr, tab))
	return append(out, tr...)
}

func frameVersion(data []byte, blockSize int, version byte) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	out := []byte{'C', 'R', 'N', 'S', version, 1, 0, 0}
	out = binary.LittleEndian.AppendUint32(out, uint32(blockSize))
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, tab))
	for len(data) > 0 {
		blk := data[:min(blockSize, len(data))]
		data = data[len(blk):]
		out = append(out, blk...)
		out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(blk, tab))
	}
	return out
}

// testName is the shard name the tests frame under.
const testName = "0123456789abcdef.3"

// writeFramed frames data through a Writer, feeding it chunk bytes at a
// time (all at once if chunk <= 0).
func writeFramed(t testing.TB, data []byte, blockSize, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, blockSize, testName)
	if chunk <= 0 {
		chunk = max(len(data), 1)
	}
	for p := data; len(p) > 0; {
		c := min(chunk, len(p))
		n, err := w.Write(p[:c])
		require.NoError(t, err)
		require.Equal(t, c, n)
		p = p[c:]
	}
	require.NoError(t, w.Close())
	require.Equal(t, int64(len(data)), w.DataWritten())
	require.Len(t, w.Digest(), DigestSize)
	return buf.Bytes()
}

func readRange(t testing.TB, framed []byte, dataSize int64, blockSize int, off, n int64) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	err := ReadRange(bytes.NewReader(framed), dataSize, blockSize, off, n, &out)
	return out.Bytes(), err
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, v := range []uint8{Version1, Version} {
		h := Header{Version: v, Algorithm: AlgorithmCRC32C, BlockSize: 1 << 20}
		b := h.Marshal()
		require.Len(t, b, HeaderSize)
		require.Equal(t, frameVersion(nil, 1<<20, v), b)
		got, err := ParseHeader(b)
		require.NoError(t, err)
		require.Equal(t, h, got)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	valid := Header{Version: Version, Algorithm: AlgorithmCRC32C, BlockSize: 4096}.Marshal()
	// resign recomputes the header checksum so each case isolates one field.
	resign := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], crc32.MakeTable(crc32.Castagnoli)))
		return b
	}
	edit := func(fn func(b []byte)) []byte {
		b := bytes.Clone(valid)
		fn(b)
		return b
	}
	tests := []struct {
		name    string
		b       []byte
		corrupt bool
	}{
		{"empty", nil, false},
		{"short", valid[:HeaderSize-1], false},
		{"bad magic", edit(func(b []byte) { b[0] = 'X'; resign(b) }), false},
		{"header checksum", edit(func(b []byte) { b[9] ^= 1 }), true},
		{"stored checksum", edit(func(b []byte) { b[15] ^= 0x80 }), true},
		{"version 3", edit(func(b []byte) { b[4] = 3; resign(b) }), false},
		{"version 0", edit(func(b []byte) { b[4] = 0; resign(b) }), false},
		{"algorithm 2", edit(func(b []byte) { b[5] = 2; resign(b) }), false},
		{"reserved set", edit(func(b []byte) { b[7] = 1; resign(b) }), false},
		{"block size 0", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 0); resign(b) }), false},
		{"block size too large", edit(func(b []byte) { binary.LittleEndian.PutUint32(b[8:], MaxBlockSize+1); resign(b) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader(tt.b)
			require.ErrorIs(t, err, ErrBadHeader)
			require.Equal(t, tt.corrupt, errors.Is(err, ErrCorrupt))
		})
	}
}

func TestSizes(t *testing.T) {
	for _, bs := range []int{1, 2, 7, 64, 4096} {
		b := int64(bs)
		var sizes []int64
		for size := int64(0); size <= 3*b+5; size++ {
			// Every size for small blocks; either side of each block
			// boundary for large ones.
			if b <= 64 || size%b <= 1 || size%b == b-1 {
				sizes = append(sizes, size)
			}
		}
		for _, size := range sizes {
			for _, v := range []uint8{Version1, Version} {
				h := Header{Version: v, Algorithm: AlgorithmCRC32C, BlockSize: uint32(bs)}
				want := frame(testData(size), bs)
				if v == Version {
					want = frameV2(testData(size), bs, testName)
				}
				f := h.FramedSize(size)
				require.Equal(t, int64(len(want)), f, "v=%d bs=%d size=%d", v, bs, size)
				got, err := h.DataSize(f)
				require.NoError(t, err)
				require.Equal(t, size, got)
			}
		}
	}
	tests := []struct {
		name   string
		framed int64
		bs     int
		want   error
	}{
		{"shorter than header", HeaderSize - 1, 16, ErrCorrupt},
		{"one byte after header", HeaderSize + 1, 16, ErrCorrupt},
		{"inside checksum", HeaderSize + 16 + 4 + 4, 16, ErrCorrupt},
		{"zero block size", HeaderSize, 0, ErrBlockSize},
		{"huge block size", HeaderSize, MaxBlockSize + 1, ErrBlockSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Header{Version: Version1, Algorithm: AlgorithmCRC32C, BlockSize: uint32(tt.bs)}
			_, err := h.DataSize(tt.framed)
			require.ErrorIs(t, err, tt.want)
			// Version 2 adds the trailer to every length.
			h.Version = Version
			_, err = h.DataSize(tt.framed + TrailerSize)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, bs := range []int{1, 3, 16, 64, 1000} {
		for _, size := range []int64{0, 1, int64(bs) - 1, int64(bs), int64(bs) + 1, 5*int64(bs) + 3, 3000} {
			if size < 0 {
				continue
			}
			for _, chunk := range []int{0, 1, 7, bs, bs + 1} {
				t.Run(fmt.Sprintf("bs=%d/size=%d/chunk=%d", bs, size, chunk), func(t *testing.T) {
					data := testData(size)
					framed := writeFramed(t, data, bs, chunk)
					require.Equal(t, frameV2(data, bs, testName), framed)
					got, err := readRange(t, framed, size, bs, 0, size)
					require.NoError(t, err)
					require.Equal(t, data, append([]byte{}, got...))
				})
			}
		}
	}
}

func TestReadRangeEveryRange(t *testing.T) {
	const bs, size = 8, 37
	data := testData(size)
	framed := writeFramed(t, data, bs, 0)
	for off := int64(0); off <= size; off++ {
		for n := int64(0); off+n <= size; n++ {
			got, err := readRange(t, framed, size, bs, off, n)
			require.NoError(t, err, "off=%d n=%d", off, n)
			require.Equal(t, data[off:off+n], append([]byte{}, got...), "off=%d n=%d", off, n)
		}
	}
}

// TestReadRangeBatches covers ranges spanning more than one ReadAt batch.
func TestReadRangeBatches(t *testing.T) {
	const bs = 64 << 10
	size := int64(3*readBatch + 12345)
	data := testData(size)
	framed := writeFramed(t, data, bs, 0)
	for _, r := range [][2]int64{{0, size}, {1, size - 2}, {readBatch - 1, readBatch + 2}, {size - 1, 1}} {
		got, err := readRange(t, framed, size, bs, r[0], r[1])
		require.NoError(t, err)
		require.True(t, bytes.Equal(data[r[0]:r[0]+r[1]], got), "range %v", r)
	}
}

func TestReadRangeCatchesEveryFlip(t *testing.T) {
	const bs, size = 16, 40 // blocks of 16, 16, 8
	data := testData(size)
	framed := writeFramed(t, data, bs, 0)
	// ReadRange reads header and blocks; the trailer is Verify's.
	for pos := range len(framed) - TrailerSize {
		for _, mask := range []byte{0x01, 0x80} {
			bad := bytes.Clone(framed)
			bad[pos] ^= mask
			got, err := readRange(t, bad, size, bs, 0, size)
			require.Error(t, err, "flip %#x at byte %d went unnoticed", mask, pos)
			if pos < HeaderSize {
				require.ErrorIs(t, err, ErrBadHeader, "byte %d", pos)
				require.Empty(t, got)
				continue
			}
			require.ErrorIs(t, err, ErrCorrupt, "byte %d", pos)
			// Only blocks before the damaged one may have been delivered.
			block := (int64(pos) - HeaderSize) / (bs + ChecksumSize)
			require.Equal(t, data[:block*bs], append([]byte{}, got...), "byte %d", pos)
		}
	}
}

func TestReadRangeTruncated(t *testing.T) {
	const bs, size = 16, 40
	data := testData(size)
	framed := writeFramed(t, data, bs, 0)
	for cut := range len(framed) - TrailerSize {
		got, err := readRange(t, framed[:cut], size, bs, 0, size)
		require.ErrorIs(t, err, ErrCorrupt, "cut at %d", cut)
		require.True(t, bytes.HasPrefix(data, got), "cut at %d delivered unverified bytes", cut)
	}
}

type errReaderAt struct{ err error }

func (r errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, r.err }

type errWriter struct {
	after int // successful writes before failing
	err   error
}

func (w *errWriter) Write(p []byte) (int, error) {
	if w.after == 0 {
		return 0, w.err
	}
	w.after--
	return len(p), nil
}

func TestReadRangeErrors(t *testing.T) {
	const bs, size = 16, 40
	framed := writeFramed(t, testData(size), bs, 0)
	ioErr := errors.New("disk on fire")
	tests := []struct {
		name   string
		ra     io.ReaderAt
		bs     int
		off, n int64
		dst    io.Writer
		want   error
	}{
		{"negative offset", bytes.NewReader(framed), bs, -1, 1, io.Discard, ErrRange},
		{"negative length", bytes.NewReader(framed), bs, 0, -1, io.Discard, ErrRange},
		{"past end", bytes.NewReader(framed), bs, 30, 11, io.Discard, ErrRange},
		{"offset past end", bytes.NewReader(framed), bs, 41, 0, io.Discard, ErrRange},
		{"block size mismatch", bytes.NewReader(framed), 32, 0, 1, io.Discard, ErrBadHeader},
		{"invalid block size", bytes.NewReader(framed), 0, 0, 1, io.Discard, ErrBlockSize},
		{"not a shard", bytes.NewReader(make([]byte, 100)), bs, 0, 1, io.Discard, ErrBadHeader},
		{"reader error", errReaderAt{ioErr}, bs, 0, 1, io.Discard, ioErr},
		{"writer error", bytes.NewReader(framed), bs, 0, size, &errWriter{after: 1, err: ioErr}, ioErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadRange(tt.ra, size, tt.bs, tt.off, tt.n, tt.dst)
			require.ErrorIs(t, err, tt.want)
			if tt.want == ioErr {
				require.NotErrorIs(t, err, ErrCorrupt, "an I/O failure is not corruption")
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	ioErr := errors.New("disk full")
	t.Run("header write fails", func(t *testing.T) {
		w := NewWriter(&errWriter{err: ioErr}, 4, testName)
		n, err := w.Write([]byte("abc"))
		require.ErrorIs(t, err, ioErr)
		require.Zero(t, n)
		require.ErrorIs(t, w.Close(), ioErr)
	})
	t.Run("block write fails and sticks", func(t *testing.T) {
		w := NewWriter(&errWriter{after: 3, err: ioErr}, 4, testName) // header, one block and its checksum succeed
		n, err := w.Write([]byte("abcdefghij"))
		require.ErrorIs(t, err, ioErr)
		require.Equal(t, 4, n)
		_, err = w.Write([]byte("k"))
		require.ErrorIs(t, err, ioErr)
		require.ErrorIs(t, w.Close(), ioErr)
	})
	t.Run("write after close", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf, 4, testName)
		require.NoError(t, w.Close())
		require.NoError(t, w.Close(), "second close is a no-op")
		_, err := w.Write([]byte("x"))
		require.ErrorIs(t, err, ErrClosed)
		require.Equal(t, frameV2(nil, 4, testName), buf.Bytes(), "an empty shard is its header and trailer")
	})
	t.Run("trailer write fails", func(t *testing.T) {
		w := NewWriter(&errWriter{after: 3, err: ioErr}, 4, testName) // header, the block and its checksum succeed
		_, err := w.Write([]byte("abc"))
		require.NoError(t, err)
		require.ErrorIs(t, w.Close(), ioErr)
		require.Nil(t, w.Digest(), "no digest for a shard whose trailer was not written")
	})
	t.Run("invalid block size", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf, 0, testName)
		_, err := w.Write([]byte("x"))
		require.ErrorIs(t, err, ErrBlockSize)
		require.ErrorIs(t, w.Close(), ErrBlockSize)
		require.Zero(t, buf.Len())
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add(Header{Version: Version, Algorithm: AlgorithmCRC32C, BlockSize: 1 << 20}.Marshal())
	f.Add(Header{Version: 2, Algorithm: AlgorithmCRC32C, BlockSize: 1}.Marshal())
	f.Add([]byte("CRNS"))
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			require.ErrorIs(t, err, ErrBadHeader)
			return
		}
		require.Equal(t, b[:HeaderSize], h.Marshal(), "a parsed header must re-encode to its bytes")
	})
}

// FuzzReadRange frames data, optionally damages one byte, and checks that
// ReadRange never delivers a byte that differs from the original data.
func FuzzReadRange(f *testing.F) {
	f.Add([]byte("hello, shard"), uint16(4), uint32(0), uint32(12), uint32(0), byte(0))
	f.Add([]byte("hello, shard"), uint16(4), uint32(3), uint32(6), uint32(HeaderSize+5), byte(1))
	f.Add(testData(100), uint16(16), uint32(10), uint32(50), uint32(HeaderSize+20+3), byte(0x40))
	f.Add(testData(100), uint16(7), uint32(99), uint32(1), uint32(3), byte(0xff))
	f.Add([]byte{}, uint16(1), uint32(0), uint32(0), uint32(0), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, bs uint16, off, n, pos uint32, mask byte) {
		if bs == 0 {
			return
		}
		size := int64(len(data))
		framed := writeFramed(t, data, int(bs), 0)
		damaged := mask != 0 && int(pos) < len(framed)
		if damaged {
			framed[pos] ^= mask
		}
		got, err := readRange(t, framed, size, int(bs), int64(off), int64(n))
		if int64(off) > size || int64(n) > size-int64(off) {
			require.ErrorIs(t, err, ErrRange)
			return
		}
		want := data[off : int64(off)+int64(n)]
		require.True(t, bytes.HasPrefix(want, got), "delivered bytes differ from the data")
		if !damaged {
			require.NoError(t, err)
			require.Equal(t, len(want), len(got))
		}
		if err == nil {
			require.Equal(t, len(want), len(got))
		}
	})
}

func BenchmarkWriter(b *testing.B) {
	for _, bs := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprint(bs), func(b *testing.B) {
			data := testData(4 << 20)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w := NewWriter(io.Discard, bs, testName)
				if _, err := w.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadRange(b *testing.B) {
	for _, bs := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprint(bs), func(b *testing.B) {
			size := int64(4 << 20)
			framed := writeFramed(b, testData(size), bs, 0)
			ra := bytes.NewReader(framed)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := ReadRange(ra, size, bs, 0, size, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWriteBlock: whole blocks given with their CRC32C frame exactly as
// Write frames them (digest included), whatever mix of whole blocks and
// other chunks arrives; a block given a wrong CRC fails verification.
func TestWriteBlock(t *testing.T) {
	const bs = 64
	tests := []struct {
		name   string
		chunks []int // lengths, in order
	}{
		{"whole blocks", []int{bs, bs, bs}},
		{"short last block", []int{bs, bs, 10}},
		{"a partial block first", []int{10, bs, bs}},
		{"oversized chunk", []int{2 * bs, bs}},
		{"single short block", []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := 0
			for _, c := range tt.chunks {
				total += c
			}
			data := testData(int64(total))
			var buf bytes.Buffer
			w := NewWriter(&buf, bs, testName)
			p := data
			for _, c := range tt.chunks {
				n, err := w.WriteBlock(p[:c], checksum(p[:c]))
				require.NoError(t, err)
				require.Equal(t, c, n)
				p = p[c:]
			}
			require.NoError(t, w.Close())
			require.Equal(t, frameV2(data, bs, testName), buf.Bytes())
			require.Equal(t, writeFramedDigest(t, data, bs), w.Digest())
		})
	}
	t.Run("wrong crc", func(t *testing.T) {
		data := testData(2 * bs)
		var buf bytes.Buffer
		w := NewWriter(&buf, bs, testName)
		_, err := w.WriteBlock(data[:bs], checksum(data[:bs]))
		require.NoError(t, err)
		_, err = w.WriteBlock(data[bs:], checksum(data[bs:])^1)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		_, err = readRange(t, buf.Bytes(), 2*bs, bs, bs, bs)
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

// TestWriteBlockParts: a block given in pieces with the CRC32C of their
// concatenation frames exactly as Write frames the whole, the pieces
// passed through uncopied, whether they start a block or not.
func TestWriteBlockParts(t *testing.T) {
	const bs = 64
	tests := []struct {
		name     string
		messages [][]int // each message's piece lengths, in order
	}{
		{"whole blocks in pieces", [][]int{{10, 50, 4}, {64}, {1, 63}}},
		{"short last block", [][]int{{32, 32}, {3, 7}}},
		{"a partial block first", [][]int{{5, 5}, {30, 24}, {64}}},
		{"oversized message", [][]int{{100, 28}, {64}}},
		{"empty pieces", [][]int{{0, 64, 0}, {}, {0}, {20}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := 0
			for _, m := range tt.messages {
				for _, c := range m {
					total += c
				}
			}
			data := testData(int64(total))
			var rec aliasRecorder
			rec.data = data
			w := NewWriter(&rec, bs, testName)
			p := data
			for _, m := range tt.messages {
				var parts [][]byte
				size := 0
				for _, c := range m {
					parts = append(parts, p[:c])
					p = p[c:]
					size += c
				}
				crc := checksum(data[total-len(p)-size : total-len(p)])
				n, err := w.WriteBlockParts(parts, crc)
				require.NoError(t, err)
				require.Equal(t, size, n)
			}
			require.NoError(t, w.Close())
			require.Equal(t, frameV2(data, bs, testName), rec.buf.Bytes())
			require.Equal(t, writeFramedDigest(t, data, bs), w.Digest())
			require.Equal(t, total, rec.aliased, "data bytes passed through without a copy")
		})
	}
	t.Run("crc taken as given", func(t *testing.T) {
		data := testData(bs)
		var buf bytes.Buffer
		w := NewWriter(&buf, bs, testName)
		_, err := w.WriteBlockParts([][]byte{data[:20], data[20:]}, checksum(data)^1)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		_, err = readRange(t, buf.Bytes(), bs, bs, 0, bs)
		require.ErrorIs(t, err, ErrCorrupt)
	})
}

func writeFramedDigest(t *testing.T, data []byte, bs int) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, bs, testName)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return w.Digest()
}

// TestWriteStreams: data reaches the underlying writer as the caller's
// own slices (never copied), and any mix of WriteBlock and Write calls,
// short chunks at block boundaries included, frames exactly as one Write
// of the whole data does.
func TestWriteStreams(t *testing.T) {
	const bs = 64
	tests := []struct {
		name   string
		chunks []int // lengths, in order
		block  []bool
	}{
		{"short block then the rest of it", []int{10, 54, 64}, []bool{true, true, true}},
		{"short blocks straddling boundaries", []int{40, 40, 40, 9}, []bool{true, true, true, true}},
		{"single short block", []int{5}, []bool{true}},
		{"tiny writes", []int{1, 2, 3, 4, 50, 7}, []bool{false, true, false, true, false, true}},
		{"long write", []int{3*bs + 5, 1}, []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := 0
			for _, c := range tt.chunks {
				total += c
			}
			data := testData(int64(total))
			var rec aliasRecorder
			rec.data = data
			w := NewWriter(&rec, bs, testName)
			p := data
			for i, c := range tt.chunks {
				var n int
				var err error
				if tt.block[i] {
					n, err = w.WriteBlock(p[:c], checksum(p[:c]))
				} else {
					n, err = w.Write(p[:c])
				}
				require.NoError(t, err)
				require.Equal(t, c, n)
				p = p[c:]
			}
			require.NoError(t, w.Close())
			require.Equal(t, frameV2(data, bs, testName), rec.buf.Bytes())
			require.Equal(t, writeFramedDigest(t, data, bs), w.Digest())
			require.Equal(t, total, rec.aliased, "data bytes passed through without a copy")
		})
	}
}

// aliasRecorder keeps what is written and counts the bytes written from
// data's own memory.
type aliasRecorder struct {
	buf     bytes.Buffer
	data    []byte
	aliased int
}

func (r *aliasRecorder) Write(p []byte) (int, error) {
	if len(p) > 0 && len(r.data) > 0 {
		start := uintptr(unsafe.Pointer(&r.data[0]))
		at := uintptr(unsafe.Pointer(&p[0]))
		if at >= start && at < start+uintptr(len(r.data)) {
			r.aliased += len(p)
		}
	}
	return r.buf.Write(p)
}
