package vfs

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// Direct I/O writes a file's bytes from user memory to the disk without
// going through the page cache: the kernel neither copies them into cache
// pages nor writes those pages back later. It demands alignment: every
// write starts at an offset, from an address and with a length that are
// multiples of the device's block size (DirectAlign covers every device
// in use).
const (
	// DirectAlign is the alignment of direct writes.
	DirectAlign = 4096
	// DirectBufSize is the staging buffer of a DirectWriter: the bytes
	// one direct write carries at most.
	DirectBufSize = 1 << 20
	// DirectMinWrite is the fewest bytes a DirectWriter writes directly:
	// a file shorter goes through the page cache whole, where turning
	// direct I/O on and off would cost more than it saves.
	DirectMinWrite = 64 << 10
)

// directFile is a file that can turn direct I/O on and off.
type directFile interface {
	SetDirect(on bool) error
}

// SetDirect turns direct I/O on or off for f's later writes. It fails
// with ErrUnsupported where the platform has none or f cannot; a
// filesystem without it may also refuse (EINVAL) only at the first write.
func SetDirect(f File, on bool) error {
	switch f := f.(type) {
	case directFile:
		return f.SetDirect(on)
	case *os.File:
		return setDirect(f, on)
	}
	return fmt.Errorf("vfs: set direct I/O: %w", ErrUnsupported)
}

// stagingPool holds aligned staging buffers of DirectBufSize bytes.
var stagingPool = sync.Pool{New: func() any {
	b := AlignedBuffer(DirectBufSize)
	return &b
}}

// AlignedBuffer returns n bytes starting at an address aligned to
// DirectAlign: a larger slice cut at its first aligned byte.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+DirectAlign)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (DirectAlign - 1)); r != 0 {
		off = DirectAlign - r
	}
	return b[off : off+n : off+n]
}

// DirectWriter writes a new file from its start with direct I/O: bytes are
// copied into an aligned staging buffer, which goes to the file whole,
// at aligned offsets, whenever it fills. Finish writes what is left: its
// aligned part directly, then the tail (shorter than DirectAlign) through
// the page cache, with direct I/O turned off. A file shorter than
// DirectMinWrite is written through the page cache alone, in one write.
// The file holds exactly the bytes written, as a plain writer would leave
// it, and reads (through the page cache) see them. Finish does not sync
// the file.
//
// A DirectWriter is not safe for concurrent use; its staging buffer comes
// from a pool and goes back by Finish or Release.
type DirectWriter struct {
	f      File
	buf    *[]byte
	n      int  // bytes staged
	direct bool // direct I/O is on for f
	err    error
}

// ErrWriterDone is returned by a DirectWriter used after Finish or Release.
var ErrWriterDone = errors.New("vfs: direct writer finished")

// NewDirectWriter returns a writer of f, a new, empty file open for
// writing, whose filesystem takes direct writes (see SetDirect). Direct
// I/O is turned on at the first direct write.
func NewDirectWriter(f File) *DirectWriter {
	return &DirectWriter{f: f, buf: stagingPool.Get().(*[]byte)}
}

// Write stages p, writing every full staging buffer to the file.
func (w *DirectWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.buf == nil {
		return 0, ErrWriterDone
	}
	written := 0
	for len(p) > 0 {
		c := copy((*w.buf)[w.n:], p)
		w.n += c
		p = p[c:]
		if w.n == len(*w.buf) {
			if err := w.writeDirect((*w.buf)[:w.n]); err != nil {
				return written, err
			}
			w.n = 0
		}
		written += c
	}
	return written, nil
}

// writeDirect writes b, of a length aligned, with direct I/O.
func (w *DirectWriter) writeDirect(b []byte) error {
	if err := w.setDirect(true); err != nil {
		return err
	}
	return w.write(b)
}

func (w *DirectWriter) setDirect(on bool) error {
	if w.direct == on {
		return nil
	}
	if err := SetDirect(w.f, on); err != nil {
		w.err = fmt.Errorf("vfs: direct write: %w", err)
		return w.err
	}
	w.direct = on
	return nil
}

func (w *DirectWriter) write(b []byte) error {
	if _, err := w.f.Write(b); err != nil {
		w.err = fmt.Errorf("vfs: direct write: %w", err)
		return w.err
	}
	return nil
}

// Finish writes the staged bytes, the last of them with direct I/O off,
// and releases the staging buffer.
func (w *DirectWriter) Finish() error {
	if w.err != nil {
		w.Release()
		return w.err
	}
	if w.buf == nil {
		return ErrWriterDone
	}
	defer w.Release()
	aligned := w.n &^ (DirectAlign - 1)
	if !w.direct && w.n < DirectMinWrite {
		aligned = 0
	}
	if aligned > 0 {
		if err := w.writeDirect((*w.buf)[:aligned]); err != nil {
			return err
		}
	}
	if aligned == w.n {
		return nil
	}
	if err := w.setDirect(false); err != nil {
		return err
	}
	return w.write((*w.buf)[aligned:w.n])
}

// Release gives the staging buffer back without writing what it holds.
// It is a no-op after Finish or a first Release.
func (w *DirectWriter) Release() {
	if w.buf != nil {
		stagingPool.Put(w.buf)
		w.buf = nil
	}
}
