package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
)

// maxCachedKeys bounds the signing-key cache. Keys change daily per
// credential, so the working set is the number of active access keys; when it
// overflows, the cache restarts rather than tracking recency.
const maxCachedKeys = 4096

type keyID struct {
	secret, date, region, service string
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	_, _ = h.Write([]byte(data))
	return h.Sum(nil)
}

func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminal)
}

// signingKey returns the derived key, computing it once per (secret, date,
// region, service): four HMACs per request add up at thousands of requests per
// second. The returned slice is shared and must not be modified.
func (v *Verifier) signingKey(secret string, c credential) []byte {
	id := keyID{secret: secret, date: c.date, region: c.region, service: c.service}
	v.mu.Lock()
	k, ok := v.mu.keys[id]
	v.mu.Unlock()
	if ok {
		return k
	}
	k = deriveKey(secret, c.date, c.region, c.service)
	v.mu.Lock()
	if v.mu.keys == nil || len(v.mu.keys) >= maxCachedKeys {
		v.mu.keys = make(map[keyID][]byte)
	}
	v.mu.keys[id] = k
	v.mu.Unlock()
	return k
}
