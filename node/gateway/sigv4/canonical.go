package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const upperHex = "0123456789ABCDEF"

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// uriEncode is AWS's UriEncode: every byte outside the RFC 3986 unreserved set
// becomes %XX (upper case); '/' is kept when encodeSlash is false.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		writeEncoded(&b, s[i], encodeSlash)
	}
	return b.String()
}

func writeEncoded(b *strings.Builder, c byte, encodeSlash bool) {
	if isUnreserved(c) || (c == '/' && !encodeSlash) {
		b.WriteByte(c)
		return
	}
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

// rawPath is the request path exactly as it was on the request line. Go's
// URL.Path has already lost the difference between "a%2Fb" and "a/b", and
// EscapedPath may re-encode, so the request line is the source of truth.
func rawPath(r *http.Request) string {
	if uri := r.RequestURI; strings.HasPrefix(uri, "/") {
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			uri = uri[:i]
		}
		return uri
	}
	return r.URL.EscapedPath()
}

// canonicalURI brings the path to S3's canonical form without double
// encoding: escapes are decoded and every byte re-encoded with UriEncode, so an
// already-encoded path (what SDKs send) is unchanged, while a raw reserved byte
// ('$' in AWS's own PUT example) is encoded as the client's signer did. An
// escaped slash stays "%2F" because the client signed it that way.
func canonicalURI(r *http.Request) string {
	p := rawPath(r)
	if p == "" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(p) + 16)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			writeEncoded(&b, d, true)
			i += 2
			continue
		}
		writeEncoded(&b, c, false)
	}
	return b.String()
}

// canonicalQuery sorts the parameters by encoded name, then encoded value, and
// encodes both with UriEncode. skipSignature drops X-Amz-Signature, which a
// presigned URL carries but did not sign.
func canonicalQuery(rawQuery string, skipSignature bool) string {
	if rawQuery == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for piece := range strings.SplitSeq(rawQuery, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		k, v = queryUnescape(k), queryUnescape(v)
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// queryUnescape decodes like a form ('+' is a space), keeping a malformed
// escape as it was rather than failing: the signature decides.
func queryUnescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// canonicalHeaders renders "name:value\n" for each signed header, in the
// client's order. Values are trimmed, inner runs of spaces collapsed, and
// repeated headers joined with ','.
func canonicalHeaders(r *http.Request, names []string) string {
	byName := make(map[string][]string, len(r.Header))
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		byName[lk] = append(byName[lk], vs...)
	}
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name, byName) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// headerValues also recovers the headers net/http moves out of Header.
func headerValues(r *http.Request, name string, byName map[string][]string) []string {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	case "content-length":
		if vs, ok := byName[name]; ok {
			return vs
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
		return nil
	case "transfer-encoding":
		if vs, ok := byName[name]; ok {
			return vs
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
		return nil
	}
	return byName[name]
}

// trimAll is AWS's Trimall: strip leading and trailing spaces and collapse
// sequential spaces to one.
func trimAll(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalRequest is step 1 of SigV4.
func canonicalRequest(method, uri, query, headers, signedHeaders, payloadHash string) string {
	return method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + signedHeaders + "\n" + payloadHash
}

// stringToSign is step 2 of SigV4.
func stringToSign(amzDate, scope, canonical string) string {
	return algorithmHMAC + "\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
