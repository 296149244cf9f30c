package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEdgeChecks sends what S3 refuses by its shape: each is answered 400
// with the code AWS gives, never a 500 from a metadata record that cannot
// be encoded, and nothing is stored.
func TestEdgeChecks(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("edge")
	e.put("edge", "k", []byte("v"))
	cases := []struct {
		name, method, path string
		header             http.Header
		code               string
	}{
		{"key", http.MethodPut, "/edge/bad%FFkey", nil, "InvalidArgument"},
		{"user metadata word not UTF-8", http.MethodPut, "/edge/k2", http.Header{"X-Amz-Meta-A": {"=?UTF-8?B?//4=?="}}, "InvalidArgument"},
		{"content type", http.MethodPut, "/edge/k2", http.Header{"Content-Type": {"text/\xff"}}, "InvalidArgument"},
		{"list prefix", http.MethodGet, "/edge?list-type=2&prefix=%FF", nil, "InvalidArgument"},
		{"list delimiter", http.MethodGet, "/edge?delimiter=%C3", nil, "InvalidArgument"},
		{"list start-after", http.MethodGet, "/edge?list-type=2&start-after=%FF", nil, "InvalidArgument"},
		{"versions marker", http.MethodGet, "/edge?versions&key-marker=%FF", nil, "InvalidArgument"},
		{"header section", http.MethodGet, "/edge/k", http.Header{"X-Amz-Meta-Big": {strings.Repeat("a", 9000)}}, "RequestHeaderSectionTooLarge"},
		{"sse on get", http.MethodGet, "/edge/k", http.Header{"X-Amz-Server-Side-Encryption": {"AES256"}}, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			var n int64
			if tc.method == http.MethodPut {
				body, n = strings.NewReader("x"), 1
			}
			var req *http.Request
			if body != nil {
				req = e.signedRequest(tc.method, tc.path, body, n, tc.header)
			} else {
				req = e.signedRequest(tc.method, tc.path, nil, 0, tc.header)
			}
			resp, data := e.do(req)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", data)
			require.Contains(t, string(data), "<Code>"+tc.code+"</Code>")
		})
	}
	resp, _ := e.do(e.signedRequest(http.MethodHead, "/edge/k", nil, 0, http.Header{"X-Amz-Server-Side-Encryption": {"AES256"}}))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = e.do(e.signedRequest(http.MethodGet, "/edge/k", nil, 0, http.Header{"X-Amz-Meta-Ok": {strings.Repeat("a", 4000)}}))
	require.Equal(t, http.StatusOK, resp.StatusCode, "a header section under 8 KiB is served")
	resp, _ = e.do(e.signedRequest(http.MethodGet, "/edge?list-type=2&prefix=caf%C3%A9", nil, 0, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode, "valid UTF-8 is served")
}

func TestWithoutAWSChunked(t *testing.T) {
	cases := map[string]string{
		"deflate, gzip":         "deflate, gzip",
		"gzip":                  "gzip",
		"aws-chunked":           "",
		"aws-chunked,gzip":      "gzip",
		"aws-chunked, br, gzip": "br, gzip",
		"gzip ,AWS-CHUNKED":     "gzip",
		"identity,  compress":   "identity,  compress",
	}
	for in, want := range cases {
		require.Equal(t, want, withoutAWSChunked(in), in)
	}
}

// TestHeadersVerbatim: a Content-Encoding list comes back as sent.
func TestHeadersVerbatim(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("verb")
	h := http.Header{"Content-Encoding": {"deflate, gzip"}}
	resp, body := e.do(e.signedRequest(http.MethodPut, "/verb/k", strings.NewReader("x"), 1, h))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	resp, _ = e.do(e.signedRequest(http.MethodHead, "/verb/k", nil, 0, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "deflate, gzip", resp.Header.Get("Content-Encoding"))
}

func TestPolicyNotUTF8(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("pol")
	doc := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*","Sid":"` + "\xff" + `"}]}`
	resp, body := e.do(e.signedRequest(http.MethodPut, "/pol?policy", strings.NewReader(doc), int64(len(doc)), nil))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), "<Code>MalformedPolicy</Code>")
}
