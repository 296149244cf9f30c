package sigv4

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// Credentials resolves an access key to its secret. An unknown access key
// is an error wrapping ErrInvalidAccessKeyID; any other error (the store is
// unreachable) is returned to the caller of Verify as it is.
type Credentials interface {
	SecretKey(ctx context.Context, accessKey string) (secret string, err error)
}

// DefaultMaxSkew is how far a header-signed request's date may be from the
// server's clock, as in S3.
const DefaultMaxSkew = 15 * time.Minute

// maxPresignExpiry is S3's limit on X-Amz-Expires: seven days.
const maxPresignExpiry = 7 * 24 * 60 * 60

// Verifier checks SigV4 signatures. The zero value of every field but Creds is
// a usable default. A Verifier is safe for concurrent use and must not be
// copied after first use.
type Verifier struct {
	Creds Credentials
	// Region, when set, is the only region accepted in the credential scope;
	// "" accepts whatever region the client signed for.
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds the clock difference for header auth; 0 means
	// DefaultMaxSkew.
	MaxSkew time.Duration

	mu struct {
		sync.Mutex
		keys map[keyID][]byte
	}
}

// Result is what a verified (or anonymous) request carries on to the handler.
type Result struct {
	// AccessKey is "" when anonymous.
	AccessKey string
	Anonymous bool
	// Body is what the handler must read instead of r.Body: for aws-chunked
	// bodies a decoder that verifies each chunk signature and, at the end, the
	// trailer signature and trailing x-amz-checksum-* value; for a hex SHA-256
	// payload hash a reader that fails at EOF on mismatch; else r.Body. Its
	// errors wrap the package's sentinels.
	Body io.ReadCloser
	// DecodedLength is x-amz-decoded-content-length for aws-chunked bodies,
	// else Content-Length; -1 when unknown.
	DecodedLength int64
	// TrailerChecksum returns the trailing checksum algorithm and value once
	// Body has reached EOF; zero values if there was none.
	TrailerChecksum func() (checksum.Algorithm, string)
	// ChecksumAlgorithm is the algorithm declared by x-amz-trailer, if any.
	ChecksumAlgorithm checksum.Algorithm
}

