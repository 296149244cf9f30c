package gateway

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Server-side encryption headers and the algorithms a record names.
const (
	hdrSSE         = "X-Amz-Server-Side-Encryption"
	hdrSSEKMSKeyID = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	hdrSSEContext  = "X-Amz-Server-Side-Encryption-Context"
	hdrSSEBucketKy = "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"
	// SSE-C headers; the copy-source variants carry the same suffixes.
	hdrSSECPrefix     = "X-Amz-Server-Side-Encryption-Customer-"
	hdrCopySSECPrefix = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-"

	// AlgAES256 is SSE-S3 in requests and records, and the SSE-C
	// algorithm in requests.
	AlgAES256 = "AES256"
	// AlgKMS is SSE-KMS.
	AlgKMS = "aws:kms"
	// AlgKMSDSSE is dual-layer SSE-KMS, which Cairn does not implement.
	AlgKMSDSSE = "aws:kms:dsse"
	// AlgSSEC marks records encrypted with a customer key.
	AlgSSEC = "SSE-C"
)

// errNoManagedKeys: SSE-S3 or SSE-KMS asked of a gateway without keys.
var errNoManagedKeys = s3err.NotImplemented.WithMessage("Server-side encryption with server-managed keys is not configured on this server.")

// Messages of the SSE-C request checks, as AWS words them.
const (
	msgSSECNoAlgorithm = "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
	msgSSECNoKey       = "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
	msgSSECNoKeyMD5    = "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
	msgSSECBadKey      = "The secret key was invalid for the specified algorithm."
	msgSSECKeyMD5      = "The calculated MD5 hash of the key did not match the hash that was provided."
	msgSSECConflict    = "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
	msgSSECMissing     = "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
	msgSSECNotApplies  = "The encryption parameters are not applicable to this object."
	msgKMSHeaders      = "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
	msgSSEUnsupported  = "The encryption method specified is not supported"
	msgKMSContext      = "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"
)

// customerKey is a verified SSE-C key of a request.
type customerKey struct {
	key []byte
	md5 string // base64, as exchanged
}

// parseCustomerKey reads the SSE-C headers with the given prefix (the
// object's or the copy source's). It returns nil when none is present.
func parseCustomerKey(h http.Header, prefix string) (*customerKey, error) {
	alg := h.Get(prefix + "Algorithm")
	key := h.Get(prefix + "Key")
	sum := h.Get(prefix + "Key-Md5")
	switch {
	case alg == "" && key == "" && sum == "":
		return nil, nil
	case alg == "":
		return nil, s3err.InvalidArgument.WithMessage(msgSSECNoAlgorithm)
	case alg != AlgAES256:
		return nil, s3err.InvalidEncryptionAlgorithmError
	case key == "":
		return nil, s3err.InvalidArgument.WithMessage(msgSSECNoKey)
	case sum == "":
		return nil, s3err.InvalidArgument.WithMessage(msgSSECNoKeyMD5)
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != sse.KeySize {
		return nil, s3err.InvalidArgument.WithMessage(msgSSECBadKey)
	}
	want := sse.CustomerKeyMD5(raw)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sum)) != 1 {
		return nil, s3err.InvalidArgument.WithMessage(msgSSECKeyMD5)
	}
	return &customerKey{key: raw, md5: want}, nil
}

// encrypter is the encryption of one body being written. A nil *encrypter
// writes the body in the clear; every method accepts it.
type encrypter struct {
	rec     *metapb.Encryption
	dataKey []byte
	// sentContext is the x-amz-server-side-encryption-context header as
	// sent, echoed by the PUT response.
	sentContext string
	plainMD5    hash.Hash
}

