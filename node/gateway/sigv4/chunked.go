package sigv4

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// MaxChunkSize bounds one signed aws-chunked chunk. SDKs send 64 KiB to
// 1 MiB; a signed chunk is held in memory until its signature verifies, so
// this is also the per-request memory bound. Unsigned chunks stream and
// are not bounded.
const MaxChunkSize = 16 << 20

const (
	// readBufferSize must hold the longest line we accept (chunk headers are
	// ~90 bytes, trailer lines well under 200).
	readBufferSize   = 16 << 10
	maxTrailerLines  = 16
	trailerSignature = "x-amz-trailer-signature"
	chunkSigPrefix   = "chunk-signature="
	payloadAlgorithm = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgorithm = "AWS4-HMAC-SHA256-TRAILER"
)

// chunkSigner chains chunk signatures from the seed (the header signature).
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	prev    string // hex signature of the previous chunk, or the seed
}

func (s *chunkSigner) chunk(data []byte) []byte {
	sum := sha256.Sum256(data)
	return hmacSHA256(s.key, payloadAlgorithm+"\n"+s.amzDate+"\n"+s.scope+"\n"+s.prev+"\n"+emptySHA256+"\n"+hex.EncodeToString(sum[:]))
}

func (s *chunkSigner) trailer(canonical string) []byte {
	return hmacSHA256(s.key, trailerAlgorithm+"\n"+s.amzDate+"\n"+s.scope+"\n"+s.prev+"\n"+sha256Hex([]byte(canonical)))
}

type chunkConfig struct {
	signer        *chunkSigner // nil: chunks are unsigned
	trailer       bool         // trailing headers follow the final chunk
	declared      checksum.Algorithm
	decodedLength int64 // -1: unknown
}

// chunkDecoder decodes an aws-chunked body:
//
//	hex(size)[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//
// followed by "\r\n", or, with trailers, by "name:value\r\n" lines and an
// empty line. Signed chunks are buffered and verified before any of their
// bytes are returned; unsigned chunks stream straight through.
type chunkDecoder struct {
	src io.ReadCloser
	br  *bufio.Reader
	cfg chunkConfig
	sum hash.Hash // of the declared trailing checksum; nil if none

	buf       []byte // one signed chunk
	pending   []byte // verified bytes not yet returned
	remaining int64  // unread bytes of the current unsigned chunk
	needCRLF  bool   // the current unsigned chunk's closing CRLF is unread
	decoded   int64
	done      bool
	err       error // sticky

	trailerAlg checksum.Algorithm
	trailerVal string
}

func newChunkDecoder(src io.ReadCloser, cfg chunkConfig) *chunkDecoder {
	d := &chunkDecoder{src: src, br: bufio.NewReaderSize(src, readBufferSize), cfg: cfg}
	if cfg.declared != "" {
		d.sum = cfg.declared.New()
	}
	if cfg.signer != nil {
		// The signer chains per request; never share the caller's.
		s := *cfg.signer
		d.cfg.signer = &s
	}
	return d
}

// TrailerChecksum returns the trailing checksum once the body reached EOF.
func (d *chunkDecoder) TrailerChecksum() (checksum.Algorithm, string) {
	if !d.done {
		return "", ""
	}
	return d.trailerAlg, d.trailerVal
}

func (d *chunkDecoder) Close() error {
	d.buf, d.pending = nil, nil
	return d.src.Close()
}

