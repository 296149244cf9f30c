package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"
)

const (
	rootKey    = "ROOTACCESSKEY"
	rootSecret = "root-secret"
	userKey    = "USERACCESSKEY"
	userSecret = "user-secret"
)

// fakeS3 checks each request's SigV4 signature by signing it again with
// the secret it knows for the access key, and answers ListBuckets and
// CreateBucket; anything else is 501.
type fakeS3 struct {
	t       *testing.T
	secrets map[string]string

	mu      sync.Mutex
	created []string
	callers []string
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	ak := between(auth, "Credential=", "/")
	secret, ok := f.secrets[ak]
	if !ok || !f.signatureOK(r, secret) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>")
		return
	}
	f.mu.Lock()
	f.callers = append(f.callers, ak)
	f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		_, _ = io.WriteString(w, "<ListAllMyBucketsResult><Buckets><Bucket><Name>b1</Name></Bucket></Buckets></ListAllMyBucketsResult>")
	case r.Method == http.MethodPut && strings.Count(r.URL.Path, "/") == 1:
		f.mu.Lock()
		f.created = append(f.created, strings.TrimPrefix(r.URL.Path, "/"))
		f.mu.Unlock()
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

func (f *fakeS3) signatureOK(r *http.Request, secret string) bool {
	clone := r.Clone(context.Background())
	clone.Header.Del("Authorization")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	ak := between(r.Header.Get("Authorization"), "Credential=", "/")
	err = newSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: secret}, clone,
		r.Header.Get("X-Amz-Content-Sha256"), "s3", "us-east-1", when)
	return err == nil && clone.Header.Get("Authorization") == r.Header.Get("Authorization")
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	c   *Console
	s3  *fakeS3
	clk *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{s3: &fakeS3{t: t, secrets: map[string]string{rootKey: rootSecret, userKey: userSecret}}, clk: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	c, err := New(Config{S3: f.s3, S3Host: "127.0.0.1:9000", RootAccessKey: rootKey, SessionTTL: time.Hour, Now: f.clk.now})
	require.NoError(t, err)
	f.c = c
	return f
}

func (f *fixture) do(method, path, body string, hdr map[string]string, cookie *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	return w
}

// login signs in and returns the session cookie and CSRF token.
func (f *fixture) login(t *testing.T, ak, sk string) (*http.Cookie, string) {
	t.Helper()
	w := f.do("POST", "/api/login", `{"accessKey":"`+ak+`","secretKey":"`+sk+`"}`, nil, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var s sessionResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	return cookies[0], s.CSRF
}

func TestLoginCookie(t *testing.T) {
	f := newFixture(t)
	// httptest's requests name example.com as their host.
	w := f.do("POST", "/api/login", `{"accessKey":"`+userKey+`","secretKey":"`+userSecret+`"}`, map[string]string{"Origin": "http://example.com"}, nil)
	require.Equal(t, http.StatusOK, w.Code)
	c := w.Result().Cookies()[0]
	require.Equal(t, cookieName, c.Name)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.GreaterOrEqual(t, len(c.Value), 40, "a 256-bit token")
	require.NotContains(t, w.Body.String(), userSecret, "the secret never goes back to the browser")
	var s sessionResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
	require.False(t, s.Root)
	require.NotEmpty(t, s.CSRF)
	require.NotEqual(t, c.Value, s.CSRF)
}

func TestAuth(t *testing.T) {
	const newBucket = `{"name":"made"}`
	tests := []struct {
		name   string
		ak, sk string // sign in with these first; "" for none
		method string
		path   string
		body   string
		csrf   string // "ok" for the session's token
		expire time.Duration
		logout bool
		want   int
	}{
		{name: "no cookie", method: "GET", path: "/api/buckets", want: http.StatusUnauthorized},
		{name: "no cookie write", method: "POST", path: "/api/buckets", body: newBucket, want: http.StatusUnauthorized},
		{name: "signed in", ak: userKey, sk: userSecret, method: "GET", path: "/api/buckets", want: http.StatusOK},
		{name: "csrf missing", ak: userKey, sk: userSecret, method: "POST", path: "/api/buckets", body: newBucket, want: http.StatusForbidden},
		{name: "csrf wrong", ak: userKey, sk: userSecret, method: "POST", path: "/api/buckets", body: newBucket, csrf: "forged", want: http.StatusForbidden},
		{name: "csrf ok", ak: userKey, sk: userSecret, method: "POST", path: "/api/buckets", body: newBucket, csrf: "ok", want: http.StatusCreated},
		{name: "csrf missing on delete", ak: userKey, sk: userSecret, method: "DELETE", path: "/api/buckets/b1", want: http.StatusForbidden},
		{name: "expired session", ak: userKey, sk: userSecret, method: "GET", path: "/api/buckets", expire: time.Hour, want: http.StatusUnauthorized},
		{name: "just before expiry", ak: userKey, sk: userSecret, method: "GET", path: "/api/buckets", expire: time.Hour - time.Second, want: http.StatusOK},
		{name: "signed out", ak: userKey, sk: userSecret, method: "GET", path: "/api/buckets", logout: true, want: http.StatusUnauthorized},
		{name: "user may not see the cluster", ak: userKey, sk: userSecret, method: "GET", path: "/api/cluster", want: http.StatusForbidden},
		{name: "user may not list users", ak: userKey, sk: userSecret, method: "GET", path: "/api/users", want: http.StatusForbidden},
		{name: "root without meta", ak: rootKey, sk: rootSecret, method: "GET", path: "/api/cluster", want: http.StatusNotImplemented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var cookie *http.Cookie
			hdr := map[string]string{}
			if tc.ak != "" {
				var csrf string
				cookie, csrf = f.login(t, tc.ak, tc.sk)
				switch tc.csrf {
				case "ok":
					hdr[csrfHeader] = csrf
				case "":
				default:
					hdr[csrfHeader] = tc.csrf
				}
				if tc.logout {
					w := f.do("POST", "/api/logout", "", map[string]string{csrfHeader: csrf}, cookie)
					require.Equal(t, http.StatusNoContent, w.Code)
				}
			}
			f.clk.add(tc.expire)
			w := f.do(tc.method, tc.path, tc.body, hdr, cookie)
			require.Equal(t, tc.want, w.Code, w.Body.String())
		})
	}
}