// newEncrypter decides how a new object is encrypted: by the request's SSE
// headers, else by the bucket's default encryption, else not at all. It
// draws a fresh data key and wraps it. It reads only headers, so it runs
// before the body is touched.
func (g *Gateway) newEncrypter(h http.Header, bucket *metapb.Bucket) (*encrypter, error) {
	ck, err := parseCustomerKey(h, hdrSSECPrefix)
	if err != nil {
		return nil, err
	}
	alg := h.Get(hdrSSE)
	keyID, hasKeyID := h.Get(hdrSSEKMSKeyID), h.Get(hdrSSEKMSKeyID) != ""
	ctxB64 := h.Get(hdrSSEContext)
	bucketKey, err := parseBucketKeyHeader(h)
	if err != nil {
		return nil, err
	}
	switch {
	case ck != nil && alg != "":
		return nil, s3err.InvalidArgument.WithMessage(msgSSECConflict)
	case (hasKeyID || ctxB64 != "") && alg != AlgKMS:
		return nil, s3err.InvalidArgument.WithMessage(msgKMSHeaders)
	}
	if ck != nil {
		return newCustomerEncrypter(ck)
	}
	if alg == "" {
		def := bucket.GetEncryption()
		if def == nil {
			return nil, nil
		}
		alg, keyID = def.GetAlgorithm(), def.GetKmsKeyId()
		if bucketKey == nil {
			bk := def.GetBucketKeyEnabled()
			bucketKey = &bk
		}
	}
	switch alg {
	case AlgAES256:
		return g.newS3Encrypter()
	case AlgKMS:
		return g.newKMSEncrypter(keyID, ctxB64, bucketKey != nil && *bucketKey)
	case AlgKMSDSSE:
		return nil, s3err.NotImplemented.WithMessage("Dual-layer server-side encryption (aws:kms:dsse) is not implemented.")
	default:
		return nil, s3err.InvalidArgument.WithMessage(msgSSEUnsupported)
	}
}

func parseBucketKeyHeader(h http.Header) (*bool, error) {
	v := h.Get(hdrSSEBucketKy)
	if v == "" {
		return nil, nil
	}
	switch strings.ToLower(v) {
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	}
	return nil, s3err.InvalidArgument.WithMessage("The x-amz-server-side-encryption-bucket-key-enabled header must be true or false.")
}

func newEncrypterRecord(alg string, dataKey, wrapped []byte) *encrypter {
	return &encrypter{
		rec: &metapb.Encryption{
			Algorithm:   alg,
			WrappedKey:  wrapped,
			PackageSize: uint32(sse.DefaultPackageSize),
			Nonce:       sse.NewNonce(),
		},
		dataKey:  dataKey,
		plainMD5: md5.New(),
	}
}

func newCustomerEncrypter(ck *customerKey) (*encrypter, error) {
	dk := sse.NewDataKey()
	wrapped, err := sse.WrapCustomer(ck.key, dk)
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	e := newEncrypterRecord(AlgSSEC, dk, wrapped)
	e.rec.CustomerKeyMd5 = ck.md5
	return e, nil
}

func (g *Gateway) newS3Encrypter() (*encrypter, error) {
	if !g.cfg.Keyring.HasMaster() {
		return nil, errNoManagedKeys
	}
	dk := sse.NewDataKey()
	wrapped, err := g.cfg.Keyring.WrapS3(dk)
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	e := newEncrypterRecord(AlgAES256, dk, wrapped)
	e.rec.KeyId = sse.MasterKeyID
	return e, nil
}

func (g *Gateway) newKMSEncrypter(keyName, ctxB64 string, bucketKey bool) (*encrypter, error) {
	if len(g.cfg.Keyring.KMSKeyIDs()) == 0 {
		return nil, errNoManagedKeys
	}
	id, err := g.cfg.Keyring.ResolveKMSKey(keyName)
	if err != nil {
		return nil, err
	}
	kctx, err := parseKMSContext(ctxB64)
	if err != nil {
		return nil, err
	}
	dk := sse.NewDataKey()
	wrapped, err := g.cfg.Keyring.WrapKMS(id, kctx, dk)
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	e := newEncrypterRecord(AlgKMS, dk, wrapped)
	e.rec.KeyId = id
	e.rec.KmsContext = kctx
	e.rec.BucketKeyEnabled = bucketKey
	e.sentContext = ctxB64
	return e, nil
}

