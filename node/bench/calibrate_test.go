package bench

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"sync"
	"testing"

	md5simd "github.com/minio/md5-simd"
)

// The calibration benchmarks measure the machine, not Cairn: the hashes a
// PUT pays for, at the speed this machine kind reaches (Ceilings). A run
// far below them says the machine was busy, and every other figure of the
// run is low for the same reason.

const calibrateSize = 1 << 20

func calibrateData(b *testing.B) []byte {
	buf := make([]byte, calibrateSize)
	_, _ = rand.Read(buf)
	return buf
}

func BenchmarkMD5(b *testing.B) {
	data := calibrateData(b)
	b.Run("crypto-md5", func(b *testing.B) {
		b.SetBytes(calibrateSize)
		b.ReportAllocs()
		for b.Loop() {
			h := md5.New()
			h.Write(data)
			h.Sum(nil)
		}
	})
	b.Run("md5-simd-16", func(b *testing.B) {
		const streams = 16
		srv := md5simd.NewServer()
		defer srv.Close()
		b.SetBytes(streams * calibrateSize)
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			for range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := srv.NewHash()
					defer h.Close()
					for off := 0; off < len(data); off += 64 << 10 {
						h.Write(data[off : off+64<<10])
					}
					h.Sum(nil)
				}()
			}
			wg.Wait()
		}
	})
}

func BenchmarkSHA256(b *testing.B) {
	data := calibrateData(b)
	b.SetBytes(calibrateSize)
	b.ReportAllocs()
	for b.Loop() {
		sha256.Sum256(data)
	}
}

func BenchmarkCRC32C(b *testing.B) {
	data := calibrateData(b)
	table := crc32.MakeTable(crc32.Castagnoli)
	b.SetBytes(calibrateSize)
	b.ReportAllocs()
	for b.Loop() {
		crc32.Checksum(data, table)
	}
}