// TestWrongSecretAfterRightOne guards against signing keys cached by
// access key: a right sign-in must not make a later wrong secret pass, nor
// a wrong one make the right one fail.
func TestWrongSecretAfterRightOne(t *testing.T) {
	f := newFixture(t)
	f.login(t, userKey, userSecret)
	w := f.do("POST", "/api/login", `{"accessKey":"`+userKey+`","secretKey":"not-it"}`, nil, nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	w = f.do("POST", "/api/login", `{"accessKey":"`+rootKey+`","secretKey":"not-it"}`, nil, nil)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	f.login(t, rootKey, rootSecret)
}

func TestLoginRefused(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{"wrong secret", `{"accessKey":"` + userKey + `","secretKey":"nope"}`, http.StatusUnauthorized},
		{"unknown key", `{"accessKey":"NOBODY","secretKey":"x"}`, http.StatusUnauthorized},
		{"empty", `{"accessKey":"","secretKey":""}`, http.StatusUnauthorized},
		{"not json", `accessKey=x`, http.StatusBadRequest},
		{"from another site", `{"accessKey":"` + userKey + `","secretKey":"` + userSecret + `"}`, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			hdr := map[string]string{}
			if tc.name == "from another site" {
				hdr["Origin"] = "https://evil.example"
			}
			w := f.do("POST", "/api/login", tc.body, hdr, nil)
			require.Equal(t, tc.want, w.Code, w.Body.String())
			require.Empty(t, w.Result().Cookies(), "no session for refused credentials")
		})
	}
}

// TestActsAsUser checks that the console's S3 calls are signed with the
// signed-in user's credentials, not the root's.
func TestActsAsUser(t *testing.T) {
	f := newFixture(t)
	cookie, csrf := f.login(t, userKey, userSecret)
	w := f.do("POST", "/api/buckets", `{"name":"mine"}`, map[string]string{csrfHeader: csrf}, cookie)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.Equal(t, []string{"mine"}, f.s3.created)
	for _, ak := range f.s3.callers {
		require.Equal(t, userKey, ak)
	}
}

func TestSessionTableBounded(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	s := newSessions(time.Hour, clk.now)
	s.max = 50
	first := s.create("a", "b", false)
	for range s.max {
		clk.add(time.Millisecond)
		s.create("a", "b", false)
	}
	require.Nil(t, s.lookup(first.token), "the oldest session made room")
	s.mu.Lock()
	n := len(s.mu.byToken)
	s.mu.Unlock()
	require.Equal(t, s.max, n)
}
