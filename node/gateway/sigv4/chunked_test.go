package sigv4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

func testData(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// chunkedRequest signs, with the SDK, a PUT whose body is aws-chunked in the
// given mode, and returns it together with the seed signature.
func chunkedRequest(t *testing.T, mode string, trailer checksum.Algorithm, decoded int) (*http.Request, *chunkSigner) {
	t.Helper()
	headers := map[string]string{
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Decoded-Content-Length": strconv.Itoa(decoded),
	}
	if trailer != "" {
		headers["X-Amz-Trailer"] = trailer.HeaderName()
	}
	r := serverRequest("PUT", "/bucket/obj", "cairn.local", headers, nil)
	sdkSign(t, r, mode, exampleAccessKey, exampleSecret, "us-east-1", signTime)
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	require.NoError(t, err)
	s := &chunkSigner{
		key:     deriveKey(exampleSecret, "20250314", "us-east-1", "s3"),
		amzDate: r.Header.Get("X-Amz-Date"),
		scope:   a.cred.scope(),
		prev:    hex.EncodeToString(a.signature),
	}
	return r, s
}

func TestUnsignedTrailerChecksums(t *testing.T) {
	data := testData(200_000)
	for _, alg := range checksum.Algorithms() {
		for _, chunkSize := range []int{8192, 65536, 1 << 20} {
			t.Run(string(alg)+"/"+strconv.Itoa(chunkSize), func(t *testing.T) {
				r, _ := chunkedRequest(t, streamingUnsignedTrailer, alg, len(data))
				good := checksumOf(alg, data)
				r.Body = io.NopCloser(iotest.HalfReader(bytes.NewReader(encodeChunks(nil, data, chunkSize, true, alg.HeaderName()+":"+good))))
				res, err := newVerifier(signTime).Verify(r)
				require.NoError(t, err)
				require.Equal(t, alg, res.ChecksumAlgorithm)
				require.Equal(t, int64(len(data)), res.DecodedLength)
				gotAlg, gotVal := res.TrailerChecksum()
				require.Empty(t, gotAlg, "nothing before EOF")
				require.Empty(t, gotVal)
				got, err := readBody(t, res)
				require.NoError(t, err)
				require.Equal(t, data, got)
				gotAlg, gotVal = res.TrailerChecksum()
				require.Equal(t, alg, gotAlg)
				require.Equal(t, good, gotVal)

				r, _ = chunkedRequest(t, streamingUnsignedTrailer, alg, len(data))
				bad := checksumOf(alg, data[1:])
				r.Body = io.NopCloser(bytes.NewReader(encodeChunks(nil, data, chunkSize, true, alg.HeaderName()+":"+bad)))
				res, err = newVerifier(signTime).Verify(r)
				require.NoError(t, err)
				_, err = readBody(t, res)
				require.ErrorIs(t, err, ErrTrailerChecksumMismatch)
			})
		}
	}
}

func TestSignedTrailer(t *testing.T) {
	data := testData(100_000)
	good := "x-amz-checksum-crc64nvme:" + checksumOf(checksum.CRC64NVME, data)
	tests := []struct {
		name    string
		body    func(s *chunkSigner) []byte
		wantErr error
	}{
		{"valid", func(s *chunkSigner) []byte { return encodeChunks(s, data, 65536, true, good) }, nil},
		{"valid with blank line before trailers", func(s *chunkSigner) []byte {
			b := encodeChunks(s, data, 65536, true, good)
			i := bytes.Index(b, []byte("x-amz-checksum"))
			return append(append(append([]byte{}, b[:i]...), "\r\n"...), b[i:]...)
		}, nil},
		{"wrong checksum, correctly signed", func(s *chunkSigner) []byte {
			return encodeChunks(s, data, 65536, true, "x-amz-checksum-crc64nvme:"+checksumOf(checksum.CRC64NVME, data[:10]))
		}, ErrTrailerChecksumMismatch},
		{"bad trailer signature", func(s *chunkSigner) []byte {
			b := encodeChunks(s, data, 65536, true, good)
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			b[i] ^= 1
			return b
		}, ErrChunkSignatureMismatch},
		{"trailer signed with the wrong chain", func(s *chunkSigner) []byte {
			b := encodeChunks(s, data, 65536, true, good)
			other := *s
			other.prev = strings.Repeat("0", 64)
			forged := encodeChunks(&other, data, 65536, true, good)
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			j := bytes.Index(forged, []byte("x-amz-trailer-signature:"))
			return append(b[:i:i], forged[j:]...)
		}, ErrChunkSignatureMismatch},
		{"undeclared trailer algorithm", func(s *chunkSigner) []byte {
			return encodeChunks(s, data, 65536, true, "x-amz-checksum-crc32:"+checksumOf(checksum.CRC32, data))
		}, ErrMalformedChunk},
		{"tampered chunk", func(s *chunkSigner) []byte {
			b := encodeChunks(s, data, 65536, true, good)
			b[200] ^= 0x80
			return b
		}, ErrChunkSignatureMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, s := chunkedRequest(t, streamingSignedTrailer, checksum.CRC64NVME, len(data))
			r.Body = io.NopCloser(bytes.NewReader(tc.body(s)))
			res, err := newVerifier(signTime).Verify(r)
			require.NoError(t, err)
			got, err := readBody(t, res)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, data, got)
			alg, val := res.TrailerChecksum()
			require.Equal(t, checksum.CRC64NVME, alg)
			require.Equal(t, checksumOf(checksum.CRC64NVME, data), val)
		})
	}
}

