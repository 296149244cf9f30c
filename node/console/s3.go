package console

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// unsignedPayload lets a body stream through without being hashed first:
// the console never holds a whole upload.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// maxS3Response bounds a buffered S3 answer (listings, configurations).
const maxS3Response = 16 << 20

// s3Request is one S3 call the console makes for a signed-in user.
type s3Request struct {
	method string
	bucket string
	key    string
	query  url.Values
	header http.Header
	body   io.Reader
	// size is the body's length (-1: none).
	size int64
}

// s3Error is an S3 error answer: its HTTP status, code and message.
type s3Error struct {
	Status  int    `xml:"-"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (e *s3Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s (%d)", e.Code, e.Status)
	}
	return e.Code + ": " + e.Message
}

// newS3Error decodes an S3 error body; a body that is not one still
// yields the status.
func newS3Error(status int, body []byte) *s3Error {
	e := &s3Error{}
	if err := xml.Unmarshal(body, e); err != nil || e.Code == "" {
		e.Code = http.StatusText(status)
	}
	e.Status = status
	return e
}

// build makes the signed request the gateway's S3 handler will serve. The
// browser's address and TLS state go along, so that policy conditions on
// aws:SourceIp and aws:SecureTransport see the real client.
func (c *Console) build(ctx context.Context, from *http.Request, sess *session, q s3Request) (*http.Request, error) {
	path := "/"
	if q.bucket != "" {
		path += q.bucket
		if q.key != "" {
			path += "/" + q.key
		}
	}
	u := &url.URL{Scheme: "http", Host: c.cfg.S3Host, Path: path}
	if q.query != nil {
		// S3 wants %20, not +, in the canonical query.
		u.RawQuery = strings.ReplaceAll(q.query.Encode(), "+", "%20")
	}
	body := q.body
	if body == nil {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, q.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("console: build %s %s: %w", q.method, path, err)
	}
	for k, vs := range q.header {
		req.Header[k] = vs
	}
	if q.size >= 0 && q.body != nil {
		req.ContentLength = q.size
	} else {
		req.ContentLength = 0
	}
	req.Host = c.cfg.S3Host
	req.Header.Set("X-Amz-Content-Sha256", unsignedPayload)
	creds := aws.Credentials{AccessKeyID: sess.accessKey, SecretAccessKey: sess.secretKey}
	if err := newSigner().SignHTTP(ctx, creds, req, unsignedPayload, "s3", c.cfg.Region, c.cfg.Now()); err != nil {
		return nil, fmt.Errorf("console: sign %s %s: %w", q.method, path, err)
	}
	if from != nil {
		req.RemoteAddr = from.RemoteAddr
		req.TLS = from.TLS
	}
	return req, nil
}

// call serves q through the gateway's S3 handler and returns its status,
// headers and (bounded) body; an answer of 300 or more is an *s3Error.
func (c *Console) call(from *http.Request, sess *session, q s3Request) (http.Header, []byte, error) {
	req, err := c.build(from.Context(), from, sess, q)
	if err != nil {
		return nil, nil, err
	}
	w := &bufferWriter{header: http.Header{}}
	c.cfg.S3.ServeHTTP(w, req)
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	if w.overflow {
		return nil, nil, fmt.Errorf("console: %s answer over %d bytes", q.method, maxS3Response)
	}
	if status >= 300 {
		return w.header, nil, newS3Error(status, w.buf.Bytes())
	}
	return w.header, w.buf.Bytes(), nil
}

// callXML is call with the answer decoded into out.
func (c *Console) callXML(from *http.Request, sess *session, q s3Request, out any) error {
	_, body, err := c.call(from, sess, q)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(body, out); err != nil {
		return fmt.Errorf("console: decode %s answer: %w", q.method, err)
	}
	return nil
}

// presign makes a presigned GET URL for the gateway's public S3 endpoint.
func (c *Console) presign(ctx context.Context, sess *session, bucket, key, versionID string, expires time.Duration) (string, error) {
	if c.cfg.S3URL == "" {
		return "", errors.New("console: no public S3 endpoint configured")
	}
	base, err := url.Parse(c.cfg.S3URL)
	if err != nil {
		return "", fmt.Errorf("console: S3 URL: %w", err)
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + "/" + bucket + "/" + key
	q := url.Values{"X-Amz-Expires": {fmt.Sprint(int64(expires / time.Second))}}
	if versionID != "" {
		q.Set("versionId", versionID)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("console: presign: %w", err)
	}
	creds := aws.Credentials{AccessKeyID: sess.accessKey, SecretAccessKey: sess.secretKey}
	signed, _, err := newSigner().PresignHTTP(ctx, creds, req, unsignedPayload, "s3", c.cfg.Region, c.cfg.Now())
	if err != nil {
		return "", fmt.Errorf("console: presign: %w", err)
	}
	return signed, nil
}

// newSigner makes a signer for one request. Never share one: the SDK's
// signer caches derived signing keys by access key, date and scope, not by
// secret, so a shared signer would sign a later sign-in attempt with an
// earlier attempt's secret (accepting a wrong secret, or refusing the
// right one after a wrong one).
func newSigner() *v4.Signer {
	// The gateway verifies the path as sent; the SDK's S3 client signs it
	// without double escaping, and so must we.
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// bufferWriter collects a small S3 answer in memory.
type bufferWriter struct {
	header   http.Header
	status   int
	buf      bytes.Buffer
	overflow bool
}

func (w *bufferWriter) Header() http.Header { return w.header }

func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *bufferWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.buf.Len()+len(p) > maxS3Response {
		w.overflow = true
		return 0, errors.New("console: S3 answer too large")
	}
	return w.buf.Write(p)
}

// streamWriter passes a successful S3 answer (a download) straight to the
// browser, with only the headers a download needs; an error answer is
// kept (bounded) and turned into the console's JSON error.
type streamWriter struct {
	w           http.ResponseWriter
	header      http.Header
	status      int
	disposition string
	errBody     bytes.Buffer
}

func (s *streamWriter) Header() http.Header { return s.header }

// Unwrap lets the gateway's http.ResponseController reach the browser's
// connection (read deadlines for stalled bodies).
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.w }

func (s *streamWriter) WriteHeader(code int) {
	if s.status != 0 {
		return
	}
	s.status = code
	if code >= 300 {
		return
	}
	for _, h := range []string{"Content-Type", "Content-Length", "ETag", "Last-Modified"} {
		if v := s.header.Get(h); v != "" {
			s.w.Header().Set(h, v)
		}
	}
	s.w.Header().Set("Content-Disposition", s.disposition)
	s.w.Header().Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(code)
}

func (s *streamWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.status >= 300 {
		if s.errBody.Len()+len(p) > 64<<10 {
			return len(p), nil
		}
		return s.errBody.Write(p)
	}
	return s.w.Write(p)
}

func (s *streamWriter) Flush() {
	if f, ok := s.w.(http.Flusher); ok && s.status < 300 {
		f.Flush()
	}
}

// XML answers of the S3 API, only the fields the console shows.

type listBucketsResult struct {
	Buckets []struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	} `xml:"Buckets>Bucket"`
}

type listObjectsResult struct {
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
	Contents              []struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	} `xml:"Contents"`
	CommonPrefixes []struct {
		Prefix string `xml:"Prefix"`
	} `xml:"CommonPrefixes"`
}

type versionEntry struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

type listVersionsResult struct {
	IsTruncated         bool           `xml:"IsTruncated"`
	NextKeyMarker       string         `xml:"NextKeyMarker"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker"`
	Versions            []versionEntry `xml:"Version"`
	DeleteMarkers       []versionEntry `xml:"DeleteMarker"`
}

type versioningConfiguration struct {
	XMLName xml.Name `xml:"VersioningConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status,omitempty"`
}

type objectLockConfiguration struct {
	ObjectLockEnabled string `xml:"ObjectLockEnabled"`
}
