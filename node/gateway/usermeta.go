package gateway

import (
	"encoding/base64"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/cairn-io/cairn/node/gateway/s3err"
)

// User metadata values travel in HTTP headers, which carry ASCII. S3's
// user guide (Working with object metadata, "User-defined object
// metadata") says what happens to anything else: values are "character
// decoded as per RFC 2047 before storing and encoded as per RFC 2047 to
// make them mail-safe before returning", and a value of US-ASCII only "is
// presented as is". Its example fixes the details: the raw UTF-8 bytes of
// "ÄMÄZÕÑ S3" come back as =?UTF-8?B?w4PChE3Dg8KEWsODwpXDg8KRIFMz?=,
// which is the UTF-8 encoding of those bytes read one character per byte
// (ISO-8859-1, HTTP's historical header charset). Cairn does the same, so
// clients that encode non-ASCII values as RFC 2047 words (the SDKs refuse
// or pass raw bytes) read back what S3 would give them.

// decodeMetaValue turns an x-amz-meta-* header value into the stored
// string: each byte is the ISO-8859-1 character of that code, then RFC
// 2047 encoded words (UTF-8, ISO-8859-1 or US-ASCII) are decoded. A word
// that is malformed or names another charset is kept as written.
func decodeMetaValue(name, v string) (string, error) {
	s := latin1(v)
	if !strings.Contains(s, "=?") {
		return s, nil
	}
	var d mime.WordDecoder
	out, err := d.DecodeHeader(s)
	if err != nil {
		// An unknown charset: DecodeHeader fails only then.
		return s, nil
	}
	if !utf8.ValidString(out) {
		// A UTF-8 word whose bytes are not UTF-8 cannot be stored (the
		// metadata records hold UTF-8 strings).
		return "", s3err.InvalidArgument.WithMessage("The value of header x-amz-meta-" + name + " decodes to text that is not valid UTF-8.")
	}
	return out, nil
}

// latin1 reads s one character per byte.
func latin1(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// encodeMetaValue is the header form of a stored value: as is when it is
// printable US-ASCII, otherwise one RFC 2047 word of its UTF-8 bytes, as
// S3 returns it. Control characters are encoded too: a header value cannot
// carry them.
func encodeMetaValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c > '~' {
			return utf8Word(v)
		}
	}
	return v
}

// formMetaValue carries a POST form's metadata value (UTF-8 text) into a
// header that decodeMetaValue reads back as the same text.
func formMetaValue(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			if !utf8.ValidString(v) {
				return v // read byte by byte, as a header would be
			}
			return utf8Word(v)
		}
	}
	return v
}

// utf8Word is v as one RFC 2047 encoded word, in the form S3 returns.
func utf8Word(v string) string {
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
}