// errAfter fails with err once n bytes have been read.
type errAfter struct {
	r   io.Reader
	n   int
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	if len(p) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= n
	return n, err
}

func TestChunkDecoderSplitsAndTruncations(t *testing.T) {
	data := testData(50_000)
	s := exampleSigner()
	s.prev = strings.Repeat("ab", 32)
	modes := []struct {
		name string
		cfg  chunkConfig
		body []byte
	}{
		{"signed", chunkConfig{signer: s, decodedLength: int64(len(data))}, encodeChunks(s, data, 8192, false)},
		{"signed trailer", chunkConfig{signer: s, trailer: true, declared: checksum.SHA256, decodedLength: int64(len(data))},
			encodeChunks(s, data, 8192, true, "x-amz-checksum-sha256:"+checksumOf(checksum.SHA256, data))},
		{"unsigned trailer", chunkConfig{trailer: true, declared: checksum.CRC32C, decodedLength: int64(len(data))},
			encodeChunks(nil, data, 8192, true, "x-amz-checksum-crc32c:"+checksumOf(checksum.CRC32C, data))},
		{"unsigned trailer, no checksum, unknown length", chunkConfig{trailer: true, decodedLength: -1},
			encodeChunks(nil, data, 10000, true)},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, w := range []struct {
				name string
				wrap func(io.Reader) io.Reader
			}{
				{"whole", func(r io.Reader) io.Reader { return r }},
				{"one byte", iotest.OneByteReader},
				{"data err", iotest.DataErrReader},
			} {
				d := newChunkDecoder(io.NopCloser(w.wrap(bytes.NewReader(m.body))), m.cfg)
				got, err := io.ReadAll(d)
				require.NoError(t, err, w.name)
				require.Equal(t, data, got, w.name)
			}
			require.NoError(t, iotest.TestReader(newChunkDecoder(io.NopCloser(bytes.NewReader(m.body)), m.cfg), data))

			// Every truncation fails with a body error, never silently.
			step := max(1, len(m.body)/200)
			for cut := 0; cut < len(m.body)-2; cut += step {
				d := newChunkDecoder(io.NopCloser(bytes.NewReader(m.body[:cut])), m.cfg)
				_, err := io.ReadAll(d)
				require.Error(t, err, "cut at %d", cut)
				require.True(t, errors.Is(err, ErrIncompleteBody) || errors.Is(err, ErrMalformedChunk), "cut at %d: %v", cut, err)
			}

			// A transport error surfaces as itself.
			boom := errors.New("connection reset")
			d := newChunkDecoder(io.NopCloser(&errAfter{r: bytes.NewReader(m.body), n: len(m.body) / 2, err: boom}), m.cfg)
			_, err := io.ReadAll(d)
			require.ErrorIs(t, err, boom)
		})
	}
}

