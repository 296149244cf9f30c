package sigv2

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/node/gateway/sigv4"
)

// Sentinels of the errors S3 answers differently for Version 2.
var (
	// ErrMalformedHeader: 400 InvalidArgument "AWS authorization header is
	// invalid. Expected AwsAccessKeyId:signature".
	ErrMalformedHeader = errors.New("sigv2: malformed authorization header")
	// ErrMissingQueryParams: 403 AccessDenied "Query-string authentication
	// requires the Signature, Expires and AWSAccessKeyId parameters".
	ErrMissingQueryParams = errors.New("sigv2: missing query-string authentication parameters")
	// ErrInvalidExpires: 403 AccessDenied "Invalid date (should be seconds
	// since epoch)".
	ErrInvalidExpires = errors.New("sigv2: invalid Expires")
)

// DefaultMaxSkew is how far a header-signed request's date may be from the
// server's clock, as in S3.
const DefaultMaxSkew = 15 * time.Minute

// subresources are the query parameters that are part of the canonicalized
// resource: S3's documented list, the operations added since (tagging,
// retention, …) that Version 2 clients sign the same way, and the
// response-header overrides.
var subresources = map[string]bool{
	"acl": true, "cors": true, "delete": true, "encryption": true, "legal-hold": true,
	"lifecycle": true, "location": true, "logging": true, "notification": true,
	"object-lock": true, "ownershipControls": true, "partNumber": true, "policy": true,
	"policyStatus": true, "publicAccessBlock": true, "replication": true,
	"requestPayment": true, "restore": true, "retention": true, "select": true,
	"select-type": true, "tagging": true, "torrent": true, "uploadId": true,
	"uploads": true, "versionId": true, "versioning": true, "versions": true,
	"website": true, "attributes": true, "accelerate": true,
	"response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "response-content-language": true,
	"response-content-type": true, "response-expires": true,
}

// Present reports whether r is signed with Version 2, in either form.
func Present(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") {
		return true
	}
	q := r.URL.Query()
	return q.Has("AWSAccessKeyId") || (q.Has("Signature") && q.Has("Expires"))
}

// Verifier checks Version 2 signatures. Creds is required; a zero Now is
// time.Now and a zero MaxSkew DefaultMaxSkew.
type Verifier struct {
	Creds   sigv4.Credentials
	Now     func() time.Time
	MaxSkew time.Duration
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify authenticates r, whose bucket is hostBucket when the Host named it
// (virtual-hosted style; "" for path style), and returns the access key
// that signed it. The body is not covered by a Version 2 signature and is
// not read.
func (v *Verifier) Verify(r *http.Request, hostBucket string) (accessKey string, err error) {
	if v.Creds == nil {
		return "", fmt.Errorf("sigv2: no credentials: %w", sigv4.ErrInvalidConfig)
	}
	if authz := r.Header.Get("Authorization"); authz != "" {
		return v.verifyHeader(r, hostBucket, authz)
	}
	return v.verifyQuery(r, hostBucket)
}

func (v *Verifier) verifyHeader(r *http.Request, hostBucket, authz string) (string, error) {
	cred, ok := strings.CutPrefix(authz, "AWS ")
	if !ok {
		return "", fmt.Errorf("sigv2: authorization %q: %w", truncate(authz), ErrMalformedHeader)
	}
	ak, sig, ok := strings.Cut(cred, ":")
	if !ok || ak == "" || sig == "" {
		return "", fmt.Errorf("sigv2: authorization %q: %w", truncate(authz), ErrMalformedHeader)
	}
	s := r.Header.Get("X-Amz-Date")
	if s == "" {
		s = r.Header.Get("Date")
	}
	t, err := http.ParseTime(s)
	if err != nil {
		if t, err = time.Parse(time.RFC1123Z, s); err != nil {
			return "", fmt.Errorf("sigv2: date %q: %w", truncate(s), sigv4.ErrMissingDate)
		}
	}
	maxSkew := v.MaxSkew
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if skew := v.now().Sub(t).Abs(); skew > maxSkew {
		return "", fmt.Errorf("sigv2: request time %s is %v from server time: %w", s, skew.Round(time.Second), sigv4.ErrRequestTimeTooSkewed)
	}
	// With x-amz-date, the Date line of the string to sign is empty: the
	// date is signed among the x-amz-* headers.
	date := r.Header.Get("Date")
	if r.Header.Get("X-Amz-Date") != "" {
		date = ""
	}
	return v.check(r, hostBucket, ak, sig, date)
}

func (v *Verifier) verifyQuery(r *http.Request, hostBucket string) (string, error) {
	q := r.URL.Query()
	ak, sig, exp := q.Get("AWSAccessKeyId"), q.Get("Signature"), q.Get("Expires")
	if ak == "" || sig == "" || exp == "" {
		return "", fmt.Errorf("sigv2: query-string authentication: %w", ErrMissingQueryParams)
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", fmt.Errorf("sigv2: Expires %q: %w", truncate(exp), ErrInvalidExpires)
	}
	if v.now().Unix() > secs {
		return "", fmt.Errorf("sigv2: URL expired at %s: %w", time.Unix(secs, 0).UTC().Format(time.RFC3339), sigv4.ErrRequestExpired)
	}
	return v.check(r, hostBucket, ak, sig, exp)
}

// check compares sig with the signature of r's string to sign. The
// sub-resource values are tried as S3 documents them (decoded) and, failing
// that, as sent: clients differ on this, and both are the client's own
// request signed with its secret.
func (v *Verifier) check(r *http.Request, hostBucket, ak, sig, date string) (string, error) {
	secret, err := v.Creds.SecretKey(r.Context(), ak)
	if err != nil {
		return "", fmt.Errorf("sigv2: access key %q: %w", truncate(ak), err)
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return "", fmt.Errorf("sigv2: access key %q: signature is not base64: %w", truncate(ak), sigv4.ErrSignatureDoesNotMatch)
	}
	forms := []Form{{}, {RawValues: true}}
	if amzDate := r.Header.Get("X-Amz-Date"); amzDate != "" && date == "" {
		// S3's own example of a request with x-amz-date signs its value in
		// the Date line rather than among the x-amz-* headers.
		forms = append(forms, Form{DateInPlace: true})
	}
	for _, f := range forms {
		d := date
		if f.DateInPlace {
			d = r.Header.Get("X-Amz-Date")
		}
		if hmac.Equal(got, Sign(secret, StringToSign(r, hostBucket, d, f))) {
			return ak, nil
		}
	}
	return "", fmt.Errorf("sigv2: access key %q: %w", truncate(ak), sigv4.ErrSignatureDoesNotMatch)
}

// Form selects among the ways clients build the string to sign where S3's
// documentation leaves room.
type Form struct {
	// RawValues keeps sub-resource values as sent rather than decoded.
	RawValues bool
	// DateInPlace signs x-amz-date in the Date line, not among the x-amz-*
	// headers.
	DateInPlace bool
}

// Sign returns the HMAC-SHA1 of s under secret.
func Sign(secret, s string) []byte {
	h := hmac.New(sha1.New, []byte(secret))
	_, _ = h.Write([]byte(s))
	return h.Sum(nil)
}

// StringToSign is S3's Version 2 string to sign for r: method, Content-MD5,
// Content-Type, date (the Date header, "" when x-amz-date is sent, or
// Expires in the query form), the canonicalized x-amz-* headers and the
// canonicalized resource.
func StringToSign(r *http.Request, hostBucket, date string, f Form) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Md5"))
	b.WriteByte('\n')
	b.WriteString(r.Header.Get("Content-Type"))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	b.WriteString(canonicalAmzHeaders(r.Header, f.DateInPlace))
	b.WriteString(canonicalResource(r, hostBucket, f.RawValues))
	return b.String()
}

