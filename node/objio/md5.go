package objio

import (
	"crypto/md5"
	"hash"

	md5simd "github.com/minio/md5-simd"
	"golang.org/x/sys/cpu"
)

// simdMinStreams is how many PUTs must be hashing at once before a PUT
// joins the multi-lane MD5 server instead of hashing alone. MD5 is the
// largest CPU cost of a PUT. md5-simd runs 16 lanes with AVX-512 and 8
// with AVX2, and pays for its lane scheduling and the copy of every write
// into its buffers only when most lanes are busy.
//
// With AVX-512, streams that write 1 MiB at a time and pause between
// stripes, as PUTs do (CPU seconds per GiB hashed, crypto/md5 vs
// md5-simd): 1 stream 1.45 vs 1.88, 2 streams 1.40 vs 1.74, 4 streams 1.42
// vs 1.49, 8 streams 1.44 vs 0.82; so from 6 streams on.
//
// With AVX2 only (BenchmarkETagMD5, 1 MiB objects hashed back to back):
// 1 stream 1.74 vs 3.99, 4 streams 1.75 vs 2.28, 8 streams 1.72 vs 1.88,
// 16 streams 1.81 vs 1.18; and in a gateway's profile under sixteen 1 MiB
// PUTs, whose hashes are not all busy at once, md5-simd cost 2.4 CPU-s per
// GiB against crypto/md5's 1.4-1.8. So only from 16 streams on.
var simdMinStreams = minSIMDStreams(cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW)

func minSIMDStreams(avx512 bool) int {
	if avx512 {
		return 6
	}
	return 16
}

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
