package bitrot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Info describes a framed shard.
type Info struct {
	Header   Header
	DataSize int64
	// Digest is the shard's digest: recomputed from every block by Verify,
	// read from the trailer (version 2) or from the stored checksums
	// (version 1) by ReadInfo.
	Digest []byte
}

// ReadInfo reads what a framed shard of framedSize bytes named name says of
// itself without reading its data: header, data size and digest. For
// version 2 the digest and data size come from the trailer, which must
// agree with the file's length; for version 1, which has no trailer, the
// digest is computed from the stored block checksums, one small read per
// block. Nothing here verifies the blocks themselves (ReadRange and Verify
// do). Errors wrap ErrBadHeader, ErrCorrupt or those of ra.
func ReadInfo(ra io.ReaderAt, framedSize int64, name string) (Info, error) {
	h, size, err := readMeta(ra, framedSize)
	if err != nil {
		return Info{}, err
	}
	info := Info{Header: h, DataSize: size}
	if h.Version >= Version {
		t, err := ReadTrailer(ra, framedSize)
		if err != nil {
			return Info{}, err
		}
		if t.DataSize != size {
			return Info{}, fmt.Errorf("%w: trailer says %d data bytes, the file holds %d", ErrBadTrailer, t.DataSize, size)
		}
		info.Digest = t.Digest
		return info, nil
	}
	d := NewDigester(name, int(h.BlockSize))
	bs := int64(h.BlockSize)
	var cb [ChecksumSize]byte
	for off := int64(0); off < size; off += bs {
		blen := min(bs, size-off)
		b := off / bs
		if err := readFull(ra, cb[:], HeaderSize+b*(bs+ChecksumSize)+blen); err != nil {
			return Info{}, fmt.Errorf("bitrot: read checksum of block %d: %w", b, err)
		}
		d.Add(binary.LittleEndian.Uint32(cb[:]))
	}
	info.Digest = d.Sum(size)
	return info, nil
}

// Verify reads every block of a framed shard of framedSize bytes named
// name, checks each block's checksum, recomputes the shard's digest and,
// for version 2, checks it and the data size against the trailer. It reads
// at most about readBatch bytes per ReadAt (at least one block), so memory
// stays small and a rate-limited ra is paced evenly. Damage wraps
// ErrCorrupt (ErrDigestMismatch when only the digest disagrees); errors of
// ra are returned wrapped.
func Verify(ra io.ReaderAt, framedSize int64, name string) (Info, error) {
	h, size, err := readMeta(ra, framedSize)
	if err != nil {
		return Info{}, err
	}
	var trailer Trailer
	if h.Version >= Version {
		if trailer, err = ReadTrailer(ra, framedSize); err != nil {
			return Info{}, err
		}
		if trailer.DataSize != size {
			return Info{}, fmt.Errorf("%w: trailer says %d data bytes, the file holds %d", ErrBadTrailer, trailer.DataSize, size)
		}
	}
	d := NewDigester(name, int(h.BlockSize))
	bs := int64(h.BlockSize)
	frame := bs + ChecksumSize
	if size > 0 {
		blocks := (size + bs - 1) / bs
		perBatch := max(1, readBatch/frame)
		buf := make([]byte, min(perBatch, blocks)*frame)
		for b := int64(0); b < blocks; {
			count := min(perBatch, blocks-b)
			n := count * frame
			if b+count == blocks {
				n -= bs - (size - (blocks-1)*bs)
			}
			chunk := buf[:n]
			if err := readFull(ra, chunk, HeaderSize+b*frame); err != nil {
				return Info{}, fmt.Errorf("bitrot: read blocks %d..%d: %w", b, b+count-1, err)
			}
			for ; len(chunk) > 0; b++ {
				blen := min(int64(len(chunk)), frame) - ChecksumSize
				want := binary.LittleEndian.Uint32(chunk[blen:])
				if got := checksum(chunk[:blen]); got != want {
					return Info{}, fmt.Errorf("bitrot: block %d: stored %08x, computed %08x: %w", b, want, got, ErrCorrupt)
				}
				d.Add(want)
				chunk = chunk[blen+ChecksumSize:]
			}
		}
	}
	info := Info{Header: h, DataSize: size, Digest: d.Sum(size)}
	if h.Version >= Version && !bytes.Equal(info.Digest, trailer.Digest) {
		return Info{}, fmt.Errorf("%w: trailer %x, computed %x", ErrDigestMismatch, trailer.Digest, info.Digest)
	}
	return info, nil
}

// readMeta reads and validates the header and derives the data size from
// the file's length.
func readMeta(ra io.ReaderAt, framedSize int64) (Header, int64, error) {
	var hb [HeaderSize]byte
	if framedSize < HeaderSize {
		return Header{}, 0, fmt.Errorf("bitrot: %d bytes, shorter than a header: %w", framedSize, ErrCorrupt)
	}
	if err := readFull(ra, hb[:], 0); err != nil {
		return Header{}, 0, fmt.Errorf("bitrot: read header: %w", err)
	}
	h, err := ParseHeader(hb[:])
	if err != nil {
		return Header{}, 0, err
	}
	size, err := h.DataSize(framedSize)
	if err != nil {
		return Header{}, 0, err
	}
	return h, size, nil
}

// ReadTrailer reads and parses the trailer of a version 2 shard of
// framedSize bytes. Errors wrap ErrBadTrailer or those of ra.
func ReadTrailer(ra io.ReaderAt, framedSize int64) (Trailer, error) {
	var tb [TrailerSize]byte
	if err := readFull(ra, tb[:], framedSize-TrailerSize); err != nil {
		return Trailer{}, fmt.Errorf("bitrot: read trailer: %w", err)
	}
	return ParseTrailer(tb[:])
}
