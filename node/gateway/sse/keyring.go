package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-io/cairn/node/keyseal"
)

// wrapVersion is the first byte of every wrapped key.
const wrapVersion = 1

// WrappedKeySize is the length of a data key wrapped under a key-ring key
// or a customer key (and of a format 1 SSE-S3 key): version, GCM nonce,
// sealed key and tag. SSE-S3 keys are now wrapped in a keyseal envelope
// (format 2), which names the master key(s) that wrapped them.
const WrappedKeySize = 1 + 12 + KeySize + 16

// MasterKeyID names the cluster master key in records. Which master key
// wrapped an SSE-S3 data key is told by the wrapped key itself (keyseal
// key IDs), so a rotation does not change the record's key ID.
const MasterKeyID = "master"

// Purposes bound into the authenticated data of a wrapped key, so that a key
// wrapped for one mode can never be unwrapped as another.
const (
	purposeS3       = "cairn/sse-s3/v1"
	purposeKMS      = "cairn/sse-kms/v1"
	purposeCustomer = "cairn/sse-c/v1"
)

// Errors of key handling.
var (
	// ErrNoMasterKey: SSE-S3 was asked for but no master key is configured.
	ErrNoMasterKey = errors.New("sse: no master key configured")
	// ErrNoSuchKMSKey: the named key-ring key does not exist.
	ErrNoSuchKMSKey = errors.New("sse: no such KMS key")
	// ErrUnwrap: a wrapped key does not open under the given key and
	// context (wrong key, wrong context or damaged record).
	ErrUnwrap = errors.New("sse: cannot unwrap data key")
)

// Keyring holds the cluster master key (SSE-S3) and the named key-ring keys
// (SSE-KMS). It is immutable and safe for concurrent use.
type Keyring struct {
	// master holds the master key(s) for SSE-S3: the current one and,
	// during a rotation, the previous one; nil without a master key.
	master     *keyseal.Ring
	masterSeal []keyseal.ID
	kms        map[string]cipher.AEAD
	defaultKMS string
}

// KMSKey is one named key-ring key.
type KMSKey struct {
	ID  string
	Key []byte
}

// NewKeyring returns a keyring. master may be nil (SSE-S3 then fails with
// ErrNoMasterKey); the first KMS key is the default for SSE-KMS requests
// that name none.
func NewKeyring(master []byte, kms []KMSKey) (*Keyring, error) {
	return NewKeyringMasters(MasterKeys{Current: master}, kms)
}

// MasterKeys are the master keys a gateway holds: the current one and,
// during a master key rotation, the previous one.
type MasterKeys struct {
	Current []byte
	// Previous, optional, still unwraps.
	Previous []byte
	// SealPrevious wraps new data keys under Previous too, so that
	// gateways still running with it can read new objects: set while a
	// rotation is in progress.
	SealPrevious bool
}

// NewKeyringMasters is NewKeyring with a previous master key.
func NewKeyringMasters(m MasterKeys, kms []KMSKey) (*Keyring, error) {
	k := &Keyring{kms: map[string]cipher.AEAD{}}
	if m.Current != nil {
		masters := [][]byte{m.Current}
		if m.Previous != nil {
			masters = append(masters, m.Previous)
		}
		var ks []keyseal.Key
		for _, mk := range masters {
			if len(mk) != KeySize {
				return nil, fmt.Errorf("sse: master key: %w: %d bytes, want %d", ErrInvalidKey, len(mk), KeySize)
			}
			id, err := keyseal.MasterID(mk)
			if err != nil {
				return nil, fmt.Errorf("sse: master key: %w", err)
			}
			// The master key itself wraps, as in format 1, so that
			// both formats open with one derivation.
			sk, err := keyseal.NewKey(id, mk)
			if err != nil {
				return nil, fmt.Errorf("sse: master key: %w", err)
			}
			ks = append(ks, sk)
		}
		ring, err := keyseal.NewRing(ks...)
		if err != nil {
			return nil, fmt.Errorf("sse: master key: %w", err)
		}
		k.master = ring
		k.masterSeal = []keyseal.ID{ring.Current()}
		if m.SealPrevious && len(ks) > 1 {
			k.masterSeal = ring.IDs()
		}
	}
	for _, kk := range kms {
		if kk.ID == "" || strings.ContainsAny(kk.ID, "=, \t\n") {
			return nil, fmt.Errorf("%w: KMS key ID %q", ErrInvalidKey, kk.ID)
		}
		if _, dup := k.kms[kk.ID]; dup {
			return nil, fmt.Errorf("%w: KMS key %q given twice", ErrInvalidKey, kk.ID)
		}
		a, err := newAEAD(kk.Key)
		if err != nil {
			return nil, fmt.Errorf("sse: KMS key %q: %w", kk.ID, err)
		}
		k.kms[kk.ID] = a
		if k.defaultKMS == "" {
			k.defaultKMS = kk.ID
		}
	}
	return k, nil
}