func (d *chunkDecoder) Read(p []byte) (int, error) {
	for {
		if len(d.pending) > 0 {
			n := copy(p, d.pending)
			d.pending = d.pending[n:]
			return n, nil
		}
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if d.remaining > 0 {
			return d.readUnsigned(p)
		}
		n, err := d.next(p)
		if err != nil {
			d.err = err
			// p may hold unverified bytes: scratch space, never returned.
			continue
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (d *chunkDecoder) readUnsigned(p []byte) (int, error) {
	if int64(len(p)) > d.remaining {
		p = p[:d.remaining]
	}
	n, err := d.br.Read(p)
	d.remaining -= int64(n)
	d.decoded += int64(n)
	if d.sum != nil {
		_, _ = d.sum.Write(p[:n])
	}
	if d.remaining == 0 {
		d.needCRLF = true
	}
	if err != nil && d.remaining > 0 {
		d.err = readErr(err, "chunk data")
	}
	if n > 0 {
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	return 0, nil
}

// next consumes one chunk header and, for a signed chunk, its data. A
// signed chunk that fits in p is read straight into it and, once verified,
// returned as n bytes of p; one that does not is kept in d.pending. A chunk
// that fails verification returns an error, and p's bytes are scratch.
func (d *chunkDecoder) next(p []byte) (int, error) {
	if d.needCRLF {
		if err := d.expectCRLF(); err != nil {
			return 0, err
		}
		d.needCRLF = false
	}
	line, err := d.readLine()
	if err == io.EOF {
		return 0, fmt.Errorf("sigv4: body ended before the final chunk: %w", ErrIncompleteBody)
	}
	if err != nil {
		return 0, err
	}
	size, sig, err := parseChunkHeader(line, d.cfg.signer != nil)
	if err != nil {
		return 0, err
	}
	if want := d.cfg.decodedLength; want >= 0 && d.decoded+size > want {
		return 0, fmt.Errorf("sigv4: chunks exceed x-amz-decoded-content-length %d: %w", want, ErrIncompleteBody)
	}
	if d.cfg.signer == nil {
		if size == 0 {
			return 0, d.finish()
		}
		d.remaining = size
		return 0, nil
	}
	// A chunk that fits in the caller's buffer is read into it: the body
	// is then copied once (socket to p), not twice.
	direct := int64(len(p)) >= size
	var data []byte
	if direct {
		data = p[:size]
	} else {
		if int64(cap(d.buf)) < size {
			d.buf = make([]byte, size)
		}
		data = d.buf[:size]
	}
	if _, err := io.ReadFull(d.br, data); err != nil {
		return 0, readErr(err, "chunk data")
	}
	if size > 0 {
		if err := d.expectCRLF(); err != nil {
			return 0, err
		}
	}
	s := d.cfg.signer
	want := s.chunk(data)
	if !hmac.Equal(want, sig) {
		return 0, fmt.Errorf("sigv4: chunk at decoded offset %d: %w", d.decoded, ErrChunkSignatureMismatch)
	}
	s.prev = hex.EncodeToString(want)
	if size == 0 {
		return 0, d.finish()
	}
	if d.sum != nil {
		_, _ = d.sum.Write(data)
	}
	d.decoded += size
	if direct {
		return int(size), nil
	}
	d.pending = data
	return 0, nil
}

// finish runs after the final zero-size chunk: trailers, length, checksum.
func (d *chunkDecoder) finish() error {
	if d.cfg.trailer {
		if err := d.readTrailers(); err != nil {
			return err
		}
	} else {
		line, err := d.readLine()
		switch {
		case err == io.EOF:
			// Tolerated: some clients end the body right after the final
			// chunk header; nothing is lost.
		case err != nil:
			return err
		case len(line) != 0:
			return fmt.Errorf("sigv4: data after the final chunk: %w", ErrMalformedChunk)
		}
	}
	if want := d.cfg.decodedLength; want >= 0 && d.decoded != want {
		return fmt.Errorf("sigv4: decoded %d bytes, x-amz-decoded-content-length is %d: %w", d.decoded, want, ErrIncompleteBody)
	}
	if d.sum != nil {
		if d.trailerVal == "" {
			return fmt.Errorf("sigv4: x-amz-trailer declared %s but no trailer carried it: %w", d.cfg.declared.HeaderName(), ErrMalformedChunk)
		}
		if got := checksum.Encode(d.sum.Sum(nil)); got != d.trailerVal {
			return fmt.Errorf("sigv4: the %s you specified did not match the calculated checksum (%s != %s): %w",
				d.cfg.declared, truncate(d.trailerVal), got, ErrTrailerChecksumMismatch)
		}
	}
	d.done = true
	return nil
}

type trailerLine struct{ name, value string }

func (d *chunkDecoder) readTrailers() error {
	var lines []trailerLine
	var sig string
	for {
		line, err := d.readTrailerLine()
		if err == io.EOF {
			// Tolerated only once the trailers are complete: a missing final
			// empty line loses nothing, a missing trailer is caught below.
			break
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			if len(lines) == 0 && sig == "" {
				// Some clients put an empty line between the final chunk and
				// the trailers; skip it unless it ends the body.
				if _, err := d.br.Peek(1); err == nil {
					continue
				}
			}
			break
		}
		if len(lines) >= maxTrailerLines {
			return fmt.Errorf("sigv4: more than %d trailer lines: %w", maxTrailerLines, ErrMalformedChunk)
		}
		name, value, ok := strings.Cut(string(line), ":")
		if !ok {
			return fmt.Errorf("sigv4: trailer line %q: %w", truncate(string(line)), ErrMalformedChunk)
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == trailerSignature {
			if sig != "" {
				return fmt.Errorf("sigv4: repeated %s: %w", trailerSignature, ErrMalformedChunk)
			}
			sig = value
			continue
		}
		if err := d.acceptTrailer(name, value); err != nil {
			return err
		}
		lines = append(lines, trailerLine{name, value})
	}
	if d.cfg.signer != nil && (len(lines) > 0 || sig != "") {
		return d.verifyTrailer(lines, sig)
	}
	return nil
}

func (d *chunkDecoder) acceptTrailer(name, value string) error {
	alg, ok := checksum.FromHeaderName(name)
	if !ok {
		// S3 defines only checksum trailers; others are signed over and
		// otherwise ignored.
		return nil
	}
	switch {
	case d.cfg.declared == "":
		return fmt.Errorf("sigv4: trailer %s not declared in x-amz-trailer: %w", name, ErrMalformedChunk)
	case alg != d.cfg.declared:
		return fmt.Errorf("sigv4: trailer %s, x-amz-trailer declared %s: %w", name, d.cfg.declared.HeaderName(), ErrMalformedChunk)
	case d.trailerVal != "":
		return fmt.Errorf("sigv4: repeated trailer %s: %w", name, ErrMalformedChunk)
	case value == "":
		return fmt.Errorf("sigv4: empty trailer %s: %w", name, ErrMalformedChunk)
	}
	d.trailerAlg, d.trailerVal = alg, value
	return nil
}

// verifyTrailer checks x-amz-trailer-signature; the signed form of the
// trailers is "name:value\n" per line (LF, unlike the wire's CRLF), which is
// what AWS's published example signs.
func (d *chunkDecoder) verifyTrailer(lines []trailerLine, sigHex string) error {
	if sigHex == "" {
		return fmt.Errorf("sigv4: trailers without %s: %w", trailerSignature, ErrChunkSignatureMismatch)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("sigv4: %s is not 64 hex digits: %w", trailerSignature, ErrMalformedChunk)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.name)
		b.WriteByte(':')
		b.WriteString(l.value)
		b.WriteByte('\n')
	}
	if !hmac.Equal(d.cfg.signer.trailer(b.String()), sig) {
		return fmt.Errorf("sigv4: trailer: %w", ErrChunkSignatureMismatch)
	}
	return nil
}

// readLine returns one CRLF-terminated line without its CRLF, or io.EOF when
// the body ends cleanly before the line starts.
func (d *chunkDecoder) readLine() ([]byte, error) {
	line, err := d.br.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("sigv4: chunk line longer than %d bytes: %w", readBufferSize, ErrMalformedChunk)
	case err == io.EOF && len(line) == 0:
		return nil, io.EOF
	default:
		return nil, readErr(err, "chunk line")
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("sigv4: chunk line not terminated by CRLF: %w", ErrMalformedChunk)
	}
	return line[:len(line)-2], nil
}

// readTrailerLine reads a trailer line ended by CRLF or, as minio-go sends
// it, by the LF of the canonical trailer followed by a CRLF.
func (d *chunkDecoder) readTrailerLine() ([]byte, error) {
	line, err := d.br.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("sigv4: trailer line longer than %d bytes: %w", readBufferSize, ErrMalformedChunk)
	case err == io.EOF && len(line) == 0:
		return nil, io.EOF
	default:
		return nil, readErr(err, "trailer line")
	}
	if len(line) >= 2 && line[len(line)-2] == '\r' {
		return line[:len(line)-2], nil
	}
	if len(line) == 1 {
		return nil, fmt.Errorf("sigv4: empty trailer line not terminated by CRLF: %w", ErrMalformedChunk)
	}
	// line aliases the reader's buffer, which Peek may refill: copy first.
	line = append([]byte(nil), line[:len(line)-1]...)
	if next, err := d.br.Peek(2); err == nil && string(next) == "\r\n" {
		_, _ = d.br.Discard(2)
	}
	return line, nil
}

func (d *chunkDecoder) expectCRLF() error {
	for _, want := range []byte("\r\n") {
		c, err := d.br.ReadByte()
		if err != nil {
			return readErr(err, "chunk terminator")
		}
		if c != want {
			return fmt.Errorf("sigv4: chunk data not followed by CRLF: %w", ErrMalformedChunk)
		}
	}
	return nil
}

// readErr turns a short body into ErrIncompleteBody and keeps transport errors.
func readErr(err error, what string) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("sigv4: body ended inside %s: %w", what, ErrIncompleteBody)
	}
	return fmt.Errorf("sigv4: read %s: %w", what, err)
}

