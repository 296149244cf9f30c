// Package sse implements Cairn's server-side encryption of object bodies:
// a versioned, streaming, seekable ciphertext format and the wrapping of
// per-object data keys under a master key, a key-ring (KMS) key or a
// customer-provided key.
//
// # Body format (version 1)
//
// The plaintext is cut into packages of PackageSize bytes (the last one may
// be shorter; an empty body is one empty package). Each package is sealed
// on its own with AES-256-GCM under the object's random 256-bit data key:
//
//	stored = seal(p0) || seal(p1) || ... || seal(pN-1), each seal adds Overhead bytes
//	nonce(i) = object nonce (8 random bytes) || uint32 big-endian i
//	aad(i)   = format version || uint64 big-endian i || final flag
//
// Because every package stands alone, a ranged read fetches and opens only
// the packages that hold the range (Layout.PlainRangeToStored). Binding the
// index and the final flag into the authenticated data means that packages
// cannot be reordered, duplicated or dropped, and the stream cannot be
// truncated at a package boundary, without Open failing.
//
// # Keys
//
// Data keys never leave the gateway in the clear. A Keyring wraps them with
// AES-256-GCM under the cluster master key (SSE-S3) or a named key-ring key
// (SSE-KMS, with the encryption context bound as additional data);
// WrapCustomer wraps them under a key derived from an SSE-C customer key,
// which itself is never stored.
//
// The package is pure: it does no I/O beyond the readers and writers it is
// handed, and its only randomness is crypto/rand in NewDataKey and NewNonce.
package sse