func TestChunkDecoderLimits(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		cfg     chunkConfig
		wantErr error
	}{
		// Unsigned chunks stream, so a size over MaxChunkSize is not
		// malformed (see TestUnsignedChunkOverMaxChunkSize); the body
		// that does not carry it is incomplete.
		{"chunk size beyond the body", "1000001\r\n", chunkConfig{decodedLength: -1}, ErrIncompleteBody},
		{"huge hex", "ffffffffffffffffff\r\n", chunkConfig{decodedLength: -1}, ErrMalformedChunk},
		{"negative size", "-1\r\n", chunkConfig{decodedLength: -1}, ErrMalformedChunk},
		{"empty size", ";x=y\r\n", chunkConfig{decodedLength: -1}, ErrMalformedChunk},
		{"line too long", strings.Repeat("0", readBufferSize+10), chunkConfig{decodedLength: -1}, ErrMalformedChunk},
		{"LF only", "3\nabc\r\n0\r\n\r\n", chunkConfig{decodedLength: -1}, ErrMalformedChunk},
		{"over decoded length", "5\r\nabcde\r\n0\r\n\r\n", chunkConfig{decodedLength: 4}, ErrIncompleteBody},
		{"under decoded length", "3\r\nabc\r\n0\r\n\r\n", chunkConfig{decodedLength: 4}, ErrIncompleteBody},
		{"empty body", "", chunkConfig{decodedLength: -1}, ErrIncompleteBody},
		{"too many trailers", "0\r\n" + strings.Repeat("x-a:b\r\n", maxTrailerLines+1) + "\r\n", chunkConfig{trailer: true, decodedLength: -1}, ErrMalformedChunk},
		{"trailer without colon", "0\r\nnocolon\r\n\r\n", chunkConfig{trailer: true, decodedLength: -1}, ErrMalformedChunk},
		{"declared trailer absent", "0\r\n\r\n", chunkConfig{trailer: true, declared: checksum.CRC32, decodedLength: -1}, ErrMalformedChunk},
		{"undeclared checksum trailer", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", chunkConfig{trailer: true, decodedLength: -1}, ErrMalformedChunk},
		{"repeated checksum trailer", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", chunkConfig{trailer: true, declared: checksum.CRC32, decodedLength: -1}, ErrMalformedChunk},
		{"ok: unsigned, ext ignored, no final CRLF", "3;foo=bar\r\nabc\r\n0\r\n", chunkConfig{decodedLength: 3}, nil},
		{"ok: empty crc32 trailer", "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", chunkConfig{trailer: true, declared: checksum.CRC32, decodedLength: 0}, nil},
		{"ok: unknown trailer ignored", "0\r\nx-amz-meta-a:b\r\n\r\n", chunkConfig{trailer: true, decodedLength: 0}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newChunkDecoder(io.NopCloser(strings.NewReader(tc.body)), tc.cfg)
			_, err := io.ReadAll(d)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			// Errors are sticky.
			_, err2 := d.Read(make([]byte, 1))
			require.ErrorIs(t, err2, tc.wantErr)
		})
	}
}

