package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

var signTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// sdkSign signs r in place with the AWS SDK's signer configured as its S3
// client configures it (the path is signed as sent, not escaped again).
func sdkSign(t *testing.T, r *http.Request, payloadHash, accessKey, secret, region string, at time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
	require.NoError(t, signer.SignHTTP(context.Background(), creds, r, payloadHash, "s3", region, at))
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVerifyHeaderErrors(t *testing.T) {
	body := []byte("hello, cairn")
	build := func(t *testing.T) *http.Request {
		r := serverRequest("PUT", "/bucket/key%20with%2Bplus", "cairn.local:9000",
			map[string]string{"X-Amz-Meta-Color": "  deep   blue ", "Content-Type": "text/plain"}, body)
		sdkSign(t, r, hexSHA256(body), exampleAccessKey, exampleSecret, "us-east-1", signTime)
		return r
	}
	tests := []struct {
		name    string
		mutate  func(t *testing.T, r *http.Request, v *Verifier)
		wantErr error
	}{
		{"valid", func(*testing.T, *http.Request, *Verifier) {}, nil},
		{"within skew", func(_ *testing.T, _ *http.Request, v *Verifier) {
			v.Now = func() time.Time { return signTime.Add(14 * time.Minute) }
		}, nil},
		{"region pinned and matching", func(_ *testing.T, _ *http.Request, v *Verifier) { v.Region = "us-east-1" }, nil},
		{"unknown access key", func(_ *testing.T, _ *http.Request, v *Verifier) { v.Creds = staticCreds{"SOMEONEELSE": exampleSecret} }, ErrInvalidAccessKeyID},
		{"wrong secret", func(t *testing.T, r *http.Request, _ *Verifier) {
			sdkSign(t, r, hexSHA256(body), exampleAccessKey, "not-the-secret", "us-east-1", signTime)
		}, ErrSignatureDoesNotMatch},
		{"signed header changed", func(_ *testing.T, r *http.Request, _ *Verifier) { r.Header.Set("X-Amz-Meta-Color", "red") }, ErrSignatureDoesNotMatch},
		{"path changed", func(_ *testing.T, r *http.Request, _ *Verifier) { r.RequestURI = "/bucket/key%20with%2Bplus2" }, ErrSignatureDoesNotMatch},
		{"escaped slash is not a slash", func(_ *testing.T, r *http.Request, _ *Verifier) { r.RequestURI = "/bucket%2Fkey%20with%2Bplus" }, ErrSignatureDoesNotMatch},
		// S3 canonicalises the path by encoding it once: a raw '+' on the
		// request line is the '+' the signer encoded as %2B.
		{"raw plus equals encoded plus", func(_ *testing.T, r *http.Request, _ *Verifier) { r.RequestURI = "/bucket/key%20with+plus" }, nil},
		{"query added", func(_ *testing.T, r *http.Request, _ *Verifier) { r.URL.RawQuery = "acl" }, ErrSignatureDoesNotMatch},
		{"method changed", func(_ *testing.T, r *http.Request, _ *Verifier) { r.Method = "POST" }, ErrSignatureDoesNotMatch},
		{"skewed late", func(_ *testing.T, _ *http.Request, v *Verifier) {
			v.Now = func() time.Time { return signTime.Add(16 * time.Minute) }
		}, ErrRequestTimeTooSkewed},
		{"skewed early", func(_ *testing.T, _ *http.Request, v *Verifier) {
			v.Now = func() time.Time { return signTime.Add(-16 * time.Minute) }
		}, ErrRequestTimeTooSkewed},
		{"custom skew", func(_ *testing.T, _ *http.Request, v *Verifier) {
			v.MaxSkew = time.Minute
			v.Now = func() time.Time { return signTime.Add(2 * time.Minute) }
		}, ErrRequestTimeTooSkewed},
		{"no date", func(_ *testing.T, r *http.Request, _ *Verifier) { r.Header.Del("X-Amz-Date") }, ErrMissingDate},
		{"bad date", func(_ *testing.T, r *http.Request, _ *Verifier) { r.Header.Set("X-Amz-Date", "yesterday") }, ErrMissingDate},
		{"date header only, scope mismatch", func(_ *testing.T, r *http.Request, _ *Verifier) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", "Sat, 15 Mar 2025 00:00:00 GMT")
		}, ErrAuthorizationMalformed},
		{"no content sha256", func(_ *testing.T, r *http.Request, _ *Verifier) { r.Header.Del("X-Amz-Content-Sha256") }, ErrMissingContentSHA256},
		{"invalid content sha256", func(_ *testing.T, r *http.Request, _ *Verifier) { r.Header.Set("X-Amz-Content-Sha256", "abc") }, ErrInvalidContentSHA256},
		{"sigv4a streaming", func(_ *testing.T, r *http.Request, _ *Verifier) {
			r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")
		}, ErrUnsupportedAlgorithm},
		{"region pinned elsewhere", func(_ *testing.T, _ *http.Request, v *Verifier) { v.Region = "eu-west-1" }, ErrAuthorizationMalformed},
		{"also presigned", func(_ *testing.T, r *http.Request, _ *Verifier) { r.URL.RawQuery = "X-Amz-Signature=00" }, ErrAuthorizationMalformed},
		{"signature v2", func(_ *testing.T, r *http.Request, _ *Verifier) {
			r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")
		}, ErrUnsupportedAlgorithm},
		{"no credentials configured", func(_ *testing.T, _ *http.Request, v *Verifier) { v.Creds = nil }, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t)
			v := newVerifier(signTime)
			tc.mutate(t, r, v)
			res, err := v.Verify(r)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Nil(t, res)
				return
			}
			require.NoError(t, err)
			require.Equal(t, exampleAccessKey, res.AccessKey)
			got, err := readBody(t, res)
			require.NoError(t, err)
			require.Equal(t, body, got)
		})
	}
}

