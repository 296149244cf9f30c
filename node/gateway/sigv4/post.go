package sigv4

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"time"
)

// PostForm is the Version 4 signature of a browser POST upload: its
// x-amz-algorithm, x-amz-credential, x-amz-date and x-amz-signature form
// fields, and the base64 policy document they sign.
type PostForm struct {
	Algorithm, Credential, Date, Signature string
	Policy                                 string
}

// VerifyPost checks a POST form's signature, the hex HMAC-SHA256 of the
// base64 policy under the key its credential scope derives, and returns
// the access key that signed it. The policy's own expiration, not the
// form's date, bounds how long a form is valid, so no clock skew is
// checked here.
func (v *Verifier) VerifyPost(ctx context.Context, f PostForm) (string, error) {
	if err := v.Validate(); err != nil {
		return "", err
	}
	if f.Algorithm != algorithmHMAC {
		return "", fmt.Errorf("sigv4: POST x-amz-algorithm %q: %w", truncate(f.Algorithm), ErrUnsupportedAlgorithm)
	}
	c, err := parseCredential(f.Credential)
	if err != nil {
		return "", err
	}
	t, err := time.Parse(iso8601Basic, f.Date)
	if err != nil {
		return "", fmt.Errorf("sigv4: POST x-amz-date %q: %w", truncate(f.Date), ErrAuthorizationMalformed)
	}
	if err := v.checkScope(c, t); err != nil {
		return "", err
	}
	sig, err := hex.DecodeString(f.Signature)
	if err != nil {
		return "", fmt.Errorf("sigv4: POST x-amz-signature is not hex: %w", ErrSignatureDoesNotMatch)
	}
	secret, err := v.Creds.SecretKey(ctx, c.accessKey)
	if err != nil {
		return "", fmt.Errorf("sigv4: access key %q: %w", truncate(c.accessKey), err)
	}
	if !hmac.Equal(sig, hmacSHA256(v.signingKey(secret, c), f.Policy)) {
		return "", fmt.Errorf("sigv4: POST policy, access key %q: %w", truncate(c.accessKey), ErrSignatureDoesNotMatch)
	}
	return c.accessKey, nil
}

// SignPost returns the hex x-amz-signature of a POST policy for secret and
// credential (<key>/<yyyymmdd>/<region>/s3/aws4_request), as a client
// computes it.
func SignPost(secret, credential, policy string) (string, error) {
	c, err := parseCredential(credential)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(hmacSHA256(deriveKey(secret, c.date, c.region, c.service), policy)), nil
}
