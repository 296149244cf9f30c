package bitrot

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Writer frames the shard data written to it onto an underlying io.Writer.
// Each complete block goes out in one Write call (block then checksum), so a
// buffered file writer underneath sees few, large writes. A Writer is not
// safe for concurrent use.
type Writer struct {
	w         io.Writer
	blockSize int
	frame     []byte // pending block followed by room for its checksum
	n         int    // pending data bytes in frame
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
	fw.frame = make([]byte, blockSize+ChecksumSize)
	fw.digester = NewDigester(name, blockSize)
	return fw
}

// Write frames p. It returns the number of bytes of p accepted, which is
// len(p) unless the underlying writer fails.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.writeHeader(); err != nil {
		return 0, err
	}
	accepted := 0
	for len(p) > 0 {
		c := copy(w.frame[w.n:w.blockSize], p)
		w.n += c
		p = p[c:]
		accepted += c
		w.written += int64(c)
		if w.n == w.blockSize {
			if err := w.flush(); err != nil {
				return accepted, err
			}
		}
	}
	return accepted, nil
}

// Close writes the header if nothing was written yet, the final partial
// block and the trailer. It does not close the underlying writer. Closing
// twice is a no-op.
// WriteBlock writes p, whose CRC32C the caller has computed (and checked
// against the bytes it received), as one whole block: without copying it
// into the frame and without checksumming it again. When p is not a whole
// block at a block boundary it is written as Write would, and crc is not
// used. A wrong crc makes a frame that fails verification on read, as any
// corruption would; it never makes a wrong frame pass.
func (w *Writer) WriteBlock(p []byte, crc uint32) (int, error) {
	if w.n != 0 || len(p) != w.blockSize || w.closed || w.err != nil {
		return w.Write(p)
	}
	if err := w.writeHeader(); err != nil {
		return 0, err
	}
	block := w.written / int64(w.blockSize)
	var sum [ChecksumSize]byte
	binary.LittleEndian.PutUint32(sum[:], crc)
	if _, err := w.w.Write(p); err != nil {
		w.err = fmt.Errorf("bitrot: write block %d: %w", block, err)
		return 0, w.err
	}
	if _, err := w.w.Write(sum[:]); err != nil {
		w.err = fmt.Errorf("bitrot: write block %d checksum: %w", block, err)
		return 0, w.err
	}
	w.digester.Add(crc)
	w.written += int64(len(p))
	return len(p), nil
}

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
		if err := w.flush(); err != nil {
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

func (w *Writer) flush() error {
	crc := checksum(w.frame[:w.n])
	binary.LittleEndian.PutUint32(w.frame[w.n:], crc)
	w.digester.Add(crc)
	block := (w.written - int64(w.n)) / int64(w.blockSize)
	if _, err := w.w.Write(w.frame[:w.n+ChecksumSize]); err != nil {
		w.err = fmt.Errorf("bitrot: write block %d: %w", block, err)
		return w.err
	}
	w.n = 0
	return nil
}