func TestVerifyDateHeaderOnly(t *testing.T) {
	r := serverRequest("GET", "/bucket/key", "cairn.local", nil, nil)
	r.Header.Set("Date", signTime.Format(http.TimeFormat))
	r.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	// Sign as a client that uses Date: the string to sign carries its ISO form.
	a := authorization{cred: credential{accessKey: exampleAccessKey, date: "20250314", region: "us-east-1", service: "s3"},
		signedHeaders: "date;host;x-amz-content-sha256", headerNames: []string{"date", "host", "x-amz-content-sha256"}}
	key := deriveKey(exampleSecret, "20250314", "us-east-1", "s3")
	canon := canonicalRequest("GET", "/bucket/key", "", canonicalHeaders(r, a.headerNames), a.signedHeaders, unsignedPayload)
	sig := hmacSHA256(key, stringToSign("20250314T150926Z", a.cred.scope(), canon))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+exampleAccessKey+"/"+a.cred.scope()+", SignedHeaders="+a.signedHeaders+", Signature="+hex.EncodeToString(sig))
	res, err := newVerifier(signTime).Verify(r)
	require.NoError(t, err)
	require.Equal(t, exampleAccessKey, res.AccessKey)
}

func TestVerifyAnonymous(t *testing.T) {
	data := bytes.Repeat([]byte("xyz"), 5000)
	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		want    []byte
		wantErr error
		bodyErr error
		alg     checksum.Algorithm
	}{
		{"plain", nil, []byte("hi"), []byte("hi"), nil, nil, ""},
		{"hex hash ok", map[string]string{"X-Amz-Content-Sha256": hexSHA256([]byte("hi"))}, []byte("hi"), []byte("hi"), nil, nil, ""},
		{"hex hash mismatch", map[string]string{"X-Amz-Content-Sha256": hexSHA256([]byte("ho"))}, []byte("hi"), []byte("hi"), nil, ErrContentSHA256Mismatch, ""},
		{"unsigned trailer", map[string]string{
			"X-Amz-Content-Sha256": streamingUnsignedTrailer, "X-Amz-Trailer": "x-amz-checksum-crc32",
			"X-Amz-Decoded-Content-Length": "15000",
		}, encodeChunks(nil, data, 4096, true, "x-amz-checksum-crc32:"+checksumOf(checksum.CRC32, data)), data, nil, nil, checksum.CRC32},
		{"signed chunks need a signature", map[string]string{"X-Amz-Content-Sha256": streamingSigned}, nil, nil, ErrAuthorizationMalformed, nil, ""},
		{"garbage content sha", map[string]string{"X-Amz-Content-Sha256": "nope"}, nil, nil, ErrInvalidContentSHA256, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := newVerifier(signTime).Verify(serverRequest("PUT", "/b/k", "cairn.local", tc.headers, tc.body))
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, res.Anonymous)
			require.Empty(t, res.AccessKey)
			got, err := readBody(t, res)
			if tc.bodyErr != nil {
				require.ErrorIs(t, err, tc.bodyErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			alg, _ := res.TrailerChecksum()
			require.Equal(t, tc.alg, alg)
		})
	}
}

