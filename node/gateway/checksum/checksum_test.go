package checksum_test

import (
	"bytes"
	"encoding/base64"
	"hash/crc64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

func sumOf(a checksum.Algorithm, data []byte) string {
	h := a.New()
	_, _ = h.Write(data)
	return checksum.Encode(h.Sum(nil))
}

func TestKnownVectors(t *testing.T) {
	hello := []byte("hello world")
	// 66560 bytes of 'a' is the body of AWS's chunked-upload examples; its
	// CRC32C, sOO8/Q==, is the trailer value AWS publishes for it.
	awsBody := bytes.Repeat([]byte("a"), 66560)
	tests := []struct {
		name string
		alg  checksum.Algorithm
		data []byte
		want string
	}{
		{"crc32 hello", checksum.CRC32, hello, "DUoRhQ=="},
		{"crc32c hello", checksum.CRC32C, hello, "yZRlqg=="},
		{"crc64nvme hello", checksum.CRC64NVME, hello, "jSnVw/bqjr4="},
		{"sha1 hello", checksum.SHA1, hello, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="},
		{"sha256 hello", checksum.SHA256, hello, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="},
		{"crc32 empty", checksum.CRC32, nil, "AAAAAA=="},
		{"sha256 empty", checksum.SHA256, nil, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"crc32c aws example body", checksum.CRC32C, awsBody, "sOO8/Q=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, sumOf(tc.alg, tc.data))
		})
	}
}

// The SIMD CRC64-NVME must agree with the table-driven definition of the
// polynomial (reversed 0x9a6c9329ac4bc9b5) for every length and alignment.
func TestCRC64NVMEMatchesReference(t *testing.T) {
	table := crc64.MakeTable(0x9a6c9329ac4bc9b5)
	data := make([]byte, 4099)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	for _, n := range []int{0, 1, 7, 8, 63, 64, 255, 256, 1024, 4099} {
		h := checksum.CRC64NVME.New()
		_, _ = h.Write(data[:n])
		want := crc64.Checksum(data[:n], table)
		got := h.Sum(nil)
		require.Len(t, got, 8)
		var v uint64
		for _, b := range got {
			v = v<<8 | uint64(b)
		}
		require.Equal(t, want, v, "length %d", n)
	}
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    checksum.Algorithm
		wantErr bool
	}{
		{"CRC32", checksum.CRC32, false},
		{"crc32c", checksum.CRC32C, false},
		{"Crc64Nvme", checksum.CRC64NVME, false},
		{" sha1 ", checksum.SHA1, false},
		{"sha256", checksum.SHA256, false},
		{"md5", "", true},
		{"", "", true},
		{"crc32 ", checksum.CRC32, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := checksum.ParseAlgorithm(tc.in)
			if tc.wantErr {
				require.ErrorIs(t, err, checksum.ErrUnknownAlgorithm)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestHeaderNames(t *testing.T) {
	want := map[checksum.Algorithm]string{
		checksum.CRC32:     "x-amz-checksum-crc32",
		checksum.CRC32C:    "x-amz-checksum-crc32c",
		checksum.CRC64NVME: "x-amz-checksum-crc64nvme",
		checksum.SHA1:      "x-amz-checksum-sha1",
		checksum.SHA256:    "x-amz-checksum-sha256",
	}
	require.Len(t, checksum.Algorithms(), len(want))
	for _, a := range checksum.Algorithms() {
		t.Run(string(a), func(t *testing.T) {
			require.Equal(t, want[a], a.HeaderName())
			back, ok := checksum.FromHeaderName(a.HeaderName())
			require.True(t, ok)
			require.Equal(t, a, back)
			canon, ok := checksum.FromHeaderName("X-Amz-Checksum-" + string(a))
			require.True(t, ok)
			require.Equal(t, a, canon)
			require.NotNil(t, a.New())
		})
	}
	for _, bad := range []string{"", "x-amz-checksum-", "x-amz-checksum-md5", "content-md5", "x-amz-checksum-algorithm"} {
		_, ok := checksum.FromHeaderName(bad)
		require.False(t, ok, bad)
	}
	require.Empty(t, checksum.Algorithm("MD5").HeaderName())
	require.Nil(t, checksum.Algorithm("MD5").New())
}

func TestEncodeIsStdBase64(t *testing.T) {
	sum := []byte{0xfb, 0xff, 0x00, 0x3e}
	require.Equal(t, base64.StdEncoding.EncodeToString(sum), checksum.Encode(sum))
	require.Equal(t, "+/8APg==", checksum.Encode(sum))
}
