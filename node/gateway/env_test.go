package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

const (
	testAccessKey = "AKIACAIRNTEST"
	testSecretKey = "cairn-test-secret-key"
	testRegion    = "us-east-1"
)

// testEnv is a gateway over in-memory fakes behind an httptest server.
type testEnv struct {
	t      *testing.T
	meta   *fakeMeta
	bodies *fakeBodies
	srv    *httptest.Server
	client *s3.Client
}

type envOptions struct {
	tls    bool
	config func(*Config)
}

// testLogWriter sends gateway logs to the test log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newEnv(t *testing.T, opts envOptions) *testEnv {
	t.Helper()
	e := &testEnv{t: t, meta: newFakeMeta(), bodies: newFakeBodies()}
	cfg := Config{
		AccessKey:           testAccessKey,
		SecretKey:           testSecretKey,
		Meta:                e.meta,
		Bodies:              e.bodies,
		Profile:             testProfile,
		VirtualHostSuffixes: []string{"s3.test"},
		Logger:              slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	gw, err := New(cfg)
	require.NoError(t, err)
	if opts.tls {
		e.srv = httptest.NewTLSServer(gw)
	} else {
		e.srv = httptest.NewServer(gw)
	}
	t.Cleanup(e.srv.Close)
	e.client = e.newClient(testAccessKey, testSecretKey, cfg.Region)
	return e
}

// newClient is an S3 client with the SDK's default settings, pointed at
// the test server with path-style addressing. The checksum modes are what
// config.LoadDefaultConfig resolves them to (s3.New alone leaves them
// unset), so uploads carry CRC32 checksums, as trailers over TLS.
func (e *testEnv) newClient(access, secret, region string, optFns ...func(*s3.Options)) *s3.Client {
	if region == "" {
		region = testRegion
	}
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
		HTTPClient:   e.srv.Client(),

		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, optFns...)
}

// noRetry keeps 5xx answers from being retried, so a test sees the first.
func noRetry(o *s3.Options) { o.RetryMaxAttempts = 1 }

func (e *testEnv) createBucket(name string) {
	e.t.Helper()
	_, err := e.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(e.t, err)
}

func (e *testEnv) put(bucket, key string, body []byte) *s3.PutObjectOutput {
	e.t.Helper()
	out, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	require.NoError(e.t, err)
	return out
}

func (e *testEnv) get(bucket, key string, optFns ...func(*s3.GetObjectInput)) ([]byte, *s3.GetObjectOutput) {
	e.t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	for _, f := range optFns {
		f(in)
	}
	out, err := e.client.GetObject(context.Background(), in)
	require.NoError(e.t, err)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(e.t, err)
	return data, out
}

// requireS3Error checks the S3 error code and HTTP status of an SDK error.
func requireS3Error(t *testing.T, err error, code string, status int) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, code, ae.ErrorCode(), "error: %v", err)
	var re *awshttp.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, status, re.HTTPStatusCode())
}

// signedRequest builds a raw request signed like an SDK would, with an
// unsigned payload, for cases the SDK cannot produce.
func (e *testEnv) signedRequest(method, path string, body io.Reader, contentLength int64, header http.Header) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(e.t, err)
	if body == nil {
		req.Body = nil
	}
	req.ContentLength = contentLength
	for k, v := range header {
		req.Header[k] = v
	}
	payload := "UNSIGNED-PAYLOAD"
	if body == nil {
		sum := sha256.Sum256(nil)
		payload = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	require.NoError(e.t, v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "s3", testRegion, time.Now()))
	return req
}

func (e *testEnv) do(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, data
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialTo returns a dialer that reaches addr whatever host is asked for,
// standing in for wildcard DNS in virtual-host tests.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}

func httptestRequest(host, path string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://placeholder"+path, nil)
	r.Host = host
	return r
}