// parseChunkHeader parses "hex-size[;ext]..." and, when signed, the 32-byte
// chunk signature.
func parseChunkHeader(line []byte, signed bool) (int64, []byte, error) {
	sizeStr, exts, _ := strings.Cut(string(line), ";")
	if sizeStr == "" || len(sizeStr) > 16 {
		return 0, nil, fmt.Errorf("sigv4: chunk size %q: %w", truncate(sizeStr), ErrMalformedChunk)
	}
	size, err := strconv.ParseUint(sizeStr, 16, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("sigv4: chunk size %q: %w", truncate(sizeStr), ErrMalformedChunk)
	}
	if !signed {
		// Unsigned chunks stream through, so their size costs no memory:
		// the AWS SDK for Go sends a whole seekable body as one chunk over
		// HTTPS. The declared decoded length still bounds it.
		if size > 1<<62 {
			return 0, nil, fmt.Errorf("sigv4: chunk size %d: %w", size, ErrMalformedChunk)
		}
		return int64(size), nil, nil
	}
	if size > MaxChunkSize {
		return 0, nil, fmt.Errorf("sigv4: chunk size %d over %d: %w", size, MaxChunkSize, ErrMalformedChunk)
	}
	var sig []byte
	for ext := range strings.SplitSeq(exts, ";") {
		v, ok := strings.CutPrefix(ext, chunkSigPrefix)
		if !ok {
			continue
		}
		if sig != nil {
			return 0, nil, fmt.Errorf("sigv4: repeated chunk-signature: %w", ErrMalformedChunk)
		}
		sig, err = hex.DecodeString(v)
		if err != nil || len(sig) != sha256.Size {
			return 0, nil, fmt.Errorf("sigv4: chunk-signature is not 64 hex digits: %w", ErrMalformedChunk)
		}
	}
	if sig == nil {
		return 0, nil, fmt.Errorf("sigv4: signed chunk without chunk-signature: %w", ErrMalformedChunk)
	}
	return int64(size), sig, nil
}
