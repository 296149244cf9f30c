package sigv4

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// The credentials and clock of every example in AWS's SigV4-for-S3 docs.
const (
	exampleAccessKey = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	exampleAmzDate   = "20130524T000000Z"
	exampleScope     = "20130524/us-east-1/s3/aws4_request"
)

var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

type staticCreds map[string]string

func (c staticCreds) SecretKey(_ context.Context, k string) (string, error) {
	s, ok := c[k]
	if !ok {
		return "", ErrInvalidAccessKeyID
	}
	return s, nil
}

func newVerifier(now time.Time) *Verifier {
	return &Verifier{
		Creds: staticCreds{exampleAccessKey: exampleSecret},
		Now:   func() time.Time { return now },
	}
}

func exampleAuth(signedHeaders, sig string) string {
	return "AWS4-HMAC-SHA256 Credential=" + exampleAccessKey + "/" + exampleScope +
		",SignedHeaders=" + signedHeaders + ",Signature=" + sig
}

// serverRequest builds a request as net/http's server hands it to a handler.
func serverRequest(method, target, host string, headers map[string]string, body []byte) *http.Request {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.Host = host
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

func exampleSigner() *chunkSigner {
	return &chunkSigner{
		key:     deriveKey(exampleSecret, "20130524", "us-east-1", "s3"),
		amzDate: exampleAmzDate,
		scope:   exampleScope,
	}
}

// encodeChunks frames data as aws-chunked: signed when s is non-nil (s.prev
// must hold the seed), followed by trailers ("name:value") if withTrailer.
// It is an independent encoder, checked against AWS's published bodies.
func encodeChunks(s *chunkSigner, data []byte, chunkSize int, withTrailer bool, trailers ...string) []byte {
	var b bytes.Buffer
	var sc chunkSigner
	if s != nil {
		sc = *s
	}
	for off := 0; ; off += chunkSize {
		start := min(off, len(data))
		chunk := data[start:min(off+chunkSize, len(data))]
		fmt.Fprintf(&b, "%x", len(chunk))
		if s != nil {
			sig := hex.EncodeToString(sc.chunk(chunk))
			sc.prev = sig
			b.WriteString(";chunk-signature=" + sig)
		}
		b.WriteString("\r\n")
		if len(chunk) == 0 {
			break
		}
		b.Write(chunk)
		b.WriteString("\r\n")
	}
	if !withTrailer {
		b.WriteString("\r\n")
		return b.Bytes()
	}
	var canonical strings.Builder
	for _, t := range trailers {
		b.WriteString(t + "\r\n")
		canonical.WriteString(t + "\n")
	}
	if s != nil {
		b.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(sc.trailer(canonical.String())) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func checksumOf(a checksum.Algorithm, data []byte) string {
	h := a.New()
	_, _ = h.Write(data)
	return checksum.Encode(h.Sum(nil))
}

// readBody reads all of a Result's body and closes it.
func readBody(t *testing.T, res *Result) ([]byte, error) {
	t.Helper()
	got, err := io.ReadAll(res.Body)
	require.NoError(t, res.Body.Close())
	return got, err
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}
