package objio

import (
	"crypto/md5"
	"hash"

	md5simd "github.com/minio/md5-simd"
)

// simdMinStreams is how many PUTs must be hashing at once before a PUT
// joins the multi-lane MD5 server instead of hashing alone. Measured on
// AVX-512 (CPU seconds per GiB hashed, crypto/md5 vs md5-simd): 1 stream
// 1.6 vs 2.4, 2 streams 1.6 vs 2.1, 3 streams 1.6 vs 1.0, 4 streams 1.6 vs
// 0.8. MD5 is the largest CPU cost of a PUT, so under concurrency this
// matters; a single stream keeps the faster crypto/md5.
const simdMinStreams = 3

// newMD5 returns the ETag hash for one PUT and the function that releases
// it, to be called after Sum.
func (s *Store) newMD5() (hash.Hash, func()) {
	s.md5.Lock()
	defer s.md5.Unlock()
	s.md5.hashing++
	if s.md5.hashing < simdMinStreams || s.md5.closed {
		return md5.New(), s.doneMD5
	}
	if s.md5.srv == nil {
		// Started on first need, so that a store that never sees
		// concurrent PUTs runs no hashing goroutine.
		s.md5.srv = md5simd.NewServer()
	}
	s.md5.simd++
	h := s.md5.srv.NewHash()
	return h, func() {
		h.Close()
		s.md5.Lock()
		s.md5.simd--
		s.md5.Unlock()
		s.doneMD5()
	}
}

func (s *Store) doneMD5() {
	s.md5.Lock()
	defer s.md5.Unlock()
	s.md5.hashing--
	s.closeMD5Locked()
}

// closeMD5Locked stops the MD5 server once the store is closed and no
// hash uses it any more.
func (s *Store) closeMD5Locked() {
	if s.md5.closed && s.md5.simd == 0 && s.md5.srv != nil {
		s.md5.srv.Close()
		s.md5.srv = nil
	}
}

// Close releases the store's hashing server. PUTs still running finish;
// later ones hash with crypto/md5. The store stays usable.
func (s *Store) Close() error {
	s.md5.Lock()
	defer s.md5.Unlock()
	s.md5.closed = true
	s.closeMD5Locked()
	return nil
}
