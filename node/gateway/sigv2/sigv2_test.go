package sigv2

import (
	"context"
	stdb64 "encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/cairn-io/cairn/node/gateway/sigv4"
)

// The credentials of AWS's Version 2 documentation examples.
const (
	exampleAK     = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

type creds map[string]string

func (c creds) SecretKey(_ context.Context, ak string) (string, error) {
	s, ok := c[ak]
	if !ok {
		return "", fmt.Errorf("no key %q: %w", ak, sigv4.ErrInvalidAccessKeyID)
	}
	return s, nil
}

func newRequest(method, target, host string, headers map[string]string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

// TestAWSExamples checks the string to sign and signature of each example
// of S3's "Signing and authenticating REST requests" (Version 2).
func TestAWSExamples(t *testing.T) {
	tests := []struct {
		name, method, target, host, hostBucket string
		headers                                map[string]string
		date                                   string
		dateInPlace                            bool
		wantSTS, wantSig                       string
	}{
		{
			name: "object GET", method: "GET", target: "/photos/puppy.jpg",
			host: "awsexamplebucket1.us-west-1.s3.amazonaws.com", hostBucket: "awsexamplebucket1",
			headers: map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000"},
			date:    "Tue, 27 Mar 2007 19:36:42 +0000",
			wantSTS: "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg",
			wantSig: "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
		},
		{
			name: "object PUT", method: "PUT", target: "/photos/puppy.jpg",
			host: "awsexamplebucket1.s3.us-west-1.amazonaws.com", hostBucket: "awsexamplebucket1",
			headers: map[string]string{"Date": "Tue, 27 Mar 2007 21:15:45 +0000", "Content-Type": "image/jpeg", "Content-Length": "94328"},
			date:    "Tue, 27 Mar 2007 21:15:45 +0000",
			wantSTS: "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg",
			wantSig: "iqRzw+ileNPu1fhspnRs8nOjjIA=",
		},
		{
			name: "list", method: "GET", target: "/?prefix=photos&max-keys=50&marker=puppy",
			host: "awsexamplebucket1.s3.us-west-1.amazonaws.com", hostBucket: "awsexamplebucket1",
			headers: map[string]string{"Date": "Tue, 27 Mar 2007 19:42:41 +0000", "User-Agent": "Mozilla/5.0"},
			date:    "Tue, 27 Mar 2007 19:42:41 +0000",
			wantSTS: "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/",
			wantSig: "m0WP8eCtspQl5Ahe6L1SozdX9YA=",
		},
		{
			name: "fetch ACL", method: "GET", target: "/?acl",
			host: "awsexamplebucket1.s3.us-west-1.amazonaws.com", hostBucket: "awsexamplebucket1",
			headers: map[string]string{"Date": "Tue, 27 Mar 2007 19:44:46 +0000"},
			date:    "Tue, 27 Mar 2007 19:44:46 +0000",
			wantSTS: "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/awsexamplebucket1/?acl",
			wantSig: "82ZHiFIjc+WbcwFKGUVEQspPn+0=",
		},
		{
			name: "delete, path style, x-amz-date", method: "DELETE", target: "/awsexamplebucket1/photos/puppy.jpg",
			host:    "s3.us-west-1.amazonaws.com",
			headers: map[string]string{"Date": "Tue, 27 Mar 2007 21:20:27 +0000", "x-amz-date": "Tue, 27 Mar 2007 21:20:26 +0000"},
			// S3's example signs x-amz-date in the Date line; the rule it
			// states (empty Date line) is checked in TestVerifyErrors.
			date: "Tue, 27 Mar 2007 21:20:26 +0000", dateInPlace: true,
			wantSTS: "DELETE\n\n\nTue, 27 Mar 2007 21:20:26 +0000\n/awsexamplebucket1/photos/puppy.jpg",
			wantSig: "XbyTlbQdu9Xw5o8P4iMwPktxQd8=",
		},
		{
			name: "list all buckets", method: "GET", target: "/",
			host:    "s3.us-west-1.amazonaws.com",
			headers: map[string]string{"Date": "Wed, 28 Mar 2007 01:29:59 +0000"},
			date:    "Wed, 28 Mar 2007 01:29:59 +0000",
			wantSTS: "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/",
			wantSig: "qGdzdERIC03wnaRNKh6OqZehG9s=",
		},
		{
			name: "unicode keys", method: "GET", target: "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
			host:    "s3.us-west-1.amazonaws.com",
			headers: map[string]string{"Date": "Wed, 28 Mar 2007 01:49:49 +0000"},
			date:    "Wed, 28 Mar 2007 01:49:49 +0000",
			wantSTS: "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
			wantSig: "DNEZGsoieTZ92F3bUfSPQcbGmlM=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(tc.method, tc.target, tc.host, tc.headers)
			sts := StringToSign(r, tc.hostBucket, tc.date, Form{DateInPlace: tc.dateInPlace})
			if sts != tc.wantSTS {
				t.Fatalf("string to sign\n%q\nwant\n%q", sts, tc.wantSTS)
			}
			if got := b64(Sign(exampleSecret, sts)); got != tc.wantSig {
				t.Fatalf("signature %s, want %s", got, tc.wantSig)
			}
			// The verifier accepts the documented request at its own time.
			when, err := http.ParseTime(tc.headers["Date"])
			if err != nil {
				when, _ = time.Parse(time.RFC1123Z, tc.headers["Date"])
			}
			v := &Verifier{Creds: creds{exampleAK: exampleSecret}, Now: func() time.Time { return when }}
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+tc.wantSig)
			if ak, err := v.Verify(r, tc.hostBucket); err != nil || ak != exampleAK {
				t.Fatalf("Verify = %q, %v", ak, err)
			}
		})
	}
}

