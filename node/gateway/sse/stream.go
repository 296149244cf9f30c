package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Format constants of version 1.
const (
	// FormatVersion is bound into every package's authenticated data, so a
	// future format can never be opened as this one.
	FormatVersion = 1
	// DefaultPackageSize is the plaintext bytes per package.
	DefaultPackageSize = 64 << 10
	// MaxPackageSize bounds what a record may claim.
	MaxPackageSize = 16 << 20
	// Overhead is the bytes a sealed package adds (the GCM tag).
	Overhead = 16
	// KeySize is the size of data keys and of every wrapping key.
	KeySize = 32
	// NonceSize is the size of the per-stream random nonce prefix.
	NonceSize = 8
)

// Errors of the package. ErrAuthentication covers every kind of damage to
// ciphertext (tampering, reordering, truncation) and the use of a wrong key:
// AES-GCM cannot tell them apart.
var (
	ErrAuthentication = errors.New("sse: message authentication failed")
	ErrTruncated      = errors.New("sse: encrypted stream truncated")
	ErrInvalidKey     = errors.New("sse: invalid key")
	ErrInvalidRange   = errors.New("sse: invalid range")
	ErrTooLarge       = errors.New("sse: stream too large")
)

// NewDataKey returns a fresh random data key.
func NewDataKey() []byte {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}

// NewNonce returns a fresh random stream nonce. Each stream encrypted under
// one data key (an object, or each part of a multipart upload) needs its
// own.
func NewNonce() []byte {
	n := make([]byte, NonceSize)
	_, _ = rand.Read(n)
	return n
}

// Layout is the size arithmetic of the format for one package size.
type Layout struct {
	// PackageSize is the plaintext bytes per package; 0 means
	// DefaultPackageSize.
	PackageSize int
}

// DefaultLayout is the layout new streams are written with.
var DefaultLayout = Layout{PackageSize: DefaultPackageSize}

func (l Layout) pkg() int64 {
	if l.PackageSize <= 0 {
		return DefaultPackageSize
	}
	return int64(l.PackageSize)
}

// Validate reports a package size this implementation cannot handle.
func (l Layout) Validate() error {
	if l.PackageSize < 0 || l.PackageSize > MaxPackageSize {
		return fmt.Errorf("%w: package size %d", ErrInvalidRange, l.PackageSize)
	}
	return nil
}

// Packages is the number of packages of a plaintext of the given size.
func (l Layout) Packages(plain int64) int64 {
	if plain <= 0 {
		return 1
	}
	return (plain + l.pkg() - 1) / l.pkg()
}

// EncryptedSize is the stored size of a plaintext of the given size.
func (l Layout) EncryptedSize(plain int64) int64 {
	return plain + l.Packages(plain)*Overhead
}

// PlainRangeToStored returns the stored byte range [storedOff,
// storedOff+storedLen) holding the whole packages that cover plaintext bytes
// [off, off+n) of a body of plainSize bytes. The range starts on a package
// boundary, as NewDecryptWriter expects.
func (l Layout) PlainRangeToStored(off, n, plainSize int64) (storedOff, storedLen int64, err error) {
	if off < 0 || n <= 0 || plainSize < 0 || off > plainSize || n > plainSize-off {
		return 0, 0, fmt.Errorf("%w: %d+%d of %d bytes", ErrInvalidRange, off, n, plainSize)
	}
	p := l.pkg()
	first, last := off/p, (off+n-1)/p
	storedOff = first * (p + Overhead)
	end := min((last+1)*(p+Overhead), l.EncryptedSize(plainSize))
	return storedOff, end - storedOff, nil
}

// EncryptedSize is DefaultLayout.EncryptedSize.
func EncryptedSize(plain int64) int64 { return DefaultLayout.EncryptedSize(plain) }

// PlainRangeToStored is DefaultLayout.PlainRangeToStored.
func PlainRangeToStored(off, n, plainSize int64) (storedOff, storedLen int64, err error) {
	return DefaultLayout.PlainRangeToStored(off, n, plainSize)
}

// packager seals and opens the packages of one stream.
type packager struct {
	aead  cipher.AEAD
	nonce [12]byte
	aad   [10]byte
}

