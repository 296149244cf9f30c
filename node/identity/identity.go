// Package identity holds what Cairn knows about who signs a request: the
// canonical user IDs that own buckets and objects, generated access keys
// and secrets, and the sealing of user secrets under the cluster master key.
//
// Secrets are stored by the meta group only in sealed form: AES-256-GCM
// under a key derived from the master key with HKDF-SHA256, the access key
// as additional data (a sealed secret cannot be moved to another user), and
// a format byte in front. Format 2 (node/keyseal) tags each sealing with
// the ID of its master key and may hold sealings under two keys while the
// master key is rotated; format 1 (no key ID) is still read. Whoever creates users
// (the admin command) seals; whoever verifies signatures (the gateway)
// opens. The meta group never sees a secret in the clear.
//
// Imports: node/keyseal only. The package does no I/O; it reads the system
// random source only to generate keys and nonces.
package identity

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-io/cairn/node/keyseal"
)

// MasterKeySize is the length of the cluster master key in bytes.
const MasterKeySize = 32

// legacySealFormat is the first byte of a format 1 sealed secret.
const legacySealFormat byte = 1

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

// Keys are the master keys a process holds: the current one and, during a
// master key rotation, the previous one.
type Keys struct {
	Current []byte
	// Previous, optional, is still accepted for opening.
	Previous []byte
	// SealPrevious seals new values under Previous too (besides Current),
	// so that processes still running with the previous key can open them:
	// set while a rotation is in progress.
	SealPrevious bool
}

// Sealer seals and opens user secrets. It is safe for concurrent use.
//
// Format 2 (written): a keyseal envelope (key IDs, one sealing per key).
// Format 1 (read only): format byte, nonce, ciphertext under the derived
// key of one master key, without a key ID; it is tried under every key.
type Sealer struct {
	ring *keyseal.Ring
	seal []keyseal.ID
}

// NewSealer derives the secret-sealing key from masterKey.
func NewSealer(masterKey []byte) (*Sealer, error) {
	return NewSealerKeys(Keys{Current: masterKey})
}

// NewSealerKeys derives the secret-sealing keys from the master keys k.
func NewSealerKeys(k Keys) (*Sealer, error) {
	masters := [][]byte{k.Current}
	if k.Previous != nil {
		masters = append(masters, k.Previous)
	}
	var ks []keyseal.Key
	for _, mk := range masters {
		if len(mk) != MasterKeySize {
			return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidMasterKey, len(mk), MasterKeySize)
		}
		id, err := keyseal.MasterID(mk)
		if err != nil {
			return nil, err
		}
		key, err := hkdf.Key(sha256.New, mk, nil, hkdfInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("identity: derive key: %w", err)
		}
		sk, err := keyseal.NewKey(id, key)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		ks = append(ks, sk)
	}
	ring, err := keyseal.NewRing(ks...)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	s := &Sealer{ring: ring, seal: []keyseal.ID{ring.Current()}}
	if k.SealPrevious && len(ks) > 1 {
		s.seal = ring.IDs()
	}
	return s, nil
}

// Seal encrypts the secret of accessKey (format 2).
func (s *Sealer) Seal(accessKey, secret string) []byte {
	out, err := s.ring.Seal([]byte(secret), additionalData(accessKey), s.seal...)
	if err != nil {
		// Only a secret longer than 64 KiB fails, and secrets are
		// generated 40 characters long.
		panic(fmt.Sprintf("identity: seal: %v", err))
	}
	return out
}

// Open decrypts a secret sealed for accessKey, in either format, under any
// of the sealer's keys; failures wrap ErrUnseal.
func (s *Sealer) Open(accessKey string, sealed []byte) (string, error) {
	if keyseal.IsLegacy(sealed) {
		for _, k := range s.ring.Keys() {
			if plain, err := openV1(k, accessKey, sealed); err == nil {
				return string(plain), nil
			}
		}
		return "", fmt.Errorf("%w: %q: format 1 value opens under none of the keys", ErrUnseal, accessKey)
	}
	plain, err := s.ring.Open(sealed, additionalData(accessKey))
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrUnseal, accessKey, err)
	}
	return string(plain), nil
}

// Reseal returns sealed re-encrypted for a rotation: under the current and
// previous keys when finish is false, under the current key only when it is
// true. changed is false when sealed already has exactly those sealings.
func (s *Sealer) Reseal(accessKey string, sealed []byte, finish bool) (out []byte, changed bool, err error) {
	target := s.ring.IDs()
	if finish {
		target = target[:1]
	}
	if keyseal.SealedUnder(sealed, target) {
		return sealed, false, nil
	}
	plain, err := s.Open(accessKey, sealed)
	if err != nil {
		return nil, false, err
	}
	out, err = s.ring.Seal([]byte(plain), additionalData(accessKey), target...)
	if err != nil {
		return nil, false, fmt.Errorf("identity: reseal %q: %w", accessKey, err)
	}
	return out, true, nil
}

func openV1(k keyseal.Key, accessKey string, sealed []byte) ([]byte, error) {
	ns := k.AEAD.NonceSize()
	if len(sealed) < 1+ns+k.AEAD.Overhead() || sealed[0] != legacySealFormat {
		return nil, errors.New("truncated")
	}
	return k.AEAD.Open(nil, sealed[1:1+ns], sealed[1+ns:], additionalData(accessKey))
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
