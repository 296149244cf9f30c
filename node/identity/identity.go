// Package identity holds what Cairn knows about who signs a request: the
// canonical user IDs that own buckets and objects, generated access keys
// and secrets, and the sealing of user secrets under the cluster master key.
//
// Secrets are stored by the meta group only in sealed form: AES-256-GCM
// under a key derived from the master key with HKDF-SHA256, the access key
// as additional data (a sealed secret cannot be moved to another user), and
// a version byte in front so the format can change. Whoever creates users
// (the admin command) seals; whoever verifies signatures (the gateway)
// opens. The meta group never sees a secret in the clear.
//
// Imports: nothing from Cairn. The package does no I/O; it reads the system
// random source only to generate keys and nonces.
package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the length of the cluster master key in bytes.
const MasterKeySize = 32

// sealFormat is the first byte of every sealed secret.
const sealFormat byte = 1

// hkdfInfo separates the user-secret key from any other key derived from
// the same master key (for example for server-side encryption).
const hkdfInfo = "cairn user secret v1"

var (
	// ErrInvalidMasterKey marks a master key of the wrong size or encoding.
	ErrInvalidMasterKey = errors.New("identity: invalid master key")
	// ErrUnseal marks a sealed secret that does not open: another master
	// key, another user, or damaged bytes.
	ErrUnseal = errors.New("identity: sealed secret does not open")
)

// ParseMasterKey decodes a base64 (standard or URL alphabet, padded or not)
// master key of MasterKeySize bytes.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != MasterKeySize {
				return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidMasterKey, len(k), MasterKeySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: not base64", ErrInvalidMasterKey)
}

// NewMasterKey returns a random master key.
func NewMasterKey() []byte {
	k := make([]byte, MasterKeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}

// RootCanonicalID is the fixed canonical ID of the root identity: a hash of
// its access key, so every gateway of a cluster derives the same one.
func RootCanonicalID(accessKey string) string {
	sum := sha256.Sum256([]byte("cairn root\x00" + accessKey))
	return hex.EncodeToString(sum[:])
}

// NewCanonicalID returns a random canonical user ID: 64 hex digits, the
// shape of S3's.
func NewCanonicalID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidCanonicalID reports whether id has the shape of a canonical ID.
func ValidCanonicalID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// NewAccessKey returns a random 20-character access key starting with
// "CAIRN", the length of AWS's.
func NewAccessKey() string { return "CAIRN" + randomString(15, upperAlnum) }

// NewSecretKey returns a random 40-character secret key, the length of
// AWS's.
func NewSecretKey() string { return randomString(40, secretAlphabet) }

// randomString draws n characters uniformly from alphabet (at most 256).
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// Sealer seals and opens user secrets. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the secret-sealing key from masterKey.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidMasterKey, len(masterKey), MasterKeySize)
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("identity: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("identity: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("identity: gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts the secret of accessKey: format byte, nonce, ciphertext.
func (s *Sealer) Seal(accessKey, secret string) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	out[0] = sealFormat
	_, _ = rand.Read(out[1:])
	nonce := out[1 : 1+s.aead.NonceSize()]
	return s.aead.Seal(out, nonce, []byte(secret), additionalData(accessKey))
}

// Open decrypts a secret sealed for accessKey; failures wrap ErrUnseal.
func (s *Sealer) Open(accessKey string, sealed []byte) (string, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+ns+s.aead.Overhead() || sealed[0] != sealFormat {
		return "", fmt.Errorf("%w: %q: unknown format or truncated", ErrUnseal, accessKey)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], additionalData(accessKey))
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrUnseal, accessKey, err)
	}
	return string(plain), nil
}

func additionalData(accessKey string) []byte { return []byte("cairn user\x00" + accessKey) }

// checkInfo separates the key of the master key check value from every
// other key derived from the master key.
const checkInfo = "cairn master key check v1"

// checkLabel is the message the check value authenticates.
const checkLabel = "cairn master key check"

// KeyCheckValue derives the check value of masterKey: HMAC-SHA256 of a
// fixed label under a key derived with HKDF. It identifies the key without
// revealing it, so the meta group can record it and every process that
// seals or unseals with a master key can learn whether it has the
// cluster's.
func KeyCheckValue(masterKey []byte) ([]byte, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidMasterKey, len(masterKey), MasterKeySize)
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, checkInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("identity: derive key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(checkLabel))
	return mac.Sum(nil), nil
}
