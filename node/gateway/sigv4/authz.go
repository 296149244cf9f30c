package sigv4

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

const (
	algorithmHMAC = "AWS4-HMAC-SHA256"
	// algorithmECDSA is SigV4a, which needs asymmetric keys we do not issue.
	algorithmECDSA = "AWS4-ECDSA-P256-SHA256"
	scopeTerminal  = "aws4_request"
	serviceS3      = "s3"

	iso8601Basic = "20060102T150405Z"
	scopeDate    = "20060102"
)

// credential is the parsed Credential= / X-Amz-Credential value:
// <access key>/<yyyymmdd>/<region>/<service>/aws4_request.
type credential struct {
	accessKey string
	date      string
	region    string
	service   string
}

func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + scopeTerminal
}

// authorization is what both auth forms carry.
type authorization struct {
	cred credential
	// signedHeaders is the list exactly as the client sent it: the canonical
	// request must repeat the client's string, not our normalisation of it.
	signedHeaders string
	headerNames   []string
	signature     []byte
}

// parseAuthorization parses an Authorization header value of the form
// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
func parseAuthorization(h string) (authorization, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		alg = strings.TrimSpace(h)
	}
	switch alg {
	case algorithmHMAC:
	case algorithmECDSA, "AWS":
		return authorization{}, fmt.Errorf("sigv4: authorization algorithm %q: %w", alg, ErrUnsupportedAlgorithm)
	default:
		return authorization{}, fmt.Errorf("sigv4: authorization algorithm %q: %w", truncate(alg), ErrUnsupportedAlgorithm)
	}
	var credStr, headersStr, sigStr string
	var seenCred, seenHeaders, seenSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return authorization{}, fmt.Errorf("sigv4: authorization component %q: %w", truncate(part), ErrAuthorizationMalformed)
		}
		var seen *bool
		switch k {
		case "Credential":
			credStr, seen = v, &seenCred
		case "SignedHeaders":
			headersStr, seen = v, &seenHeaders
		case "Signature":
			sigStr, seen = v, &seenSig
		default:
			return authorization{}, fmt.Errorf("sigv4: authorization component %q: %w", truncate(k), ErrAuthorizationMalformed)
		}
		if *seen {
			return authorization{}, fmt.Errorf("sigv4: authorization repeats %s: %w", k, ErrAuthorizationMalformed)
		}
		*seen = true
	}
	if !seenCred || !seenHeaders || !seenSig {
		return authorization{}, fmt.Errorf("sigv4: authorization lacks Credential, SignedHeaders or Signature: %w", ErrAuthorizationMalformed)
	}
	return buildAuthorization(credStr, headersStr, sigStr)
}

// buildAuthorization validates the three components shared by both forms.
func buildAuthorization(credStr, headersStr, sigStr string) (authorization, error) {
	cred, err := parseCredential(credStr)
	if err != nil {
		return authorization{}, err
	}
	names, err := parseSignedHeaders(headersStr)
	if err != nil {
		return authorization{}, err
	}
	sig, err := parseSignature(sigStr)
	if err != nil {
		return authorization{}, err
	}
	return authorization{cred: cred, signedHeaders: headersStr, headerNames: names, signature: sig}, nil
}

func parseCredential(s string) (credential, error) {
	parts := strings.Split(s, "/")
	n := len(parts)
	if n < 5 {
		return credential{}, fmt.Errorf("sigv4: credential %q: want <key>/<date>/<region>/s3/aws4_request: %w", truncate(s), ErrAuthorizationMalformed)
	}
	c := credential{
		// Access keys never contain '/', but the scope is fixed-width from the
		// right, so anything before it is the key.
		accessKey: strings.Join(parts[:n-4], "/"),
		date:      parts[n-4],
		region:    parts[n-3],
		service:   parts[n-2],
	}
	switch {
	case c.accessKey == "":
		return credential{}, fmt.Errorf("sigv4: credential has an empty access key: %w", ErrAuthorizationMalformed)
	case parts[n-1] != scopeTerminal:
		return credential{}, fmt.Errorf("sigv4: credential scope must end in %s: %w", scopeTerminal, ErrAuthorizationMalformed)
	case c.service != serviceS3:
		return credential{}, fmt.Errorf("sigv4: credential service %q is not s3: %w", truncate(c.service), ErrAuthorizationMalformed)
	case c.region == "":
		return credential{}, fmt.Errorf("sigv4: credential has an empty region: %w", ErrAuthorizationMalformed)
	}
	if _, err := time.Parse(scopeDate, c.date); err != nil || len(c.date) != len(scopeDate) {
		return credential{}, fmt.Errorf("sigv4: credential date %q: %w", truncate(c.date), ErrAuthorizationMalformed)
	}
	return c, nil
}

func parseSignedHeaders(s string) ([]string, error) {
	if s == "" {
		return nil, fmt.Errorf("sigv4: empty SignedHeaders: %w", ErrAuthorizationMalformed)
	}
	names := strings.Split(s, ";")
	hasHost := false
	for i, name := range names {
		if name == "" {
			return nil, fmt.Errorf("sigv4: SignedHeaders %q has an empty name: %w", truncate(s), ErrAuthorizationMalformed)
		}
		names[i] = strings.ToLower(name)
		hasHost = hasHost || names[i] == "host"
	}
	if !hasHost {
		return nil, fmt.Errorf("sigv4: SignedHeaders must include host: %w", ErrAuthorizationMalformed)
	}
	return names, nil
}

func parseSignature(s string) ([]byte, error) {
	if len(s) != 64 {
		return nil, fmt.Errorf("sigv4: signature must be 64 hex digits: %w", ErrAuthorizationMalformed)
	}
	sig, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("sigv4: signature is not hex: %w", ErrAuthorizationMalformed)
	}
	return sig, nil
}

// truncate keeps client-controlled strings in error messages short.
func truncate(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
