package gateway

import (
	"net/http"

	"github.com/cairn-io/cairn/proto/metapb"
)

// Server-side encryption of copies. The source of a CopyObject or
// UploadPartCopy is decrypted on the gateway as a GET would decrypt it:
// SSE-S3 and SSE-KMS transparently, SSE-C only with the key given in the
// x-amz-copy-source-server-side-encryption-customer-* headers. The
// destination is encrypted as a PUT (CopyObject: request headers, else the
// bucket's default, else not at all) or as an UploadPart of its upload
// (UploadPartCopy) would be. Plaintext only exists in the gateway's
// memory, a pipe buffer at a time.

// copySourceDecrypter checks the copy-source SSE-C headers of a request
// against the source's encryption and recovers its data key: an SSE-C
// source needs its key (400 without it, 403 with another one), and a key
// for any other source is refused. It returns nil for a plaintext source.
func (g *Gateway) copySourceDecrypter(h http.Header, src *metapb.Encryption) (*decrypter, error) {
	ck, err := parseCustomerKey(h, hdrCopySSECPrefix)
	if err != nil {
		return nil, err
	}
	return g.decrypterFor(ck, src)
}

// selfCopyChangesEncryption reports whether a copy of an object onto
// itself changes its encryption, which makes the copy legal as in S3: the
// request names an encryption for the copy (SSE-S3, SSE-KMS or a customer
// key: re-encryption, key rotation), it carries the key of an SSE-C source
// (whose encryption the copy replaces or drops), or the bucket's default
// encryption differs from the object's. An encrypted object copied onto
// itself without any of these stays refused rather than being silently
// decrypted.
func selfCopyChangesEncryption(h http.Header, src *metapb.Encryption, enc *encrypter) bool {
	if h.Get(hdrSSE) != "" || h.Get(hdrSSECPrefix+"Algorithm") != "" || h.Get(hdrCopySSECPrefix+"Algorithm") != "" {
		return true
	}
	return enc != nil && encryptionChanges(src, enc.record())
}

// encryptionChanges reports whether encryption to differs in its
// attributes from from: another algorithm, another KMS key, context or
// bucket-key setting, or another customer key.
func encryptionChanges(from, to *metapb.Encryption) bool {
	if from.GetAlgorithm() != to.GetAlgorithm() {
		return true
	}
	switch to.GetAlgorithm() {
	case AlgKMS:
		return from.GetKeyId() != to.GetKeyId() || from.GetBucketKeyEnabled() != to.GetBucketKeyEnabled() ||
			from.GetKmsContext() != to.GetKmsContext()
	case AlgSSEC:
		return from.GetCustomerKeyMd5() != to.GetCustomerKeyMd5()
	}
	return false
}
