package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// These tests send requests the SDK never produces.

func TestMissingContentLength(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	// A body of unknown length goes out with Transfer-Encoding: chunked.
	req := e.signedRequest(http.MethodPut, "/bkt/k", io.MultiReader(strings.NewReader("data")), -1, nil)
	resp, body := e.do(req)
	require.Equal(t, http.StatusLengthRequired, resp.StatusCode)
	require.Contains(t, string(body), "<Code>MissingContentLength</Code>")
	require.Zero(t, e.bodies.writeCount())
	require.Nil(t, e.meta.object("bkt", "k"))
}

func TestRawMethodsAndDefaults(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	resp, _ := e.do(e.signedRequest(http.MethodPut, "/bkt/plain", strings.NewReader("data"), 4, nil))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "binary/octet-stream", e.meta.object("bkt", "plain").GetContentType())

	cases := []struct {
		name, method, path string
		status             int
		code               string // "" for no body
	}{
		{"HEAD missing key has no body", http.MethodHead, "/bkt/absent", 404, ""},
		{"HEAD missing bucket has no body", http.MethodHead, "/nobucket", 404, ""},
		{"POST object", http.MethodPost, "/bkt/plain", 501, "NotImplemented"},
		{"POST restore", http.MethodPost, "/bkt/plain?restore", 501, "NotImplemented"},
		{"PATCH object", http.MethodPatch, "/bkt/plain", 405, "MethodNotAllowed"},
		{"PUT service", http.MethodPut, "/", 405, "MethodNotAllowed"},
		{"GET object torrent", http.MethodGet, "/bkt/plain?torrent", 501, "NotImplemented"},
		{"GET list-type=3", http.MethodGet, "/bkt?list-type=3", 400, "InvalidArgument"},
		{"GET versions with a version marker alone", http.MethodGet, "/bkt?versions&version-id-marker=null", 400, "InvalidArgument"},
		{"GET object with a malformed version", http.MethodGet, "/bkt/plain?versionId=nope", 400, "InvalidArgument"},
		{"GET key too long", http.MethodGet, "/bkt/" + strings.Repeat("x", maxKeyLen+1), 400, "KeyTooLongError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(e.signedRequest(tc.method, tc.path, nil, 0, nil))
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.code == "" {
				require.Empty(t, body)
				return
			}
			require.Contains(t, string(body), "<Code>"+tc.code+"</Code>")
		})
	}
	require.NotNil(t, e.meta.object("bkt", "plain"), "rejected requests have no effect")

	t.Run("malformed CreateBucketConfiguration", func(t *testing.T) {
		resp, body := e.do(e.signedRequest(http.MethodPut, "/newbkt", strings.NewReader("<CreateBucketConfiguration>"), 27, nil))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Contains(t, string(body), "<Code>MalformedXML</Code>")
	})

	t.Run("response overrides", func(t *testing.T) {
		resp, body := e.do(e.signedRequest(http.MethodGet, "/bkt/plain?response-content-type=text%2Fcsv&response-cache-control=no-cache", nil, 0, nil))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "data", string(body))
		require.Equal(t, "text/csv", resp.Header.Get("Content-Type"))
		require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	})
}

// countingReader counts the bytes the client transport read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestExpectContinueRejectsBeforeBody(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	cases := []struct {
		name, path string
		header     http.Header
		code       string
	}{
		{"no such bucket", "/nobucket/k", nil, "NoSuchBucket"},
		{"invalid digest", "/bkt/k", http.Header{"Content-Md5": {"xx"}}, "InvalidDigest"},
		{"metadata too large", "/bkt/k", http.Header{"X-Amz-Meta-Big": {strings.Repeat("m", 3000)}}, "MetadataTooLarge"},
	}
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{r: bytes.NewReader(make([]byte, 1<<20))}
			h := http.Header{"Expect": {"100-continue"}}
			for k, v := range tc.header {
				h[k] = v
			}
			req := e.signedRequest(http.MethodPut, tc.path, body, 1<<20, h)
			resp, err := client.Do(req)
			require.NoError(t, err)
			data, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Contains(t, string(data), "<Code>"+tc.code+"</Code>")
			require.Zero(t, body.n.Load(), "the body must not be requested")
		})
	}
	require.Zero(t, e.bodies.writeCount())
}

func TestClientDisconnectMidBody(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	const size = 1 << 20
	req := e.signedRequest(http.MethodPut, "/bkt/k", strings.NewReader(""), size, nil)

	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "PUT /bkt/k HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, size)
	require.NoError(t, err)
	require.NoError(t, req.Header.Write(conn))
	_, err = io.WriteString(conn, "\r\n")
	require.NoError(t, err)
	_, err = conn.Write(make([]byte, 64<<10))
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	waitFor(t, "the PUT to give up", func() bool { return e.bodies.writeCount() == 1 })
	require.Zero(t, e.meta.putCount(), "nothing may be committed")
	require.Nil(t, e.meta.object("bkt", "k"))
	require.Zero(t, e.bodies.live())
}
