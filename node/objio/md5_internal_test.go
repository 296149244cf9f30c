package objio

import (
	"crypto/md5"
	"hash"
	"testing"

	md5simd "github.com/minio/md5-simd"
	"github.com/stretchr/testify/require"
)

// TestNewMD5 checks that concurrent PUTs move to the multi-lane server from
// the simdMinStreams-th on, that every hash computes MD5, and that Close
// stops the server only once its last hash is released.
func TestNewMD5(t *testing.T) {
	s := &Store{}
	n := simdMinStreams + 2
	hs := make([]hash.Hash, n)
	dones := make([]func(), n)
	for i := range hs {
		hs[i], dones[i] = s.newMD5()
		_, simd := hs[i].(md5simd.Hasher)
		require.Equal(t, i+1 >= simdMinStreams, simd, "hash %d", i)
	}
	data := make([]byte, 3<<20+7)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for i, h := range hs {
		_, err := h.Write(data[:len(data)-i])
		require.NoError(t, err)
	}
	for i, h := range hs {
		want := md5.Sum(data[:len(data)-i])
		require.Equal(t, want[:], h.Sum(nil), "hash %d", i)
	}

	require.NoError(t, s.Close())
	require.NotNil(t, s.md5.srv, "still used by open hashes")
	for _, done := range dones {
		done()
	}
	require.Nil(t, s.md5.srv, "stopped with its last hash")
	require.Zero(t, s.md5.hashing)

	// After Close every PUT hashes alone.
	for range n {
		h, done := s.newMD5()
		defer done()
		_, simd := h.(md5simd.Hasher)
		require.False(t, simd)
	}
}

// TestLostBudget: a PUT rebuilds at most M-1 lost shards (one when M = 1),
// so at least K+1 durable shards remain to read around one more failure.
func TestLostBudget(t *testing.T) {
	for _, c := range []struct{ m, want int }{{1, 1}, {2, 1}, {3, 2}, {4, 3}} {
		require.Equal(t, c.want, lostBudget(c.m), "m=%d", c.m)
	}
}