// parseKMSContext decodes the encryption context header: base64 of a JSON
// object whose values are strings. The JSON is kept as sent and bound to
// the wrapped key.
func parseKMSContext(b64 string) (string, error) {
	if b64 == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !utf8.Valid(raw) {
		return "", s3err.InvalidArgument.WithMessage(msgKMSContext)
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", s3err.InvalidArgument.WithMessage(msgKMSContext)
	}
	return string(raw), nil
}

// wrap returns the stored form of the plaintext read from src, hashing the
// plaintext on the way for the ETag.
func (e *encrypter) wrap(src io.Reader) (io.Reader, error) {
	if e == nil {
		return src, nil
	}
	return sse.Layout{PackageSize: int(e.rec.GetPackageSize())}.NewEncryptReader(io.TeeReader(src, e.plainMD5), e.dataKey, e.rec.GetNonce())
}

// storedSize is the stored length of a plaintext of size bytes.
func (e *encrypter) storedSize(size int64) int64 {
	if e == nil {
		return size
	}
	return sse.Layout{PackageSize: int(e.rec.GetPackageSize())}.EncryptedSize(size)
}

// md5 is the MD5 of the plaintext: the ETag, and what Content-MD5 is
// checked against. The store hashed the ciphertext, so an encrypted body
// uses the hash taken before encryption.
func (e *encrypter) md5(stored *objio.Body) []byte {
	if e == nil {
		return stored.MD5
	}
	return e.plainMD5.Sum(nil)
}

// record is what the version stores about the encryption; nil for none.
func (e *encrypter) record() *metapb.Encryption {
	if e == nil {
		return nil
	}
	return e.rec
}

// setPutHeaders adds the encryption headers of a PUT response.
func (e *encrypter) setPutHeaders(h http.Header) {
	if e == nil {
		return
	}
	setEncryptionHeaders(h, e.rec)
	if e.sentContext != "" {
		h.Set(hdrSSEContext, e.sentContext)
	}
}

// setEncryptionHeaders adds the headers AWS returns for an encrypted
// object on PUT, GET and HEAD.
func setEncryptionHeaders(h http.Header, enc *metapb.Encryption) {
	switch enc.GetAlgorithm() {
	case AlgAES256:
		h.Set(hdrSSE, AlgAES256)
	case AlgKMS:
		h.Set(hdrSSE, AlgKMS)
		h.Set(hdrSSEKMSKeyID, enc.GetKeyId())
		if enc.GetBucketKeyEnabled() {
			h.Set(hdrSSEBucketKy, "true")
		}
	case AlgSSEC:
		h.Set(hdrSSECPrefix+"Algorithm", AlgAES256)
		h.Set(hdrSSECPrefix+"Key-Md5", enc.GetCustomerKeyMd5())
	}
}

// decrypter reads the plaintext of one encrypted body.
type decrypter struct {
	layout  sse.Layout
	dataKey []byte
	nonce   []byte
}

// newDecrypter checks a GET or HEAD against the object's encryption and
// recovers its data key: an SSE-C object needs the customer key (400
// without it, 403 with another), and SSE-C headers on any other object are
// refused, as AWS does. It returns nil for an unencrypted body.
func (g *Gateway) newDecrypter(h http.Header, enc *metapb.Encryption) (*decrypter, error) {
	ck, err := parseCustomerKey(h, hdrSSECPrefix)
	if err != nil {
		return nil, err
	}
	return g.decrypterFor(ck, enc)
}

func (g *Gateway) decrypterFor(ck *customerKey, enc *metapb.Encryption) (*decrypter, error) {
	if enc.GetAlgorithm() == "" {
		if ck != nil {
			return nil, s3err.InvalidRequest.WithMessage(msgSSECNotApplies)
		}
		return nil, nil
	}
	dk, err := g.unwrapDataKey(ck, enc)
	if err != nil {
		return nil, err
	}
	l := sse.Layout{PackageSize: int(enc.GetPackageSize())}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("object encryption record: %w", err)
	}
	return &decrypter{layout: l, dataKey: dk, nonce: enc.GetNonce()}, nil
}