// canonicalAmzHeaders lists the x-amz-* headers by lower-cased name, values
// of a repeated header joined by commas, folded whitespace unfolded.
func canonicalAmzHeaders(h http.Header, omitDate bool) string {
	var names []string
	vals := map[string][]string{}
	for name, vs := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, "x-amz-") || omitDate && lower == "x-amz-date" {
			continue
		}
		if _, ok := vals[lower]; !ok {
			names = append(names, lower)
		}
		for _, v := range vs {
			vals[lower] = append(vals[lower], strings.Join(strings.Fields(v), " "))
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals[n], ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// canonicalResource is "/bucket" when the Host named the bucket, then the
// path as sent (still percent-encoded), then the sub-resources in
// lexicographic order.
func canonicalResource(r *http.Request, hostBucket string, rawValues bool) string {
	var b strings.Builder
	if hostBucket != "" {
		b.WriteByte('/')
		b.WriteString(hostBucket)
	}
	path := r.URL.EscapedPath()
	if r.RequestURI != "" && !strings.HasPrefix(r.RequestURI, "http") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	type param struct{ k, v string }
	var ps []param
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil || !subresources[dk] {
			continue
		}
		if !rawValues {
			if dv, err := url.QueryUnescape(v); err == nil {
				v = dv
			}
		}
		ps = append(ps, param{dk, v})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].k < ps[j].k })
	for i, p := range ps {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		if p.v != "" {
			b.WriteByte('=')
			b.WriteString(p.v)
		}
	}
	return b.String()
}

func truncate(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// VerifyPost checks the Version 2 signature of a browser POST upload: the
// base64 HMAC-SHA1 of the base64 policy under accessKey's secret.
func (v *Verifier) VerifyPost(ctx context.Context, accessKey, signature, policy string) error {
	if v.Creds == nil {
		return fmt.Errorf("sigv2: no credentials: %w", sigv4.ErrInvalidConfig)
	}
	secret, err := v.Creds.SecretKey(ctx, accessKey)
	if err != nil {
		return fmt.Errorf("sigv2: access key %q: %w", truncate(accessKey), err)
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || !hmac.Equal(got, Sign(secret, policy)) {
		return fmt.Errorf("sigv2: POST policy, access key %q: %w", truncate(accessKey), sigv4.ErrSignatureDoesNotMatch)
	}
	return nil
}
