package sigv4

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// outcome is what the test server saw of one request.
type outcome struct {
	accessKey   string
	body        []byte
	err         error
	contentHash string
	alg         checksum.Algorithm
	value       string
}

// sdkServer is an HTTPS server that verifies every request and reports the
// outcome; it answers just enough S3 for the SDK client to be satisfied.
type sdkServer struct {
	srv      *httptest.Server
	outcomes chan outcome
}

func newSDKServer(t *testing.T, v *Verifier) *sdkServer {
	return newSDKServerTLS(t, v, true)
}

func newSDKServerTLS(t *testing.T, v *Verifier, useTLS bool) *sdkServer {
	t.Helper()
	s := &sdkServer{outcomes: make(chan outcome, 64)}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := outcome{contentHash: r.Header.Get("X-Amz-Content-Sha256")}
		res, err := v.Verify(r)
		if err == nil {
			o.accessKey = res.AccessKey
			o.body, err = io.ReadAll(res.Body)
			o.alg, o.value = res.TrailerChecksum()
			_ = res.Body.Close()
		}
		o.err = err
		// Reported before the response, so it is there once the client returns.
		s.outcomes <- o
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
			w.Header().Set("Content-Type", "application/xml")
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		w.Header().Set("ETag", `"0"`)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "content")
		}
	}))
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sdkServer) client(accessKey, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		BaseEndpoint:     aws.String(s.srv.URL),
		UsePathStyle:     true,
		HTTPClient:       s.srv.Client(),
		RetryMaxAttempts: 1,
	})
}

func (s *sdkServer) next(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-s.outcomes:
		return o
	default:
		t.Fatal("the server saw no request")
		return outcome{}
	}
}

var oddKeys = []string{
	"plain.txt",
	"with space.txt",
	"a+b=c&d;e,f.txt",
	"unicode/日本語/€uro.bin",
	"percent%20literal%2Fslash",
	"tilde~star*paren()!'quote",
	"dir/sub//double/",
	"colon:at@dollar$hash#question?",
	"brackets[]{}<>|^`\"back\\slash",
}

// nonSeekable hides Seek so that the SDK must stream the body.
type nonSeekable struct{ io.Reader }

// TestSDKHeaderSigned drives the real S3 client: over HTTPS it streams
// bodies as aws-chunked with a trailing checksum, over plain HTTP it signs the
// body's SHA-256.
func TestSDKHeaderSigned(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		expect string
	}{
		{"https", true, streamingUnsignedTrailer},
		{"http", false, "hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := sdkRoundTrips(t, tc.tls)
			t.Logf("payload forms the SDK used: %v", seen)
			require.True(t, seen[tc.expect], "saw %v", seen)
		})
	}
}

func sdkRoundTrips(t *testing.T, useTLS bool) map[string]bool {
	srv := newSDKServerTLS(t, &Verifier{Creds: staticCreds{exampleAccessKey: exampleSecret}, Region: "us-east-1"}, useTLS)
	c := srv.client(exampleAccessKey, exampleSecret)
	ctx := context.Background()
	seen := map[string]bool{}
	for _, key := range oddKeys {
		t.Run(key, func(t *testing.T) {
			body := strings.Repeat(key, 1000)
			bodies := map[string]io.Reader{"seekable": strings.NewReader(body)}
			if useTLS {
				// Without TLS the SDK refuses to stream an unseekable body.
				bodies["streamed"] = nonSeekable{strings.NewReader(body)}
			}
			for name, rd := range bodies {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String(key), Body: rd,
					ContentLength: aws.Int64(int64(len(body))), ChecksumAlgorithm: "CRC32C",
					Metadata: map[string]string{"note": "  spaced   value "},
				})
				o := srv.next(t)
				require.NoError(t, o.err, name)
				require.NoError(t, err, name)
				require.Equal(t, exampleAccessKey, o.accessKey)
				require.Equal(t, body, string(o.body), name)
				if _, err := classifyPayload(o.contentHash); err == nil && len(o.contentHash) == 64 {
					seen["hex"] = true
				} else {
					seen[o.contentHash] = true
				}
				if o.contentHash == streamingUnsignedTrailer {
					require.Equal(t, checksum.CRC32C, o.alg)
					require.Equal(t, checksumOf(checksum.CRC32C, []byte(body)), o.value)
				}
			}

			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), Range: aws.String("bytes=0-9")})
			require.NoError(t, srv.next(t).err)
			require.NoError(t, err)
			require.NoError(t, out.Body.Close())

			_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"), Prefix: aws.String(key), Delimiter: aws.String("/")})
			require.NoError(t, srv.next(t).err)
			require.NoError(t, err)

			_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
			require.NoError(t, srv.next(t).err)
			require.NoError(t, err)
		})
	}
	return seen
}

func TestSDKWrongCredentials(t *testing.T) {
	srv := newSDKServer(t, &Verifier{Creds: staticCreds{exampleAccessKey: exampleSecret}})
	ctx := context.Background()
	tests := []struct {
		name, key, secret string
		want              error
	}{
		{"wrong secret", exampleAccessKey, "wrong", ErrSignatureDoesNotMatch},
		{"unknown key", "AKIAUNKNOWN", exampleSecret, ErrInvalidAccessKeyID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := srv.client(tc.key, tc.secret).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
			require.Error(t, err)
			require.ErrorIs(t, srv.next(t).err, tc.want)
		})
	}
}

func TestSDKPresigned(t *testing.T) {
	now := time.Now()
	clock := now
	v := &Verifier{Creds: staticCreds{exampleAccessKey: exampleSecret}, Now: func() time.Time { return clock }}
	srv := newSDKServer(t, v)
	presigner := s3.NewPresignClient(srv.client(exampleAccessKey, exampleSecret), s3.WithPresignExpires(10*time.Minute))
	ctx := context.Background()
	for _, key := range oddKeys {
		t.Run(key, func(t *testing.T) {
			clock = now
			get, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String(key),
				ResponseContentDisposition: aws.String(`attachment; filename="a b+c.txt"`),
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, doPresigned(t, srv, get.Method, get.URL, get.SignedHeader, ""))
			o := srv.next(t)
			require.NoError(t, o.err)
			require.Equal(t, exampleAccessKey, o.accessKey)

			put, err := presigner.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key), ContentType: aws.String("text/plain")})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, doPresigned(t, srv, put.Method, put.URL, put.SignedHeader, "uploaded"))
			o = srv.next(t)
			require.NoError(t, o.err)
			require.Equal(t, "uploaded", string(o.body))

			clock = now.Add(11 * time.Minute)
			require.Equal(t, http.StatusForbidden, doPresigned(t, srv, get.Method, get.URL, get.SignedHeader, ""))
			require.ErrorIs(t, srv.next(t).err, ErrRequestExpired)

			clock = now
			tampered := strings.Replace(get.URL, "X-Amz-Expires=600", "X-Amz-Expires=601", 1)
			require.NotEqual(t, get.URL, tampered)
			require.Equal(t, http.StatusForbidden, doPresigned(t, srv, get.Method, tampered, get.SignedHeader, ""))
			require.ErrorIs(t, srv.next(t).err, ErrSignatureDoesNotMatch)
		})
	}
}

func doPresigned(t *testing.T, srv *sdkServer, method, url string, headers http.Header, body string) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	for k, vs := range headers {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	resp, err := srv.srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}
