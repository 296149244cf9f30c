package sigv4

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		name, target, want string
	}{
		{"root", "/", "/"},
		{"plain", "/bucket/key.txt", "/bucket/key.txt"},
		{"already encoded stays", "/bucket/a%20b%2Bc%3D%26", "/bucket/a%20b%2Bc%3D%26"},
		{"raw reserved encoded once", "/test$file.text", "/test%24file.text"},
		{"raw plus is a plus", "/b/a+b", "/b/a%2Bb"},
		{"escaped slash kept", "/b/a%2Fb", "/b/a%2Fb"},
		{"lower-case escape normalised", "/b/a%2fb%e2%82%ac", "/b/a%2Fb%E2%82%AC"},
		{"escaped unreserved decoded", "/b/%41%7E", "/b/A~"},
		{"unicode escapes", "/b/%E6%97%A5%E6%9C%AC", "/b/%E6%97%A5%E6%9C%AC"},
		{"invalid escape encodes percent", "/b/100%", "/b/100%25"},
		{"double slash and dots untouched", "/b//./../k", "/b//./../k"},
		{"query not part of it", "/b/k?x=1", "/b/k"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Set RequestURI directly: net/http would reject some of these
			// lines before a handler saw them, but the function must not care.
			r := httptest.NewRequest("GET", "/", nil)
			r.RequestURI = tc.target
			require.Equal(t, tc.want, canonicalURI(r))
		})
	}
	// Requests built by a client have no RequestURI; the URL's escaped path is used.
	r, err := http.NewRequest("GET", "http://h/b/a%2Fb%20c", nil)
	require.NoError(t, err)
	require.Equal(t, "/b/a%2Fb%20c", canonicalURI(r))
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name, raw string
		skipSig   bool
		want      string
	}{
		{"empty", "", false, ""},
		{"flag parameter", "lifecycle", false, "lifecycle="},
		{"sorted by key", "prefix=J&max-keys=2", false, "max-keys=2&prefix=J"},
		{"sorted by value for equal keys", "a=2&a=1&a=10", false, "a=1&a=10&a=2"},
		{"sorted by encoded key", "a%20b=1&a-b=2&a=3", false, "a=3&a%20b=1&a-b=2"},
		{"plus is a space", "prefix=a+b", false, "prefix=a%20b"},
		{"encoded plus", "prefix=a%2Bb", false, "prefix=a%2Bb"},
		{"slash encoded", "prefix=dir/sub/&delimiter=/", false, "delimiter=%2F&prefix=dir%2Fsub%2F"},
		{"unreserved decoded", "k=%7E%41", false, "k=~A"},
		{"empty pieces skipped", "&a=1&&b=&", false, "a=1&b="},
		{"signature dropped when presigned", "X-Amz-Signature=abc&X-Amz-Date=1", true, "X-Amz-Date=1"},
		{"signature kept otherwise", "X-Amz-Signature=abc", false, "X-Amz-Signature=abc"},
		{"bad escape kept verbatim then encoded", "k=%zz", false, "k=%25zz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, canonicalQuery(tc.raw, tc.skipSig))
		})
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r := httptest.NewRequest("PUT", "/b/k", nil)
	r.Host = "cairn.local:9000"
	r.Header.Add("X-Amz-Meta-A", "  one   two  ")
	r.Header.Add("X-Amz-Meta-A", "three")
	r.Header["x-amz-meta-b"] = []string{"lower"}
	r.Header.Set("Content-Length", "12")
	r.ContentLength = 12
	got := canonicalHeaders(r, []string{"content-length", "host", "x-amz-meta-a", "x-amz-meta-b", "x-amz-missing"})
	require.Equal(t, "content-length:12\nhost:cairn.local:9000\nx-amz-meta-a:one two,three\nx-amz-meta-b:lower\nx-amz-missing:\n", got)

	// A client-side request keeps Content-Length outside Header.
	c, err := http.NewRequest("PUT", "http://h/b/k", http.NoBody)
	require.NoError(t, err)
	c.ContentLength = 5
	c.TransferEncoding = []string{"identity"}
	require.Equal(t, "content-length:5\nhost:h\ntransfer-encoding:identity\n", canonicalHeaders(c, []string{"content-length", "host", "transfer-encoding"}))
}

func TestTrimAll(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"a":               "a",
		"  a  ":           "a",
		"a  b   c":        "a b c",
		" a \t b ":        "a \t b",
		"bytes=0-9":       "bytes=0-9",
		"x    y  z      ": "x y z",
	} {
		require.Equal(t, want, trimAll(in), "%q", in)
	}
}
