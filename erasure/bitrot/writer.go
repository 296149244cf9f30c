package bitrot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Writer frames the shard data written to it onto an underlying io.Writer.
// Data goes straight through, never copied: each Write's bytes are written
// as they come, with a running CRC32C of the current block, and the block's
// checksum follows its last byte. A buffered file writer underneath
// batches small writes. A Writer is not safe for concurrent use.
type Writer struct {
	w         io.Writer
	blockSize int
	n         int    // data bytes of the current block written so far
	crc       uint32 // CRC32C of those n bytes
	written   int64  // data bytes accepted
	header    bool   // header written
	closed    bool
	err       error // sticky: a failed underlying write leaves w unusable
	digester  *Digester
	digest    []byte // set by a successful Close
}

// NewWriter returns a Writer that frames the data of shard name into w in
// the current format (Version) with blocks of blockSize bytes. The header is
// written on the first Write or on Close, the trailer with the shard's
// digest (see Digester) on Close. An invalid blockSize makes every Write and
// Close fail with ErrBlockSize.
func NewWriter(w io.Writer, blockSize int, name string) *Writer {
	fw := &Writer{w: w, blockSize: blockSize}
	if err := validBlockSize(blockSize); err != nil {
		fw.err = err
		return fw
	}
	fw.digester = NewDigester(name, blockSize)
	return fw
}

// Write frames p. It returns the number of bytes of p accepted, which is
// len(p) unless the underlying writer fails.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.ready(); err != nil {
		return 0, err
	}
	accepted := 0
	for len(p) > 0 {
		c := min(len(p), w.blockSize-w.n)
		if err := w.data(p[:c], crc32.Update(w.crc, castagnoli, p[:c])); err != nil {
			return accepted, err
		}
		p = p[c:]
		accepted += c
	}
	return accepted, nil
}

// WriteBlock writes p, whose CRC32C the caller has computed (and checked
// against the bytes it received): at a block boundary, p (a whole block,
// or the start of one) is framed with that checksum, neither copied nor
// checksummed again. Elsewhere it is written as Write would, and crc is
// not used. A wrong crc makes a frame that fails verification on read, as
// any corruption would; it never makes a wrong frame pass.
func (w *Writer) WriteBlock(p []byte, crc uint32) (int, error) {
	if w.n != 0 || len(p) > w.blockSize {
		return w.Write(p)
	}
	if err := w.ready(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := w.data(p, crc); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteBlockParts is WriteBlock for data that arrived in pieces: p is the
// concatenation of parts and crc its CRC32C. At a block boundary the parts
// go to the underlying writer one by one, as they are, and the block is
// framed with crc; elsewhere each is written as Write would.
func (w *Writer) WriteBlockParts(parts [][]byte, crc uint32) (int, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if w.n != 0 || n > w.blockSize {
		accepted := 0
		for _, p := range parts {
			k, err := w.Write(p)
			accepted += k
			if err != nil {
				return accepted, err
			}
		}
		return accepted, nil
	}
	if err := w.ready(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	for _, p := range parts {
		if _, err := w.w.Write(p); err != nil {
			w.err = fmt.Errorf("bitrot: write block %d: %w", w.written/int64(w.blockSize), err)
			return 0, w.err
		}
	}
	if err := w.accept(n, crc); err != nil {
		return 0, err
	}
	return n, nil
}

// ready reports why nothing may be written, and writes the header first.
func (w *Writer) ready() error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	return w.writeHeader()
}

// data writes p, which fits in the current block, and records crc as the
// block's CRC so far; a block that p fills gets its checksum.
func (w *Writer) data(p []byte, crc uint32) error {
	if _, err := w.w.Write(p); err != nil {
		w.err = fmt.Errorf("bitrot: write block %d: %w", w.written/int64(w.blockSize), err)
		return w.err
	}
	return w.accept(len(p), crc)
}

// accept counts n data bytes just written, which fit in the current block,
// with crc the block's CRC so far; a block they fill gets its checksum.
func (w *Writer) accept(n int, crc uint32) error {
	w.n += n
	w.crc = crc
	w.written += int64(n)
	if w.n == w.blockSize {
		return w.endBlock()
	}
	return nil
}

// endBlock writes the current block's checksum.
func (w *Writer) endBlock() error {
	var sum [ChecksumSize]byte
	binary.LittleEndian.PutUint32(sum[:], w.crc)
	if _, err := w.w.Write(sum[:]); err != nil {
		w.err = fmt.Errorf("bitrot: write block %d checksum: %w", (w.written-1)/int64(w.blockSize), err)
		return w.err
	}
	w.digester.Add(w.crc)
	w.n, w.crc = 0, 0
	return nil
}

// Close writes the header if nothing was written yet, the final partial
// block's checksum and the trailer. It does not close the underlying
// writer. Closing twice is a no-op.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	if w.n > 0 {
		if err := w.endBlock(); err != nil {
			return err
		}
	}
	digest := w.digester.Sum(w.written)
	if _, err := w.w.Write(Trailer{DataSize: w.written, Digest: digest}.Marshal()); err != nil {
		w.err = fmt.Errorf("bitrot: write trailer: %w", err)
		return w.err
	}
	w.digest = digest
	return nil
}

// Digest returns the shard's digest once Close has succeeded, nil before.
func (w *Writer) Digest() []byte { return w.digest }

// DataWritten returns the number of data bytes accepted so far, excluding
// framing.
func (w *Writer) DataWritten() int64 { return w.written }

func (w *Writer) writeHeader() error {
	if w.header {
		return nil
	}
	h := Header{Version: Version, Algorithm: AlgorithmCRC32C, BlockSize: uint32(w.blockSize)}
	if _, err := w.w.Write(h.Marshal()); err != nil {
		w.err = fmt.Errorf("bitrot: write header: %w", err)
		return w.err
	}
	w.header = true
	return nil
}
