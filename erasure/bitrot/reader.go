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

// Buffers lends ReadBlocks the buffers it reads frames into. Get returns a
// buffer of length n (its contents need not be zeroed: ReadBlocks
// overwrites every byte it hands on); Put takes back one that ReadBlocks
// did not hand to its caller. The method set is that of gRPC's
// mem.BufferPool, so one pool serves both.
type Buffers interface {
	Get(n int) *[]byte
	Put(*[]byte)
}

// Span is the verified range data of one block: bytes [Lo, Hi) of the
// buffer handed to ReadBlocks' yield.
type Span struct{ Lo, Hi int }

// ReadRange verifies and copies shard data bytes [off, off+n) of a framed
// shard holding dataSize data bytes in blocks of blockSize, writing them to
// dst. It reads the header and whole blocks through ra and checks each
// block's checksum before any byte of that block reaches dst, so dst only
// ever receives verified data. A checksum mismatch or a short shard returns
// an error wrapping ErrCorrupt that names the block; a header that does not
// match blockSize wraps ErrBadHeader. Errors from ra and dst are returned
// wrapped. Bytes of blocks verified before a failure may already be in dst.
func ReadRange(ra io.ReaderAt, dataSize int64, blockSize int, off, n int64, dst io.Writer) error {
	var one reuse
	return ReadBlocks(ra, dataSize, blockSize, off, n, &one, func(buf *[]byte, spans []Span) error {
		defer one.Put(buf)
		for _, s := range spans {
			if _, err := dst.Write((*buf)[s.Lo:s.Hi]); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadBlocks is ReadRange without the copy: it reads the frames that hold
// [off, off+n) in batches, each into a buffer from bufs of exactly the
// batch's framed length (so a short range or a short last block costs no
// more memory than its bytes), verifies every block of the batch, and then
// calls yield with the buffer and the spans of it that hold the range's
// data, one per block, in order (on a checksum mismatch, with the spans of
// the batch's blocks before the bad one, if any, before the error). yield owns the buffer from then on (to
// send it, and give it back to bufs when done); it is never touched again
// here. yield is called only with verified bytes; an error it returns is
// returned wrapped and ends the read. Errors are those of ReadRange.
func ReadBlocks(ra io.ReaderAt, dataSize int64, blockSize int, off, n int64, bufs Buffers, yield func(buf *[]byte, spans []Span) error) error {
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
	var spans []Span

	for b := first; b <= last; {
		count := min(perBatch, last-b+1)
		// Every block but the shard's last is full, so a batch is count
		// whole frames, trimmed when it ends on the short last block.
		size := count * frame
		if b+count-1 == lastBlock {
			size -= bs - (dataSize - lastBlock*bs)
		}
		buf := bufs.Get(int(size))
		chunk := (*buf)[:size]
		if err := readFull(ra, chunk, HeaderSize+b*frame); err != nil {
			bufs.Put(buf)
			return fmt.Errorf("bitrot: read blocks %d..%d: %w", b, b+count-1, err)
		}
		spans = spans[:0]
		for at := int64(0); at < size; b++ {
			blen := min(size-at, frame) - ChecksumSize
			data := chunk[at : at+blen]
			want := binary.LittleEndian.Uint32(chunk[at+blen:])
			if got := checksum(data); got != want {
				err := fmt.Errorf("bitrot: block %d: stored %08x, computed %08x: %w", b, want, got, ErrCorrupt)
				if len(spans) == 0 {
					bufs.Put(buf)
					return err
				}
				// The blocks before this one are good: deliver them
				// first, as a block-by-block reader would.
				if yerr := yield(buf, spans); yerr != nil {
					return fmt.Errorf("bitrot: deliver blocks up to %d: %w", b-1, yerr)
				}
				return err
			}
			lo := max(off-b*bs, 0)
			hi := min(off+n-b*bs, blen)
			spans = append(spans, Span{Lo: int(at + lo), Hi: int(at + hi)})
			at += blen + ChecksumSize
		}
		if err := yield(buf, spans); err != nil {
			return fmt.Errorf("bitrot: deliver blocks up to %d: %w", b-1, err)
		}
	}
	return nil
}

// reuse is a Buffers of one buffer, for a caller that is done with each
// batch before the next.
type reuse struct{ buf []byte }

func (r *reuse) Get(n int) *[]byte {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	return &b
}

func (r *reuse) Put(b *[]byte) { r.buf = (*b)[:0] }

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
