package gateway

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/sigv2"
)

// v2Request builds a request signed with Signature Version 2, in the header
// form or, with expires set, the query-string form.
func (e *testEnv) v2Request(method, path, body string, header http.Header, secret string, expires int64) *http.Request {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	if expires != 0 {
		exp := fmt.Sprint(expires)
		sig := base64.StdEncoding.EncodeToString(sigv2.Sign(secret, sigv2.StringToSign(req, "", exp, sigv2.Form{})))
		q := "AWSAccessKeyId=" + testAccessKey + "&Expires=" + exp + "&Signature=" + url.QueryEscape(sig)
		if req.URL.RawQuery != "" {
			q = req.URL.RawQuery + "&" + q
		}
		req.URL.RawQuery = q
		return req
	}
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("Date", date)
	sig := base64.StdEncoding.EncodeToString(sigv2.Sign(secret, sigv2.StringToSign(req, "", date, sigv2.Form{})))
	req.Header.Set("Authorization", "AWS "+testAccessKey+":"+sig)
	return req
}

func TestSigV2(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	meta := http.Header{"Content-Type": {"text/plain"}, "X-Amz-Meta-Color": {"blue"}}
	resp, body := e.do(e.v2Request(http.MethodPut, "/bkt/k", "hello", meta, testSecretKey, 0))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	data, out := e.get("bkt", "k")
	require.Equal(t, "hello", string(data))
	require.Equal(t, "blue", out.Metadata["color"])

	future := time.Now().Add(time.Hour).Unix()
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
		body   string
	}{
		{"header GET", e.v2Request(http.MethodGet, "/bkt/k", "", nil, testSecretKey, 0), 200, "", "hello"},
		{"header GET with sub-resource", e.v2Request(http.MethodGet, "/bkt/k?tagging", "", nil, testSecretKey, 0), 200, "", "<Tagging"},
		{"header list", e.v2Request(http.MethodGet, "/bkt?prefix=k", "", nil, testSecretKey, 0), 200, "", "<Key>k</Key>"},
		{"query GET", e.v2Request(http.MethodGet, "/bkt/k", "", nil, testSecretKey, future), 200, "", "hello"},
		{"query GET with override", e.v2Request(http.MethodGet, "/bkt/k?response-content-type=a%2Fb", "", nil, testSecretKey, future), 200, "", "hello"},
		{"wrong secret", e.v2Request(http.MethodGet, "/bkt/k", "", nil, "nope", 0), 403, "SignatureDoesNotMatch", ""},
		{"query expired", e.v2Request(http.MethodGet, "/bkt/k", "", nil, testSecretKey, time.Now().Add(-time.Minute).Unix()), 403, "AccessDenied", "Request has expired"},
		{"malformed header", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/bkt/k", nil)
			r.Header.Set("Authorization", "AWS "+testAccessKey)
			return r
		}(), 400, "InvalidArgument", ""},
		{"query without Expires", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/bkt/k?AWSAccessKeyId="+testAccessKey+"&Signature=abc", nil)
			return r
		}(), 403, "AccessDenied", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(tc.req)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			if tc.code != "" {
				require.Contains(t, string(body), "<Code>"+tc.code+"</Code>")
			}
			require.Contains(t, string(body), tc.body)
		})
	}
	// A tampered header is refused and changes nothing.
	req := e.v2Request(http.MethodDelete, "/bkt/k", "", nil, testSecretKey, 0)
	req.URL.Path = "/bkt/other"
	resp, _ = e.do(req)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.NotNil(t, e.meta.object("bkt", "k"))
}