func b64(b []byte) string {
	return base64Encode(b)
}

func base64Encode(b []byte) string { return stdb64.StdEncoding.EncodeToString(b) }

// TestQueryStringExample is the query-string example of the same
// documentation: a GET of photos/puppy.jpg valid until 1175139620 (its
// signature is of the bucket the example was first written for).
func TestQueryStringExample(t *testing.T) {
	const target = "/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620"
	r := newRequest("GET", target, "johnsmith.s3.amazonaws.com", nil)
	want := "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
	if sts := StringToSign(r, "johnsmith", "1175139620", Form{}); sts != want {
		t.Fatalf("string to sign %q, want %q", sts, want)
	}
	v := &Verifier{Creds: creds{exampleAK: exampleSecret}, Now: func() time.Time { return time.Unix(1175139620, 0) }}
	if _, err := v.Verify(r, "johnsmith"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	sign := func(r *http.Request, d string) string {
		return b64(Sign(exampleSecret, StringToSign(r, "", d, Form{})))
	}
	tests := []struct {
		name  string
		build func() *http.Request
		want  error
	}{
		{"good header", func() *http.Request {
			r := newRequest("PUT", "/b/k?uploadId=u1&partNumber=2", "h", map[string]string{"Date": date, "X-Amz-Meta-A": "  x   y ", "Content-Type": "text/plain"})
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+sign(r, date))
			return r
		}, nil},
		{"tampered", func() *http.Request {
			r := newRequest("PUT", "/b/k", "h", map[string]string{"Date": date})
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+sign(r, date))
			r.Header.Set("X-Amz-Acl", "public-read")
			return r
		}, sigv4.ErrSignatureDoesNotMatch},
		{"wrong secret", func() *http.Request {
			r := newRequest("GET", "/b/k", "h", map[string]string{"Date": date})
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+b64(Sign("other", StringToSign(r, "", date, Form{}))))
			return r
		}, sigv4.ErrSignatureDoesNotMatch},
		{"unknown key", func() *http.Request {
			r := newRequest("GET", "/b/k", "h", map[string]string{"Date": date})
			r.Header.Set("Authorization", "AWS NOPE:"+sign(r, date))
			return r
		}, sigv4.ErrInvalidAccessKeyID},
		{"x-amz-date, empty Date line", func() *http.Request {
			r := newRequest("DELETE", "/b/k", "h", map[string]string{"X-Amz-Date": date})
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+sign(r, ""))
			return r
		}, nil},
		{"no colon", func() *http.Request {
			r := newRequest("GET", "/b/k", "h", map[string]string{"Date": date, "Authorization": "AWS " + exampleAK})
			return r
		}, ErrMalformedHeader},
		{"no date", func() *http.Request {
			r := newRequest("GET", "/b/k", "h", nil)
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+sign(r, ""))
			return r
		}, sigv4.ErrMissingDate},
		{"skewed", func() *http.Request {
			d := now.Add(-16 * time.Minute).Format(http.TimeFormat)
			r := newRequest("GET", "/b/k", "h", map[string]string{"Date": d})
			r.Header.Set("Authorization", "AWS "+exampleAK+":"+sign(r, d))
			return r
		}, sigv4.ErrRequestTimeTooSkewed},
		{"good query", func() *http.Request {
			exp := fmt.Sprint(now.Unix() + 60)
			r := newRequest("GET", "/b/k?versionId=v1", "h", nil)
			r.URL.RawQuery += "&AWSAccessKeyId=" + exampleAK + "&Expires=" + exp + "&Signature=" + urlEscape(sign(r, exp))
			return r
		}, nil},
		{"expired query", func() *http.Request {
			exp := fmt.Sprint(now.Unix() - 1)
			r := newRequest("GET", "/b/k", "h", nil)
			r.URL.RawQuery = "AWSAccessKeyId=" + exampleAK + "&Expires=" + exp + "&Signature=" + urlEscape(sign(r, exp))
			return r
		}, sigv4.ErrRequestExpired},
		{"query without Expires", func() *http.Request {
			r := newRequest("GET", "/b/k?AWSAccessKeyId="+exampleAK+"&Signature=x", "h", nil)
			return r
		}, ErrMissingQueryParams},
		{"query Expires not a number", func() *http.Request {
			r := newRequest("GET", "/b/k?AWSAccessKeyId="+exampleAK+"&Signature=x&Expires=soon", "h", nil)
			return r
		}, ErrInvalidExpires},
	}
	v := &Verifier{Creds: creds{exampleAK: exampleSecret}, Now: func() time.Time { return now }}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.build()
			if !Present(r) {
				t.Fatal("Present = false for a Version 2 request")
			}
			_, err := v.Verify(r, "")
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCanonicalResourceSubresources(t *testing.T) {
	tests := []struct{ target, want string }{
		{"/b/k?uploads", "/b/k?uploads"},
		{"/b/k?partNumber=2&uploadId=abc", "/b/k?partNumber=2&uploadId=abc"},
		{"/b/k?versionId=1&response-content-type=text%2Fplain&x-id=GetObject", "/b/k?response-content-type=text/plain&versionId=1"},
		{"/b?list-type=2&prefix=a", "/b"},
		{"/b?tagging=", "/b?tagging"},
	}
	for _, tc := range tests {
		r := newRequest("GET", tc.target, "h", nil)
		if got := canonicalResource(r, "", false); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.target, got, tc.want)
		}
	}
}

func urlEscape(s string) string { return url.QueryEscape(s) }
