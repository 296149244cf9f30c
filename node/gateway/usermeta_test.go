package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUserMetadataEncoding follows S3's user guide on user-defined
// metadata: non-ASCII values are RFC 2047 decoded before storing and
// returned as RFC 2047 words; ASCII values are presented as is. The first
// case is the guide's own example.
func TestUserMetadataEncoding(t *testing.T) {
	cases := []struct {
		name   string
		sent   string // the header's bytes on PUT
		stored string
		back   string // the header on GET and HEAD
	}{
		{name: "the guide's example: raw UTF-8 bytes read one per character", sent: "ÄMÄZÕÑ S3",
			stored: "Ã\u0084MÃ\u0084ZÃ\u0095Ã\u0091 S3", back: "=?UTF-8?B?w4PChE3Dg8KEWsODwpXDg8KRIFMz?="},
		{name: "the guide's ASCII example", sent: "AMAZONS3", stored: "AMAZONS3", back: "AMAZONS3"},
		{name: "an ISO-8859-1 byte", sent: "Hello World\xe9", stored: "Hello World\u00e9", back: "=?UTF-8?B?SGVsbG8gV29ybGTDqQ==?="},
		{name: "a UTF-8 B word is decoded", sent: "=?UTF-8?B?Y2Fmw6k=?=", stored: "café", back: "=?UTF-8?B?Y2Fmw6k=?="},
		{name: "the returned word round-trips", sent: "=?UTF-8?B?w4PChE3Dg8KEWsODwpXDg8KRIFMz?=",
			stored: "Ã\u0084MÃ\u0084ZÃ\u0095Ã\u0091 S3", back: "=?UTF-8?B?w4PChE3Dg8KEWsODwpXDg8KRIFMz?="},
		{name: "a Q word in lower case", sent: "=?utf-8?q?caf=C3=A9_au_lait?=", stored: "café au lait", back: "=?UTF-8?B?Y2Fmw6kgYXUgbGFpdA==?="},
		{name: "an ISO-8859-1 word", sent: "=?ISO-8859-1?Q?caf=E9?=", stored: "café", back: "=?UTF-8?B?Y2Fmw6k=?="},
		{name: "adjacent words join", sent: "=?UTF-8?B?Y2Fm?= =?UTF-8?B?w6k=?=", stored: "café", back: "=?UTF-8?B?Y2Fmw6k=?="},
		{name: "a word decoding to ASCII comes back plain", sent: "=?UTF-8?B?YWJj?=", stored: "abc", back: "abc"},
		{name: "a control character is encoded", sent: "=?UTF-8?B?YQpi?=", stored: "a\nb", back: "=?UTF-8?B?YQpi?="},
		{name: "an unknown charset is kept as written", sent: "=?KOI8-R?B?w6k=?=", stored: "=?KOI8-R?B?w6k=?=", back: "=?KOI8-R?B?w6k=?="},
		{name: "a malformed word is kept as written", sent: "=?UTF-8?B?***?=", stored: "=?UTF-8?B?***?=", back: "=?UTF-8?B?***?="},
		{name: "a tab stays", sent: "a\tb", stored: "a\tb", back: "a\tb"},
		{name: "empty", sent: "", stored: "", back: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeMetaValue("k", tc.sent)
			require.NoError(t, err)
			require.Equal(t, tc.stored, got)
			require.Equal(t, tc.back, encodeMetaValue(got))
		})
	}
	_, err := decodeMetaValue("k", "=?UTF-8?B?//4=?=")
	require.Error(t, err, "a UTF-8 word of bytes that are not UTF-8")
}

// TestUserMetadataThroughS3 puts non-ASCII metadata and reads it back with
// GET and HEAD, and from a POST form; the 2 KB limit counts decoded bytes.
func TestUserMetadataThroughS3(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("meta")
	h := http.Header{
		"X-Amz-Meta-Nonascii": {"ÄMÄZÕÑ S3"},
		"X-Amz-Meta-Ascii":    {"AMAZONS3"},
		"X-Amz-Meta-Word":     {"=?UTF-8?B?Y2Fmw6k=?="},
	}
	resp, body := e.do(e.signedRequest(http.MethodPut, "/meta/k", strings.NewReader("x"), 1, h))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp, body = e.do(e.signedRequest(method, "/meta/k", nil, 0, nil))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s", method, body)
		require.Equal(t, []string{"=?UTF-8?B?w4PChE3Dg8KEWsODwpXDg8KRIFMz?="}, resp.Header["X-Amz-Meta-Nonascii"], method)
		require.Equal(t, []string{"AMAZONS3"}, resp.Header["X-Amz-Meta-Ascii"], method)
		require.Equal(t, []string{"=?UTF-8?B?Y2Fmw6k=?="}, resp.Header["X-Amz-Meta-Word"], method)
	}

	// The limit counts the decoded UTF-8 bytes: 1,000 two-byte characters
	// (a 2,700-byte word) fit in 2 KB, 1,100 do not.
	fits := utf8Word(strings.Repeat("é", 1000))
	require.Greater(t, len(fits), maxUserMetadata)
	resp, body = e.do(e.signedRequest(http.MethodPut, "/meta/big", strings.NewReader("x"), 1, http.Header{"X-Amz-Meta-Big": {fits}}))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	resp, body = e.do(e.signedRequest(http.MethodPut, "/meta/big", strings.NewReader("x"), 1, http.Header{"X-Amz-Meta-Big": {utf8Word(strings.Repeat("é", 1100))}}))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), "<Code>MetadataTooLarge</Code>")
}

// TestFormMetaValue: a POST form's UTF-8 value is stored as that text.
func TestFormMetaValue(t *testing.T) {
	for _, v := range []string{"plain", "café", "ÄMÄZÕÑ S3", ""} {
		got, err := decodeMetaValue("k", formMetaValue(v))
		require.NoError(t, err)
		require.Equal(t, v, got)
	}
}