// Validate reports whether v can verify requests.
func (v *Verifier) Validate() error {
	if v.Creds == nil {
		return fmt.Errorf("sigv4: no Credentials: %w", ErrInvalidConfig)
	}
	if v.MaxSkew < 0 {
		return fmt.Errorf("sigv4: negative MaxSkew %v: %w", v.MaxSkew, ErrInvalidConfig)
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// Verify authenticates r. A request with neither an Authorization header nor
// presigned query parameters is anonymous: Verify returns a Result with
// Anonymous set and no error, and the gateway decides what it may do. Verify
// reads no body bytes; body checks happen as Result.Body is read.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	authz := r.Header.Get("Authorization")
	query := r.URL.Query()
	presigned := query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Signature")
	switch {
	case authz != "" && presigned:
		return nil, fmt.Errorf("sigv4: both an Authorization header and presigned query parameters: %w", ErrAuthorizationMalformed)
	case authz != "":
		if err := v.Validate(); err != nil {
			return nil, err
		}
		return v.verifyHeader(r, authz)
	case presigned:
		if err := v.Validate(); err != nil {
			return nil, err
		}
		return v.verifyPresigned(r, query)
	}
	p, err := payloadFromHeader(r)
	if err != nil {
		return nil, err
	}
	res, err := newBody(r, p, nil)
	if err != nil {
		return nil, err
	}
	res.Anonymous = true
	return res, nil
}

func (v *Verifier) verifyHeader(r *http.Request, authz string) (*Result, error) {
	a, err := parseAuthorization(authz)
	if err != nil {
		return nil, err
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		return nil, fmt.Errorf("sigv4: header auth: %w", ErrMissingContentSHA256)
	}
	p, err := classifyPayload(payloadHash)
	if err != nil {
		return nil, err
	}
	t, amzDate, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if err := v.checkScope(a.cred, t); err != nil {
		return nil, err
	}
	now := v.now()
	if skew := now.Sub(t).Abs(); skew > v.maxSkew() {
		return nil, fmt.Errorf("sigv4: request time %s is %v from server time: %w", amzDate, skew.Round(time.Second), ErrRequestTimeTooSkewed)
	}
	secret, err := v.Creds.SecretKey(r.Context(), a.cred.accessKey)
	if err != nil {
		return nil, fmt.Errorf("sigv4: access key %q: %w", truncate(a.cred.accessKey), err)
	}
	key := v.signingKey(secret, a.cred)
	canon := canonicalRequest(r.Method, canonicalURI(r), canonicalQuery(r.URL.RawQuery, false),
		canonicalHeaders(r, a.headerNames), a.signedHeaders, payloadHash)
	want := hmacSHA256(key, stringToSign(amzDate, a.cred.scope(), canon))
	if !hmac.Equal(want, a.signature) {
		return nil, fmt.Errorf("sigv4: access key %q: %w", truncate(a.cred.accessKey), ErrSignatureDoesNotMatch)
	}
	seed := &chunkSigner{key: key, amzDate: amzDate, scope: a.cred.scope(), prev: hex.EncodeToString(want)}
	res, err := newBody(r, p, seed)
	if err != nil {
		return nil, err
	}
	res.AccessKey = a.cred.accessKey
	return res, nil
}

func (v *Verifier) verifyPresigned(r *http.Request, q url.Values) (*Result, error) {
	switch alg := q.Get("X-Amz-Algorithm"); alg {
	case algorithmHMAC:
	case "":
		return nil, fmt.Errorf("sigv4: presigned: missing X-Amz-Algorithm: %w", ErrAuthorizationMalformed)
	default:
		return nil, fmt.Errorf("sigv4: presigned algorithm %q: %w", truncate(alg), ErrUnsupportedAlgorithm)
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if q.Get(k) == "" {
			return nil, fmt.Errorf("sigv4: presigned: missing %s: %w", k, ErrAuthorizationMalformed)
		}
	}
	a, err := buildAuthorization(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"))
	if err != nil {
		return nil, err
	}
	amzDate := q.Get("X-Amz-Date")
	t, err := time.Parse(iso8601Basic, amzDate)
	if err != nil {
		return nil, fmt.Errorf("sigv4: presigned X-Amz-Date %q: %w", truncate(amzDate), ErrAuthorizationMalformed)
	}
	expires, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || expires < 1 || expires > maxPresignExpiry {
		return nil, fmt.Errorf("sigv4: presigned X-Amz-Expires %q must be 1..%d: %w", truncate(q.Get("X-Amz-Expires")), maxPresignExpiry, ErrAuthorizationMalformed)
	}
	if err := v.checkScope(a.cred, t); err != nil {
		return nil, err
	}
	now := v.now()
	if t.Sub(now) > v.maxSkew() {
		return nil, fmt.Errorf("sigv4: presigned X-Amz-Date %s is in the future: %w", amzDate, ErrRequestTimeTooSkewed)
	}
	if now.After(t.Add(time.Duration(expires) * time.Second)) {
		return nil, fmt.Errorf("sigv4: presigned URL from %s valid for %ds: %w", amzDate, expires, ErrRequestExpired)
	}
	secret, err := v.Creds.SecretKey(r.Context(), a.cred.accessKey)
	if err != nil {
		return nil, fmt.Errorf("sigv4: access key %q: %w", truncate(a.cred.accessKey), err)
	}
	payloadHash := q.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		payloadHash = unsignedPayload
	}
	key := v.signingKey(secret, a.cred)
	canon := canonicalRequest(r.Method, canonicalURI(r), canonicalQuery(r.URL.RawQuery, true),
		canonicalHeaders(r, a.headerNames), a.signedHeaders, payloadHash)
	want := hmacSHA256(key, stringToSign(amzDate, a.cred.scope(), canon))
	if !hmac.Equal(want, a.signature) {
		return nil, fmt.Errorf("sigv4: presigned, access key %q: %w", truncate(a.cred.accessKey), ErrSignatureDoesNotMatch)
	}
	// A presigned request has no seed signature, so it cannot carry signed
	// chunks; newBody rejects them when given no signer.
	p, err := payloadFromHeader(r)
	if err != nil {
		return nil, err
	}
	res, err := newBody(r, p, nil)
	if err != nil {
		return nil, err
	}
	res.AccessKey = a.cred.accessKey
	return res, nil
}

// checkScope ties the credential scope to the request date and region.
func (v *Verifier) checkScope(c credential, t time.Time) error {
	if d := t.UTC().Format(scopeDate); d != c.date {
		return fmt.Errorf("sigv4: credential date %s does not match request date %s: %w", c.date, d, ErrAuthorizationMalformed)
	}
	if v.Region != "" && c.region != v.Region {
		return fmt.Errorf("sigv4: region %q is wrong; expecting %q: %w", truncate(c.region), v.Region, ErrAuthorizationMalformed)
	}
	return nil
}

// requestTime is x-amz-date or, failing that, Date; the second result is the
// ISO 8601 form the string to sign uses.
func requestTime(r *http.Request) (time.Time, string, error) {
	if s := r.Header.Get("X-Amz-Date"); s != "" {
		t, err := time.Parse(iso8601Basic, s)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("sigv4: x-amz-date %q: %w", truncate(s), ErrMissingDate)
		}
		return t, s, nil
	}
	if s := r.Header.Get("Date"); s != "" {
		t, err := parseDateHeader(s)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("sigv4: date %q: %w", truncate(s), ErrMissingDate)
		}
		return t, t.UTC().Format(iso8601Basic), nil
	}
	return time.Time{}, "", fmt.Errorf("sigv4: no x-amz-date or date header: %w", ErrMissingDate)
}

// parseDateHeader reads a Date header in any form net/http accepts or
// with a numeric zone (RFC 1123 with "-0000", as botocore sends it).
func parseDateHeader(s string) (time.Time, error) {
	t, err := http.ParseTime(s)
	if err == nil {
		return t, nil
	}
	if t, err2 := time.Parse(time.RFC1123Z, s); err2 == nil {
		return t, nil
	}
	return time.Time{}, err
}
