package bitrot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBatch is how many framed bytes ReadRange asks for per ReadAt. Several
// blocks per call amortise the syscall; the bound keeps memory per read
// small. At least one whole block is always read.
const readBatch = 1 << 20

// ReadRange verifies and copies shard data bytes [off, off+n) of a framed
// shard holding dataSize data bytes in blocks of blockSize, writing them to
// dst. It reads the header and whole blocks through ra and checks each
// block's checksum before any byte of that block reaches dst, so dst only
// ever receives verified data. A checksum mismatch or a short shard returns
// an error wrapping ErrCorrupt that names the block; a header that does not
// match blockSize wraps ErrBadHeader. Errors from ra and dst are returned
// wrapped. Bytes of blocks verified before a failure may already be in dst.
func ReadRange(ra io.ReaderAt, dataSize int64, blockSize int, off, n int64, dst io.Writer) error {
	if err := validBlockSize(blockSize); err != nil {
		return err
	}
	if off < 0 || n < 0 || dataSize < 0 || off > dataSize || n > dataSize-off {
		return fmt.Errorf("%w: [%d, +%d) of %d bytes", ErrRange, off, n, dataSize)
	}
	var hb [HeaderSize]byte
	if err := readFull(ra, hb[:], 0); err != nil {
		return fmt.Errorf("bitrot: read header: %w", err)
	}
	h, err := ParseHeader(hb[:])
	if err != nil {
		return err
	}
	if int(h.BlockSize) != blockSize {
		return fmt.Errorf("%w: block size %d, caller expects %d", ErrBadHeader, h.BlockSize, blockSize)
	}
	if n == 0 {
		return nil
	}

	bs := int64(blockSize)
	frame := bs + ChecksumSize
	first, last := off/bs, (off+n-1)/bs
	lastBlock := (dataSize - 1) / bs
	perBatch := max(1, readBatch/frame)
	buf := make([]byte, min(perBatch, last-first+1)*frame)

	for b := first; b <= last; {
		count := min(perBatch, last-b+1)
		// Every block but the shard's last is full, so a batch is count
		// whole frames, trimmed when it ends on the short last block.
		size := count * frame
		if b+count-1 == lastBlock {
			size -= bs - (dataSize - lastBlock*bs)
		}
		chunk := buf[:size]
		if err := readFull(ra, chunk, HeaderSize+b*frame); err != nil {
			return fmt.Errorf("bitrot: read blocks %d..%d: %w", b, b+count-1, err)
		}
		for ; len(chunk) > 0; b++ {
			blen := min(int64(len(chunk)), frame) - ChecksumSize
			data := chunk[:blen]
			want := binary.LittleEndian.Uint32(chunk[blen:])
			if got := checksum(data); got != want {
				return fmt.Errorf("bitrot: block %d: stored %08x, computed %08x: %w", b, want, got, ErrCorrupt)
			}
			lo := max(off-b*bs, 0)
			hi := min(off+n-b*bs, blen)
			if _, err := dst.Write(data[lo:hi]); err != nil {
				return fmt.Errorf("bitrot: copy block %d: %w", b, err)
			}
			chunk = chunk[blen+ChecksumSize:]
		}
	}
	return nil
}

// readFull reads len(p) bytes at off; a shard that ends early is corrupt,
// not merely short, because its data size is recorded elsewhere.
func readFull(ra io.ReaderAt, p []byte, off int64) error {
	got, err := ra.ReadAt(p, off)
	if got == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated: %d of %d bytes at offset %d: %w", got, len(p), off, ErrCorrupt)
	}
	return err
}