func newPackager(key, nonce []byte) (*packager, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: data key has %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	if len(nonce) != NonceSize {
		return nil, fmt.Errorf("%w: nonce has %d bytes, want %d", ErrInvalidKey, len(nonce), NonceSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	pk := &packager{aead: aead}
	copy(pk.nonce[:], nonce)
	pk.aad[0] = FormatVersion
	return pk, nil
}

func (pk *packager) set(index int64, final bool) error {
	if index < 0 || index > math.MaxUint32 {
		return fmt.Errorf("%w: package %d", ErrTooLarge, index)
	}
	binary.BigEndian.PutUint32(pk.nonce[NonceSize:], uint32(index))
	binary.BigEndian.PutUint64(pk.aad[1:9], uint64(index))
	pk.aad[9] = 0
	if final {
		pk.aad[9] = 1
	}
	return nil
}

func (pk *packager) seal(dst, plain []byte, index int64, final bool) ([]byte, error) {
	if err := pk.set(index, final); err != nil {
		return nil, err
	}
	return pk.aead.Seal(dst, pk.nonce[:], plain, pk.aad[:]), nil
}

func (pk *packager) open(dst, sealed []byte, index int64, final bool) ([]byte, error) {
	if err := pk.set(index, final); err != nil {
		return nil, err
	}
	out, err := pk.aead.Open(dst, pk.nonce[:], sealed, pk.aad[:])
	if err != nil {
		return nil, fmt.Errorf("%w: package %d", ErrAuthentication, index)
	}
	return out, nil
}

// encryptReader seals its source package by package. It holds one package
// of plaintext plus a byte of look-ahead (to know which package is final)
// and one sealed package.
type encryptReader struct {
	src   io.Reader
	pk    *packager
	size  int
	plain []byte // up to size+1 bytes read ahead
	out   []byte // sealed bytes not yet returned
	index int64
	done  bool
	err   error
}

// NewEncryptReader returns a reader of the stored form of the plaintext
// read from r (to EOF), sealed under key with the stream nonce, in
// DefaultLayout. Errors of r are returned unchanged.
func NewEncryptReader(r io.Reader, key, nonce []byte) (io.Reader, error) {
	return DefaultLayout.NewEncryptReader(r, key, nonce)
}

// NewEncryptReader is NewEncryptReader for layout l.
func (l Layout) NewEncryptReader(r io.Reader, key, nonce []byte) (io.Reader, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	pk, err := newPackager(key, nonce)
	if err != nil {
		return nil, err
	}
	size := int(l.pkg())
	return &encryptReader{src: r, pk: pk, size: size, plain: make([]byte, 0, size+1), out: make([]byte, 0, size+Overhead)}, nil
}

func (e *encryptReader) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		if err := e.next(); err != nil {
			e.err = err
			return 0, err
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// next fills the plaintext buffer to one package plus one byte and seals
// the package; without the extra byte it was the final package.
func (e *encryptReader) next() error {
	for len(e.plain) < e.size+1 {
		n, err := e.src.Read(e.plain[len(e.plain) : e.size+1])
		e.plain = e.plain[:len(e.plain)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	final := len(e.plain) <= e.size
	chunk := e.plain
	if !final {
		chunk = e.plain[:e.size]
	}
	out, err := e.pk.seal(e.out[:0], chunk, e.index, final)
	if err != nil {
		return err
	}
	e.out = out
	e.index++
	if final {
		e.done = true
		e.plain = e.plain[:0]
		return nil
	}
	// Keep the look-ahead byte as the start of the next package.
	e.plain[0] = e.plain[e.size]
	e.plain = e.plain[:1]
	return nil
}

// DecryptWriter opens the packages of a stored range and writes exactly
// the plaintext range asked for to its destination.
type DecryptWriter struct {
	dst       io.Writer
	pk        *packager
	size      int64 // package size
	index     int64 // next package expected
	last      int64 // index of the last package of the range
	final     int64 // index of the body's final package
	lastLen   int   // sealed length of the body's final package
	off, end  int64 // plaintext range, absolute
	buf       []byte
	plain     []byte
	finishErr error
}

// NewDecryptWriter is DefaultLayout.NewDecryptWriter.
func NewDecryptWriter(dst io.Writer, key, nonce []byte, plainSize, off, n int64) (*DecryptWriter, error) {
	return DefaultLayout.NewDecryptWriter(dst, key, nonce, plainSize, off, n)
}

// NewDecryptWriter returns a writer that takes the stored bytes of the
// range PlainRangeToStored(off, n, plainSize) gives, in order, and writes
// plaintext bytes [off, off+n) to dst. Close reports a stream that ended
// early. Damaged ciphertext or a wrong key make Write fail with an error
// wrapping ErrAuthentication before any plaintext of the damaged package
// reaches dst.
func (l Layout) NewDecryptWriter(dst io.Writer, key, nonce []byte, plainSize, off, n int64) (*DecryptWriter, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if _, _, err := l.PlainRangeToStored(off, n, plainSize); err != nil {
		return nil, err
	}
	pk, err := newPackager(key, nonce)
	if err != nil {
		return nil, err
	}
	p := l.pkg()
	final := l.Packages(plainSize) - 1
	return &DecryptWriter{
		dst:     dst,
		pk:      pk,
		size:    p,
		index:   off / p,
		last:    (off + n - 1) / p,
		final:   final,
		lastLen: int(plainSize-final*p) + Overhead,
		off:     off,
		end:     off + n,
		buf:     make([]byte, 0, p+Overhead),
		plain:   make([]byte, 0, p),
	}, nil
}

// sealedLen is the stored length of the package expected next.
func (d *DecryptWriter) sealedLen() int {
	if d.index == d.final {
		return d.lastLen
	}
	return int(d.size) + Overhead
}

// Write implements io.Writer. Bytes past the range are an error.
func (d *DecryptWriter) Write(p []byte) (int, error) {
	if d.finishErr != nil {
		return 0, d.finishErr
	}
	written := 0
	for len(p) > 0 {
		if d.index > d.last {
			d.finishErr = fmt.Errorf("%w: %d bytes past the range", ErrInvalidRange, len(p))
			return written, d.finishErr
		}
		want := d.sealedLen()
		n := min(want-len(d.buf), len(p))
		d.buf = append(d.buf, p[:n]...)
		p, written = p[n:], written+n
		if len(d.buf) < want {
			continue
		}
		if err := d.flush(); err != nil {
			d.finishErr = err
			return written, err
		}
	}
	return written, nil
}

func (d *DecryptWriter) flush() error {
	plain, err := d.pk.open(d.plain[:0], d.buf, d.index, d.index == d.final)
	if err != nil {
		return err
	}
	start := d.index * d.size
	lo := max(d.off-start, 0)
	hi := min(d.end-start, int64(len(plain)))
	d.buf = d.buf[:0]
	d.index++
	if lo < hi {
		if _, err := d.dst.Write(plain[lo:hi]); err != nil {
			return err
		}
	}
	return nil
}

// Close reports whether every package of the range arrived and opened.
func (d *DecryptWriter) Close() error {
	if d.finishErr != nil {
		return d.finishErr
	}
	if d.index <= d.last {
		return fmt.Errorf("%w: %d of the range's packages missing", ErrTruncated, d.last-d.index+1)
	}
	return nil
}
