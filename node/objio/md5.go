package objio

import (
	"crypto/md5"
	"hash"

	md5simd "github.com/minio/md5-simd"
)

// simdMinStreams is how many PUTs must be hashing at once before a PUT
// joins the multi-lane MD5 server instead of hashing alone. MD5 is the
// largest CPU cost of a PUT. With streams that write 1 MiB at a time and
// pause between stripes, as PUTs do, measured on AVX-512 (CPU seconds per
// GiB hashed, crypto/md5 vs md5-simd): 1 stream 1.45 vs 1.88, 2 streams
// 1.40 vs 1.74, 4 streams 1.42 vs 1.49, 8 streams 1.44 vs 0.82; in the
// gateway's profile under four 64 MiB PUTs md5-simd (its lane scheduling,
// the copy of every write into its buffers and scalar tails) cost 1.8
// CPU-s per GiB. Back-to-back streams fill the lanes better (an earlier
// measurement put the crossover at 3 streams), so the threshold sits
// between the two: below 6 streams crypto/md5 is as cheap and simpler.
const simdMinStreams = 6

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