// ParseKey decodes a base64 (standard alphabet) 256-bit key.
func ParseKey(b64 string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %w", ErrInvalidKey, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	return key, nil
}

// ParseKMSKeys parses "id=base64,id=base64,..." (the first is the default).
func ParseKMSKeys(spec string) ([]KMSKey, error) {
	var out []KMSKey
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, b64, ok := strings.Cut(item, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("%w: KMS key %q: want id=base64", ErrInvalidKey, item)
		}
		key, err := ParseKey(b64)
		if err != nil {
			return nil, fmt.Errorf("KMS key %q: %w", id, err)
		}
		out = append(out, KMSKey{ID: id, Key: key})
	}
	return out, nil
}

// HasMaster reports whether SSE-S3 is available.
func (k *Keyring) HasMaster() bool { return k != nil && k.master != nil }

// DefaultKMSKey is the ID used when an SSE-KMS request names no key; "" if
// the keyring has none.
func (k *Keyring) DefaultKMSKey() string {
	if k == nil {
		return ""
	}
	return k.defaultKMS
}

// KMSKeyIDs lists the key-ring key IDs, sorted.
func (k *Keyring) KMSKeyIDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, 0, len(k.kms))
	for id := range k.kms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ResolveKMSKey maps the key named in a request to a key-ring ID: "" means
// the default key; a key ARN ("arn:aws:kms:<region>:<account>:key/<id>")
// or "alias/<id>" names the key <id>.
func (k *Keyring) ResolveKMSKey(name string) (string, error) {
	id := name
	if id == "" {
		id = k.DefaultKMSKey()
	}
	if i := strings.LastIndex(id, ":key/"); strings.HasPrefix(id, "arn:") && i >= 0 {
		id = id[i+len(":key/"):]
	} else if i := strings.LastIndex(id, ":alias/"); strings.HasPrefix(id, "arn:") && i >= 0 {
		id = id[i+len(":alias/"):]
	} else if a, ok := strings.CutPrefix(id, "alias/"); ok {
		id = a
	}
	if k == nil || id == "" || k.kms[id] == nil {
		return "", fmt.Errorf("%w: %q", ErrNoSuchKMSKey, name)
	}
	return id, nil
}

// WrapS3 wraps a data key under the master key (and, during a rotation,
// the previous one too).
func (k *Keyring) WrapS3(dataKey []byte) ([]byte, error) {
	if !k.HasMaster() {
		return nil, ErrNoMasterKey
	}
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("%w: data key has %d bytes, want %d", ErrInvalidKey, len(dataKey), KeySize)
	}
	return k.master.Seal(dataKey, aad(purposeS3, MasterKeyID, ""), k.masterSeal...)
}

// UnwrapS3 recovers a data key wrapped by WrapS3 under the master key
// named keyID, in either format, with the current or the previous key.
func (k *Keyring) UnwrapS3(wrapped []byte, keyID string) ([]byte, error) {
	if !k.HasMaster() {
		return nil, ErrNoMasterKey
	}
	if keyID != MasterKeyID {
		return nil, fmt.Errorf("%w: master key %q is not configured", ErrUnwrap, keyID)
	}
	ad := aad(purposeS3, keyID, "")
	if keyseal.IsLegacy(wrapped) {
		for _, mk := range k.master.Keys() {
			if dk, err := unwrap(mk.AEAD, wrapped, ad); err == nil {
				return dk, nil
			}
		}
		return nil, ErrUnwrap
	}
	dk, err := k.master.Open(wrapped, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnwrap, err)
	}
	if len(dk) != KeySize {
		return nil, fmt.Errorf("%w: data key has %d bytes", ErrUnwrap, len(dk))
	}
	return dk, nil
}

