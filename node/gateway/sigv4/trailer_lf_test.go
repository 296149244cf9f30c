package sigv4

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// TestTrailerLineEndings: minio-go ends a trailer line with the LF of the
// canonical trailer followed by CRLF; both that and plain CRLF decode,
// signed or not, and the trailer signature still covers the value.
func TestTrailerLineEndings(t *testing.T) {
	data := testData(50_000)
	good := "x-amz-checksum-crc32c:" + checksumOf(checksum.CRC32C, data)
	bad := "x-amz-checksum-crc32c:" + checksumOf(checksum.CRC32C, data[1:])
	tests := []struct {
		name    string
		mode    string
		trailer string
		ending  string
		want    error
	}{
		{"unsigned CRLF", streamingUnsignedTrailer, good, "\r\n", nil},
		{"unsigned LF CRLF", streamingUnsignedTrailer, good, "\n\r\n", nil},
		{"signed CRLF", streamingSignedTrailer, good, "\r\n", nil},
		{"signed LF CRLF", streamingSignedTrailer, good, "\n\r\n", nil},
		{"signed LF CRLF, wrong checksum", streamingSignedTrailer, bad, "\n\r\n", ErrTrailerChecksumMismatch},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/one byte reads %v", tc.name, oneByte), func(t *testing.T) {
				r, s := chunkedRequest(t, tc.mode, checksum.CRC32C, len(data))
				if tc.mode == streamingUnsignedTrailer {
					s = nil
				}
				body := encodeChunks(s, data, 16384, true, tc.trailer)
				body = bytes.Replace(body, []byte(tc.trailer+"\r\n"), []byte(tc.trailer+tc.ending), 1)
				var rd io.Reader = bytes.NewReader(body)
				if oneByte {
					// Reads that end mid-line make the decoder's buffer refill
					// between a trailer line and the CRLF after it.
					rd = iotest.OneByteReader(rd)
				}
				r.Body = io.NopCloser(rd)
				res, err := newVerifier(signTime).Verify(r)
				require.NoError(t, err)
				got, err := readBody(t, res)
				if tc.want != nil {
					require.ErrorIs(t, err, tc.want)
					return
				}
				require.NoError(t, err)
				require.Equal(t, data, got)
			})
		}
	}
}
