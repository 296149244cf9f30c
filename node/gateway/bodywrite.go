package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// errStoredLength marks a store that kept a different number of bytes
// than the source supplied.
var errStoredLength = errors.New("gateway: stored length differs from the source's")

// bodySource is where a stored body comes from: a client's request body
// or an object being copied server-side.
type bodySource interface {
	io.Reader
	// end completes the source once the store has returned, with the
	// store's error if any: a client body is drained (its signature and
	// trailing checksum are verified only at its end), a copy's reader is
	// joined. The error says which side failed.
	end(ctx context.Context, werr error) error
	// n is the number of plaintext bytes the source supplied.
	n() int64
}

// bodyWrite is one body to store and what it must match.
type bodyWrite struct {
	src bodySource
	// size is the plaintext length; -1 when only the end of the source
	// tells (a POST form's file), then checked against post.
	size      int64
	post      *postLimits
	profile   erasure.Profile
	inlineMax int64
	// enc encrypts what is stored; nil stores plaintext.
	enc *encrypter
	// algs are checksums to compute over the plaintext (besides sent's).
	algs []checksum.Algorithm
	// wantMD5 (Content-MD5) and sent (x-amz-checksum-*) are the digests
	// the client declared; nil when it declared none.
	wantMD5 []byte
	sent    *sentChecksum
	// phaseStart, when set, has the body phase observed when the store
	// returns.
	phaseStart *time.Time
}

// writeVerified is the one "write, verify or clean up" phase of every
// request that stores a body (PutObject and POST Object, UploadPart,
// CopyObject and UploadPartCopy): it streams the source into durable
// shards, completes the source, and checks the stored length and the
// digests the client declared. On any failure after shards exist it
// deletes them, so what it returns is a body ready to commit and nothing
// else is left behind. The plaintext size is in the result's size.
func (g *Gateway) writeVerified(ctx context.Context, rq *request, w bodyWrite) (*hashedBody, error) {
	algs := w.algs
	if w.sent != nil {
		algs = append(algs[:len(algs):len(algs)], w.sent.alg)
	}
	stored, err := g.writeHashed(ctx, w.src, w.size, w.profile, w.inlineMax, w.enc, algs...)
	if err == nil && w.phaseStart != nil {
		g.metrics.phase(phaseBody, w.phaseStart)
	}
	if err := w.src.end(ctx, err); err != nil {
		if stored != nil {
			g.deleteBody(ctx, rq, stored.Body)
		}
		return nil, err
	}
	if err := verifyBody(stored, w); err != nil {
		g.deleteBody(ctx, rq, stored.Body)
		return nil, err
	}
	return stored, nil
}

// verifyBody checks a stored body against its source and the client's
// digests, and records its plaintext size.
func verifyBody(stored *hashedBody, w bodyWrite) error {
	stored.size = w.size
	if stored.size < 0 {
		stored.size = w.src.n()
		if w.post != nil {
			if err := w.post.check(stored.size); err != nil {
				return err
			}
		}
	}
	if want := w.enc.storedSize(stored.size); stored.Size != want {
		return fmt.Errorf("write body: stored %d bytes, want %d: %w", stored.Size, want, errStoredLength)
	}
	if w.wantMD5 != nil && !bytes.Equal(stored.plainMD5, w.wantMD5) {
		return s3err.BadDigest.WithMessage("The Content-MD5 you specified did not match what we received.")
	}
	if s := w.sent; s != nil && stored.sums[string(s.alg)] != s.value {
		return s3err.BadDigest.WithMessage(fmt.Sprintf("The %s you specified did not match the calculated checksum.", s.alg))
	}
	return nil
}

// declaredSums adds to sums the checksums the client declared and the
// write phase verified: the x-amz-checksum-* header's and a trailer's
// (the body reader verifies that one at the body's end).
func declaredSums(sums map[string]string, sent *sentChecksum, rq *request) map[string]string {
	if sent != nil {
		sums[string(sent.alg)] = sent.value
	}
	if tc := rq.auth.TrailerChecksum; tc != nil {
		if alg, v := tc(); alg != "" && v != "" {
			sums[string(alg)] = v
		}
	}
	return sums
}

// hashedBody is a body stored with the digests of its plaintext.
type hashedBody struct {
	*objio.Body
	// size is the plaintext length (Body.Size is what was stored).
	size     int64
	plainMD5 []byte
	sums     map[string]string
}

// writeHashed stores r with profile p, encrypted by enc when not nil,
// computing the checksums of algs over the plaintext on the way.
func (g *Gateway) writeHashed(ctx context.Context, r io.Reader, size int64, p erasure.Profile, inlineMax int64, enc *encrypter, algs ...checksum.Algorithm) (*hashedBody, error) {
	hashes := map[checksum.Algorithm]hash.Hash{}
	var ws []io.Writer
	for _, a := range algs {
		if a != "" && hashes[a] == nil {
			hashes[a] = a.New()
			ws = append(ws, hashes[a])
		}
	}
	if len(ws) > 0 {
		r = io.TeeReader(r, io.MultiWriter(ws...))
	}
	src, err := enc.wrap(r)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		size = enc.storedSize(size)
	}
	// An encrypted body's ETag is its plaintext's MD5, which enc hashes:
	// the stored ciphertext is not hashed a second time.
	b, err := g.cfg.Bodies.WriteBody(ctx, src, objio.WriteOptions{Profile: p, Size: size, InlineMax: inlineMax, NoMD5: enc != nil})
	if err != nil {
		return nil, err
	}
	hb := &hashedBody{Body: b, plainMD5: enc.md5(b), sums: map[string]string{}}
	for a, h := range hashes {
		hb.sums[string(a)] = checksum.Encode(h.Sum(nil))
	}
	return hb, nil
}

