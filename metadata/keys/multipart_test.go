package keys

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUploadAndPartKeys(t *testing.T) {
	tests := []struct {
		name                string
		bucket, key, upload string
		part                uint32
	}{
		{"plain", "b", "k", "u1", 1},
		{"zero bytes", "b\x00", "k\x00x", "u\x00", 10000},
		{"empty key parts", "b", "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, k, u, err := DecodeUploadKey(UploadKey(tc.bucket, tc.key, tc.upload))
			require.NoError(t, err)
			require.Equal(t, []string{tc.bucket, tc.key, tc.upload}, []string{b, k, u})
			require.True(t, bytes.HasPrefix(UploadKey(tc.bucket, tc.key, tc.upload), UploadPrefix(tc.bucket, tc.key)))
			require.True(t, bytes.HasPrefix(UploadKey(tc.bucket, tc.key, tc.upload), UploadKeyPrefix(tc.bucket, tc.key)))

			pk := PartKey(tc.bucket, tc.key, tc.upload, tc.part)
			b, k, u, n, err := DecodePartKey(pk)
			require.NoError(t, err)
			require.Equal(t, []string{tc.bucket, tc.key, tc.upload}, []string{b, k, u})
			require.Equal(t, tc.part, n)
			require.True(t, bytes.HasPrefix(pk, PartPrefix(tc.bucket, tc.key, tc.upload)))
		})
	}
}

func TestPartKeysSortByNumber(t *testing.T) {
	require.Negative(t, bytes.Compare(PartKey("b", "k", "u", 2), PartKey("b", "k", "u", 10)))
	require.Negative(t, bytes.Compare(PartKey("b", "k", "u", 255), PartKey("b", "k", "u", 256)))
	// Parts of upload "u" never interleave with those of "u2".
	require.Negative(t, bytes.Compare(PartKey("b", "k", "u", 1<<31), PartKey("b", "k", "u2", 0)))
}

func TestUploadKeysOfOneKeyAreContiguous(t *testing.T) {
	// "a" < "a/b" as keys, and every upload of "a" sorts before any of "a/b".
	require.Negative(t, bytes.Compare(UploadKey("b", "a", "\xff\xff"), UploadKey("b", "a/b", "")))
	require.False(t, bytes.HasPrefix(UploadKey("b", "a/b", "u"), UploadKeyPrefix("b", "a")))
}

func TestDecodeMultipartMalformed(t *testing.T) {
	_, _, _, err := DecodeUploadKey(PartKey("b", "k", "u", 1))
	require.ErrorIs(t, err, ErrMalformed)
	_, _, _, _, err = DecodePartKey(append(PartPrefix("b", "k", "u"), 1))
	require.ErrorIs(t, err, ErrMalformed)
	_, _, _, err = DecodeUploadKey(append(UploadKey("b", "k", "u"), 'x'))
	require.ErrorIs(t, err, ErrMalformed)
}
