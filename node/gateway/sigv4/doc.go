// Package sigv4 verifies AWS Signature Version 4 on S3 requests: the
// Authorization header form, the presigned query form, and the aws-chunked
// streaming bodies (signed chunks, signed or unsigned trailers), plus a
// hex x-amz-content-sha256 checked against the body as it streams.
//
// It is pure apart from reading the request body it is handed: no network, no
// disk, and the clock is injected through Verifier.Now. It imports nothing from
// Cairn but node/gateway/checksum.
//
// Invariants:
//   - A body handed to the caller never yields bytes of a signed chunk whose
//     signature has not been verified; each signed chunk is held (at most
//     MaxChunkSize bytes) until its signature checks out.
//   - Every other failure of the body surfaces at the latest at EOF, before the
//     reader reports io.EOF, so a caller that commits only after a clean EOF
//     never commits a body that did not verify.
//   - Every error wraps one of the exported sentinels, for errors.Is.
//
// Lock order: Verifier.mu guards only the signing-key cache and is never held
// while calling out.
package sigv4