// setBody points v at its stored body: the shards, or, for a body small
// enough to ride in the record, the bytes themselves.
func setBody(v *metapb.ObjectVersion, b *objio.Body) {
	v.DataId = b.DataID
	if b.IsInline() {
		v.Inline = true
		v.InlineData = b.Inline
		return
	}
	v.Profile = objio.ProfileToProto(b.Profile)
	v.Shards = b.Shards
	v.ShardDigests = b.ShardDigests
	v.UnderSpread = b.UnderSpread
}

// partInfo is the record of a stored multipart part.
func partInfo(n uint32, stored *hashedBody, sums map[string]string, enc *encrypter, now time.Time) *metapb.PartInfo {
	part := &metapb.PartInfo{
		Number:        n,
		Size:          stored.size,
		Etag:          fmt.Sprintf("%x", stored.plainMD5),
		DataId:        stored.DataID,
		Profile:       objio.ProfileToProto(stored.Profile),
		Shards:        stored.Shards,
		ShardDigests:  stored.ShardDigests,
		Checksums:     sums,
		MtimeUnixNano: now.UnixNano(),
		Encryption:    enc.record(),
	}
	if enc != nil {
		part.StoredSize = stored.Size
	}
	return part
}

// commitVersion commits a new version over its durable body. A definite
// refusal from the state machine deletes the body; a failure in transit
// may have committed, and deleting then would lose the object, so the
// body stays for GC to judge.
func (g *Gateway) commitVersion(ctx context.Context, rq *request, put *metapb.PutObject, b *objio.Body) (*metapb.CommandResult, error) {
	res, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_PutObject{PutObject: put}})
	if err != nil {
		var me *s3err.MetaError
		if errors.As(err, &me) {
			g.deleteBody(ctx, rq, b)
		}
		return nil, err
	}
	return res, nil
}

// commitPart records a durable part. A definite refusal (the upload was
// completed or aborted meanwhile) deletes the body; a failure in transit
// may have committed, so the body stays for GC to judge.
func (g *Gateway) commitPart(ctx context.Context, rq *request, uploadID string, part *metapb.PartInfo, b *objio.Body) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_PutPart{PutPart: &metapb.PutPart{
		Bucket: rq.bucket, Key: rq.key, UploadId: uploadID, Part: part,
	}}})
	if err != nil {
		var me *s3err.MetaError
		if errors.As(err, &me) {
			g.deleteBody(ctx, rq, b)
		}
		return err
	}
	return nil
}

// deleteBody removes the shards of a body that will not commit. It is
// best effort: the failure that led here is what the client must see, and
// the orphan sweep reclaims whatever stays behind.
func (g *Gateway) deleteBody(ctx context.Context, rq *request, b *objio.Body) {
	if b.IsInline() {
		return // nothing was stored outside the record
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := g.cfg.Bodies.DeleteBody(ctx, b.DataID, b.Shards); err != nil {
		g.log.Warn("delete shards of failed put", "request_id", rq.id, "data_id", b.DataID, "err", err)
	}
}

// copyReader is the source of a server-side copy: plaintext bytes
// [off, off+length) of a stored object, read (and decrypted) by a
// goroutine into a pipe; end joins it.
type copyReader struct {
	*io.PipeReader
	src    *metapb.ObjectVersion
	length int64
	cancel context.CancelFunc
	done   chan error
}

// startCopy starts reading plaintext bytes [off, off+length) of src,
// decrypting with dec when not nil and reading only the packages that hold
// the range.
func (g *Gateway) startCopy(ctx context.Context, src *metapb.ObjectVersion, dec *decrypter, off, length int64) *copyReader {
	rctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	c := &copyReader{PipeReader: pr, src: src, length: length, cancel: cancel, done: make(chan error, 1)}
	go func() {
		var err error
		if length > 0 {
			err = g.readBody(rctx, src, dec, off, length, pw)
		}
		pw.CloseWithError(err)
		c.done <- err
	}()
	return c
}

func (c *copyReader) end(_ context.Context, werr error) error {
	c.cancel()
	c.PipeReader.CloseWithError(errCopyEnded)
	rerr := <-c.done
	if werr != nil {
		return fmt.Errorf("copy %s/%s: %w", c.src.GetBucket(), c.src.GetKey(), werr)
	}
	if rerr != nil {
		return unavailable(fmt.Sprintf("copy %s/%s", c.src.GetBucket(), c.src.GetKey()), rerr)
	}
	return nil
}

func (c *copyReader) n() int64 { return c.length }

// end implements bodySource for a client's body.
func (e *exactReader) end(ctx context.Context, werr error) error {
	if werr != nil {
		return writeFailure(ctx, e, werr)
	}
	// Drain to EOF: a signed payload's hash, the last chunk signature and
	// a trailing checksum are verified only there.
	if err := e.finish(); err != nil {
		return writeFailure(ctx, e, err)
	}
	return nil
}

func (e *exactReader) n() int64 { return e.read }

// writeFailure explains a failed body write. A failure of the client's
// body (short, disconnected, bad signature or checksum) is the client's
// error, reported as such even though the store saw it first.
func writeFailure(ctx context.Context, body *exactReader, err error) error {
	if body.err != nil {
		err = body.err
		if s3err.FromError(err) == s3err.InternalError {
			return fmt.Errorf("%w: read body: %w", s3err.IncompleteBody, err)
		}
		return fmt.Errorf("read body: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: client went away: %w", s3err.IncompleteBody, err)
	}
	return fmt.Errorf("write body: %w", err)
}