// unwrapDataKey recovers the data key of an encryption record, given the
// request's customer key for SSE-C. Multipart parts share their upload's
// data key, each with its own nonce.
func (g *Gateway) unwrapDataKey(ck *customerKey, enc *metapb.Encryption) ([]byte, error) {
	switch enc.GetAlgorithm() {
	case AlgSSEC:
		if ck == nil {
			return nil, s3err.InvalidRequest.WithMessage(msgSSECMissing)
		}
		if subtle.ConstantTimeCompare([]byte(ck.md5), []byte(enc.GetCustomerKeyMd5())) != 1 {
			return nil, s3err.AccessDenied
		}
		dk, err := sse.UnwrapCustomer(ck.key, enc.GetWrappedKey())
		if errors.Is(err, sse.ErrUnwrap) {
			return nil, fmt.Errorf("%w: %w", s3err.AccessDenied, err)
		}
		return dk, err
	case AlgAES256, AlgKMS:
		if ck != nil {
			return nil, s3err.InvalidRequest.WithMessage(msgSSECNotApplies)
		}
		var dk []byte
		var err error
		if enc.GetAlgorithm() == AlgAES256 {
			dk, err = g.cfg.Keyring.UnwrapS3(enc.GetWrappedKey(), enc.GetKeyId())
		} else {
			dk, err = g.cfg.Keyring.UnwrapKMS(enc.GetKeyId(), enc.GetKmsContext(), enc.GetWrappedKey())
		}
		if err != nil {
			// The record names a key the keyring cannot provide: a
			// server misconfiguration, not the client's fault.
			return nil, fmt.Errorf("unwrap data key (%s, key %q): %w", enc.GetAlgorithm(), enc.GetKeyId(), err)
		}
		return dk, nil
	default:
		return nil, fmt.Errorf("object encrypted with unknown algorithm %q", enc.GetAlgorithm())
	}
}

// readBody writes plaintext bytes [off, off+n) of v to w, decrypting when
// dec is not nil: only the packages that hold the range are read.
func (g *Gateway) readBody(ctx context.Context, v *metapb.ObjectVersion, dec *decrypter, off, n int64, w io.Writer) error {
	if dec == nil {
		return g.cfg.Bodies.ReadBody(ctx, v, off, n, w)
	}
	if len(v.GetParts()) > 0 {
		return g.readEncryptedParts(ctx, v, dec, off, n, w)
	}
	sOff, sLen, err := dec.layout.PlainRangeToStored(off, n, v.GetSize())
	if err != nil {
		return err
	}
	dw, err := dec.layout.NewDecryptWriter(w, dec.dataKey, dec.nonce, v.GetSize(), off, n)
	if err != nil {
		return err
	}
	if err := g.cfg.Bodies.ReadBody(ctx, v, sOff, sLen, dw); err != nil {
		return err
	}
	return dw.Close()
}

// partEncrypter encrypts one part of a multipart upload whose
// CreateMultipartUpload chose upload (the template's encryption; nil for
// none): the part shares the upload's data key under a nonce of its own,
// and its record (PartInfo.encryption) carries both. For SSE-C uploads the
// request must carry the upload's customer key, as AWS requires on
// UploadPart. A part is read back with newDecrypter on the part's record.
func (g *Gateway) partEncrypter(h http.Header, upload *metapb.Encryption) (*encrypter, error) {
	ck, err := parseCustomerKey(h, hdrSSECPrefix)
	if err != nil {
		return nil, err
	}
	if upload.GetAlgorithm() == "" {
		if ck != nil {
			return nil, s3err.InvalidRequest.WithMessage(msgSSECNotApplies)
		}
		return nil, nil
	}
	dk, err := g.unwrapDataKey(ck, upload)
	if err != nil {
		return nil, err
	}
	rec := proto.Clone(upload).(*metapb.Encryption)
	rec.Nonce = sse.NewNonce()
	rec.PackageSize = uint32(sse.DefaultPackageSize)
	return &encrypter{rec: rec, dataKey: dk, plainMD5: md5.New()}, nil
}
