package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/s3err"
)

func corsDoc(rules ...string) string {
	return "<CORSConfiguration>" + strings.Join(rules, "") + "</CORSConfiguration>"
}

func TestParseCORS(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
	}
	cases := []struct {
		name, doc string
		code      string // "" accepted
	}{
		{"minimal", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"), ""},
		{"full", corsDoc(`<CORSRule><ID>r</ID><AllowedHeader>x-amz-*</AllowedHeader><AllowedMethod>PUT</AllowedMethod><AllowedMethod>DELETE</AllowedMethod><AllowedOrigin>https://*.example.com</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>`), ""},
		{"no rules", corsDoc(), "MalformedXML"},
		{"100 rules", corsDoc(many[:100]...), ""},
		{"101 rules", corsDoc(many...), "MalformedXML"},
		{"no origin", corsDoc("<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"), "MalformedXML"},
		{"no method", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>"), "MalformedXML"},
		{"bad method", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>"), "InvalidRequest"},
		{"lower-case method", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod></CORSRule>"), "InvalidRequest"},
		{"two wildcards in origin", corsDoc("<CORSRule><AllowedOrigin>*.example.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"), "InvalidRequest"},
		{"two wildcards in header", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>*-*</AllowedHeader></CORSRule>"), "InvalidRequest"},
		{"wildcard expose header", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>x-*</ExposeHeader></CORSRule>"), "InvalidRequest"},
		{"negative max age", corsDoc("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule>"), "MalformedXML"},
		{"not xml", "{", "MalformedXML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCORS([]byte(tc.doc))
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.code, s3err.FromError(err).Code, "err: %v", err)
		})
	}
}

func TestMatchCORS(t *testing.T) {
	conf, err := parseCORS([]byte(corsDoc(
		"<CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>Content-*</AllowedHeader><AllowedHeader>x-amz-date</AllowedHeader></CORSRule>",
		"<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>",
	)))
	require.NoError(t, err)
	cases := []struct {
		origin, method string
		headers        []string
		rule           int // -1 none
	}{
		{"https://app.example.com", "PUT", []string{"content-type", "X-Amz-Date"}, 0},
		{"https://app.example.com", "PUT", []string{"authorization"}, -1},
		{"http://app.example.com", "PUT", nil, -1},
		{"https://example.com", "PUT", nil, -1},
		{"http://anything", "GET", nil, 1},
		{"http://anything", "GET", []string{"x-custom"}, -1},
		{"http://anything", "DELETE", nil, -1},
	}
	for _, tc := range cases {
		t.Run(tc.origin+" "+tc.method+" "+strings.Join(tc.headers, ","), func(t *testing.T) {
			r := matchCORS(conf, tc.origin, tc.method, tc.headers)
			if tc.rule < 0 {
				require.Nil(t, r)
				return
			}
			require.Same(t, &conf.Rules[tc.rule], r)
		})
	}
}

func TestBucketCORS(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("web")
	e.put("web", "page.html", []byte("<p>hi</p>"))
	b := aws.String("web")

	preflight := func(origin, method, headers string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodOptions, e.srv.URL+"/web/page.html", nil)
		require.NoError(t, err)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if method != "" {
			req.Header.Set("Access-Control-Request-Method", method)
		}
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		resp, body := e.do(req)
		return resp, string(body)
	}

	_, err := e.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	requireS3Error(t, err, "NoSuchCORSConfiguration", http.StatusNotFound)
	resp, body := preflight("https://app.example.com", "GET", "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "CORS is not enabled for this bucket")

	_, err = e.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{
			AllowedOrigins: []string{"https://*.example.com"},
			AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag", "x-amz-request-id"},
			MaxAgeSeconds:  aws.Int32(600),
		},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"HEAD"}},
	}}})
	require.NoError(t, err)
	got, err := e.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	require.NoError(t, err)
	require.Len(t, got.CORSRules, 2)
	require.Equal(t, []string{"ETag", "x-amz-request-id"}, got.CORSRules[0].ExposeHeaders)
	require.Equal(t, int32(600), aws.ToInt32(got.CORSRules[0].MaxAgeSeconds))

	_, err = e.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"TRACE"}},
	}}})
	requireS3Error(t, err, "InvalidRequest", http.StatusBadRequest)

	t.Run("preflight allowed", func(t *testing.T) {
		resp, _ := preflight("https://app.example.com", "PUT", "Content-Type, X-Amz-Meta-Foo")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		h := resp.Header
		require.Equal(t, "https://app.example.com", h.Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", h.Get("Access-Control-Allow-Credentials"))
		require.Equal(t, "GET, PUT", h.Get("Access-Control-Allow-Methods"))
		require.Equal(t, "Content-Type, X-Amz-Meta-Foo", h.Get("Access-Control-Allow-Headers"), "requested headers are echoed")
		require.Equal(t, "ETag, x-amz-request-id", h.Get("Access-Control-Expose-Headers"))
		require.Equal(t, "600", h.Get("Access-Control-Max-Age"))
		require.Contains(t, h.Get("Vary"), "Origin")
	})
	t.Run("preflight any origin", func(t *testing.T) {
		resp, _ := preflight("http://elsewhere", "HEAD", "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"))
	})
	t.Run("preflight refused", func(t *testing.T) {
		for _, c := range [][2]string{{"http://elsewhere", "GET"}, {"https://app.example.com", "DELETE"}} {
			resp, body := preflight(c[0], c[1], "")
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			require.Contains(t, body, "CORSResponse: This CORS request is not allowed")
			require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		resp, _ := preflight("", "GET", "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp, _ = preflight("https://app.example.com", "", "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("actual requests", func(t *testing.T) {
		ps := s3.NewPresignClient(e.client)
		for key, status := range map[string]int{"page.html": http.StatusOK, "missing": http.StatusNotFound} {
			pre, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)}, s3.WithPresignExpires(time.Minute))
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodGet, pre.URL, nil)
			require.NoError(t, err)
			req.Header.Set("Origin", "https://app.example.com")
			resp, _ := e.do(req)
			require.Equal(t, status, resp.StatusCode)
			require.Equal(t, "https://app.example.com", resp.Header.Get("Access-Control-Allow-Origin"), "presigned %s", key)
			require.Equal(t, "ETag, x-amz-request-id", resp.Header.Get("Access-Control-Expose-Headers"))
		}
		// A refused (unsigned) request still carries the headers, so the
		// page's script can read the error.
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/web/page.html", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "https://app.example.com")
		resp, _ := e.do(req)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, "https://app.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
		// An origin no rule allows gets no CORS headers.
		req.Header.Set("Origin", "https://evil.test")
		resp, _ = e.do(req)
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	})

	_, err = e.client.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: b})
	require.NoError(t, err)
	_, err = e.client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	requireS3Error(t, err, "NoSuchCORSConfiguration", http.StatusNotFound)
}