// RewrapS3 returns an SSE-S3 wrapped key re-wrapped for a master key
// rotation: under the current and the previous key when finish is false,
// under the current key only when it is true. changed is false when it is
// already wrapped so.
func (k *Keyring) RewrapS3(wrapped []byte, finish bool) (out []byte, changed bool, err error) {
	if !k.HasMaster() {
		return nil, false, ErrNoMasterKey
	}
	target := k.master.IDs()
	if finish {
		target = target[:1]
	}
	if keyseal.SealedUnder(wrapped, target) {
		return wrapped, false, nil
	}
	dk, err := k.UnwrapS3(wrapped, MasterKeyID)
	if err != nil {
		return nil, false, err
	}
	out, err = k.master.Seal(dk, aad(purposeS3, MasterKeyID, ""), target...)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// WrapKMS wraps a data key under the key-ring key id (already resolved),
// binding the encryption context.
func (k *Keyring) WrapKMS(id string, context string, dataKey []byte) ([]byte, error) {
	a := k.kmsKey(id)
	if a == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchKMSKey, id)
	}
	return wrap(a, dataKey, aad(purposeKMS, id, context))
}

// UnwrapKMS recovers a data key wrapped by WrapKMS with the same key and
// context.
func (k *Keyring) UnwrapKMS(id string, context string, wrapped []byte) ([]byte, error) {
	a := k.kmsKey(id)
	if a == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchKMSKey, id)
	}
	return unwrap(a, wrapped, aad(purposeKMS, id, context))
}

func (k *Keyring) kmsKey(id string) cipher.AEAD {
	if k == nil {
		return nil
	}
	return k.kms[id]
}

// CustomerKeyMD5 is the base64 MD5 of an SSE-C key, as S3 exchanges it.
func CustomerKeyMD5(customerKey []byte) string {
	sum := md5.Sum(customerKey)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// WrapCustomer wraps a data key under a key derived from an SSE-C customer
// key. The customer key itself is used for nothing else and never stored.
func WrapCustomer(customerKey, dataKey []byte) ([]byte, error) {
	a, err := customerAEAD(customerKey)
	if err != nil {
		return nil, err
	}
	return wrap(a, dataKey, aad(purposeCustomer, "", ""))
}

// UnwrapCustomer recovers a data key wrapped by WrapCustomer; a different
// customer key fails with ErrUnwrap.
func UnwrapCustomer(customerKey, wrapped []byte) ([]byte, error) {
	a, err := customerAEAD(customerKey)
	if err != nil {
		return nil, err
	}
	return unwrap(a, wrapped, aad(purposeCustomer, "", ""))
}

// customerAEAD derives the wrapping key from a customer key with
// HMAC-SHA256, so that the raw customer key never encrypts anything.
func customerAEAD(customerKey []byte) (cipher.AEAD, error) {
	if len(customerKey) != KeySize {
		return nil, fmt.Errorf("%w: customer key has %d bytes, want %d", ErrInvalidKey, len(customerKey), KeySize)
	}
	m := hmac.New(sha256.New, customerKey)
	m.Write([]byte(purposeCustomer))
	return newAEAD(m.Sum(nil))
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return a, nil
}

// aad encodes the purpose, key ID and context unambiguously (length
// prefixed).
func aad(purpose, keyID, context string) []byte {
	var b []byte
	for _, s := range []string{purpose, keyID, context} {
		b = fmt.Appendf(b, "%d:%s;", len(s), s)
	}
	return b
}

func wrap(a cipher.AEAD, dataKey, ad []byte) ([]byte, error) {
	if len(dataKey) != KeySize {
		return nil, fmt.Errorf("%w: data key has %d bytes, want %d", ErrInvalidKey, len(dataKey), KeySize)
	}
	out := make([]byte, 1+a.NonceSize(), WrappedKeySize)
	out[0] = wrapVersion
	_, _ = rand.Read(out[1:])
	return a.Seal(out, out[1:1+a.NonceSize()], dataKey, ad), nil
}

func unwrap(a cipher.AEAD, wrapped, ad []byte) ([]byte, error) {
	if len(wrapped) != WrappedKeySize || wrapped[0] != wrapVersion {
		return nil, fmt.Errorf("%w: malformed wrapped key (%d bytes)", ErrUnwrap, len(wrapped))
	}
	ns := a.NonceSize()
	key, err := a.Open(nil, wrapped[1:1+ns], wrapped[1+ns:], ad)
	if err != nil {
		return nil, ErrUnwrap
	}
	return key, nil
}