func BenchmarkChunkDecoder(b *testing.B) {
	data := testData(8 << 20)
	s := exampleSigner()
	s.prev = strings.Repeat("ab", 32)
	for _, bc := range []struct {
		name string
		cfg  chunkConfig
		body []byte
	}{
		{"signed-64KiB", chunkConfig{signer: s, decodedLength: int64(len(data))}, encodeChunks(s, data, 64<<10, false)},
		{"signed-1MiB", chunkConfig{signer: s, decodedLength: int64(len(data))}, encodeChunks(s, data, 1<<20, false)},
		{"unsigned-crc64nvme-64KiB", chunkConfig{trailer: true, declared: checksum.CRC64NVME, decodedLength: int64(len(data))},
			encodeChunks(nil, data, 64<<10, true, "x-amz-checksum-crc64nvme:"+checksumOf(checksum.CRC64NVME, data))},
		{"unsigned-crc32c-1MiB", chunkConfig{trailer: true, declared: checksum.CRC32C, decodedLength: int64(len(data))},
			encodeChunks(nil, data, 1<<20, true, "x-amz-checksum-crc32c:"+checksumOf(checksum.CRC32C, data))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			buf := make([]byte, 256<<10)
			for b.Loop() {
				d := newChunkDecoder(io.NopCloser(bytes.NewReader(bc.body)), bc.cfg)
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnsignedChunkOverMaxChunkSize: an unsigned chunk larger than the
// signed-chunk bound streams through (the AWS SDK for Go sends a whole
// 64 MiB body as one chunk over HTTPS); a signed one is refused.
func TestUnsignedChunkOverMaxChunkSize(t *testing.T) {
	data := bytes.Repeat([]byte("x"), MaxChunkSize+1)
	body := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(data), data)
	d := newChunkDecoder(io.NopCloser(strings.NewReader(body)), chunkConfig{decodedLength: int64(len(data))})
	got, err := io.ReadAll(d)
	require.NoError(t, err)
	require.Equal(t, len(data), len(got))

	_, _, err = parseChunkHeader([]byte(fmt.Sprintf("%x;chunk-signature=%064x", len(data), 0)), true)
	require.ErrorIs(t, err, ErrMalformedChunk)
}

// TestChunkDecoderReadsIntoLargeBuffers: a signed chunk that fits in the
// caller's buffer is decoded in place; the bytes are the body's, whatever
// the buffer size, and a chunk whose signature fails is never returned,
// not even in part.
func TestChunkDecoderReadsIntoLargeBuffers(t *testing.T) {
	const chunk = 8192
	data := testData(5*chunk + 100)
	s := exampleSigner()
	s.prev = strings.Repeat("ab", 32)
	body := encodeChunks(s, data, chunk, false)
	for _, bufSize := range []int{chunk - 1, chunk, chunk + 1, 3 * chunk, len(data) + 1} {
		d := newChunkDecoder(io.NopCloser(bytes.NewReader(body)), chunkConfig{signer: s, decodedLength: int64(len(data))})
		var got []byte
		buf := make([]byte, bufSize)
		for {
			n, err := d.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "buffer %d", bufSize)
		}
		require.Equal(t, data, got, "buffer %d", bufSize)
	}

	// Corrupt one byte of the third chunk's data.
	bad := bytes.Clone(body)
	third := bytes.Index(bad, data[2*chunk:2*chunk+64])
	require.Positive(t, third)
	bad[third+100] ^= 0xff
	for _, bufSize := range []int{chunk, 4 * chunk} {
		d := newChunkDecoder(io.NopCloser(bytes.NewReader(bad)), chunkConfig{signer: s, decodedLength: int64(len(data))})
		var got []byte
		buf := make([]byte, bufSize)
		var err error
		for err == nil {
			var n int
			n, err = d.Read(buf)
			got = append(got, buf[:n]...)
		}
		require.ErrorIs(t, err, ErrChunkSignatureMismatch, "buffer %d", bufSize)
		require.Equal(t, data[:2*chunk], got, "buffer %d: only verified chunks are returned", bufSize)
	}
}