func TestMalformedAuthorization(t *testing.T) {
	const sig = "0000000000000000000000000000000000000000000000000000000000000000"
	const cred = "Credential=AKID/20250314/us-east-1/s3/aws4_request"
	tests := []struct {
		name    string
		header  string
		wantErr error
	}{
		{"no components", "AWS4-HMAC-SHA256", ErrAuthorizationMalformed},
		{"missing signature", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host", ErrAuthorizationMalformed},
		{"duplicate component", "AWS4-HMAC-SHA256 " + cred + ", " + cred + ", SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"unknown component", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig + ", Foo=bar", ErrAuthorizationMalformed},
		{"component without =", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders, Signature=" + sig, ErrAuthorizationMalformed},
		{"short credential", "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1, SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"wrong terminator", "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"wrong service", "AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"bad scope date", "AWS4-HMAC-SHA256 Credential=AKID/2025-03-14/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"empty key", "AWS4-HMAC-SHA256 Credential=/20250314/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AKID/20250314//s3/aws4_request, SignedHeaders=host, Signature=" + sig, ErrAuthorizationMalformed},
		{"host not signed", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, Signature=" + sig, ErrAuthorizationMalformed},
		{"empty header name", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig, ErrAuthorizationMalformed},
		{"short signature", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=abc", ErrAuthorizationMalformed},
		{"non-hex signature", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig[:63] + "g", ErrAuthorizationMalformed},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 " + cred + ", SignedHeaders=host, Signature=" + sig, ErrUnsupportedAlgorithm},
		{"bearer", "Bearer abc", ErrUnsupportedAlgorithm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAuthorization(tc.header)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
	a, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=AK/ID/20250314/eu-west-3/s3/aws4_request,SignedHeaders=Host;x-amz-date,Signature=" + sig)
	require.NoError(t, err)
	require.Equal(t, "AK/ID", a.cred.accessKey)
	require.Equal(t, "eu-west-3", a.cred.region)
	require.Equal(t, []string{"host", "x-amz-date"}, a.headerNames)
	require.Equal(t, "Host;x-amz-date", a.signedHeaders)
}

func TestValidate(t *testing.T) {
	require.ErrorIs(t, (&Verifier{}).Validate(), ErrInvalidConfig)
	require.ErrorIs(t, (&Verifier{Creds: staticCreds{}, MaxSkew: -1}).Validate(), ErrInvalidConfig)
	require.NoError(t, (&Verifier{Creds: staticCreds{}}).Validate())
}

func TestSigningKeyCache(t *testing.T) {
	v := newVerifier(signTime)
	c := credential{accessKey: "a", date: "20250314", region: "us-east-1", service: "s3"}
	k1 := v.signingKey("secret", c)
	require.Equal(t, deriveKey("secret", "20250314", "us-east-1", "s3"), k1)
	require.Equal(t, k1, v.signingKey("secret", c))
	require.NotEqual(t, k1, v.signingKey("other", c))
	c.date = "20250315"
	require.NotEqual(t, k1, v.signingKey("secret", c))
	for i := range maxCachedKeys + 10 {
		c.region = "r" + string(rune('a'+i%26)) + hex.EncodeToString([]byte{byte(i), byte(i >> 8)})
		v.signingKey("secret", c)
	}
	v.mu.Lock()
	n := len(v.mu.keys)
	v.mu.Unlock()
	require.LessOrEqual(t, n, maxCachedKeys)
}
