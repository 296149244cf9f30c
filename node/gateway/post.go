package gateway

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/postpolicy"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
)

// maxPostFields bounds the form fields before the file, which are held in
// memory; the file itself is streamed into the store.
const maxPostFields = 64 << 10

// postLimits bounds the file of a POST upload: the policy's
// content-length-range, within the gateway's single-PUT limit.
type postLimits struct {
	min, max int64
}

// check answers a file of size bytes that is below the policy's minimum.
func (l *postLimits) check(size int64) error {
	if size < l.min {
		return s3err.EntityTooSmall
	}
	return nil
}

// postForm is what a POST upload's fields say, the file excluded.
type postForm struct {
	// fields by lower-cased name, as sent.
	fields   map[string]string
	filename string
}

// postObject serves a browser upload: a multipart/form-data POST to the
// bucket whose fields name the key, carry the object's headers and the
// signed policy, and whose last part is the file. The fields are read
// first; the file is then streamed through the PutObject pipeline, never
// held whole.
func (g *Gateway) postObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	mr, err := postReader(rq.r)
	if err != nil {
		return err
	}
	form, file, err := readPostFields(mr)
	if err != nil {
		return err
	}
	defer file.Close()
	f := form.fields
	key, ok := f["key"]
	if !ok {
		return s3err.InvalidArgument.WithMessage("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
	}
	key = strings.ReplaceAll(key, "${filename}", form.filename)
	if key == "" {
		return s3err.InvalidArgument.WithMessage("User key must have a length greater than 0.")
	}
	if len(key) > maxKeyLen {
		return s3err.KeyTooLongError
	}
	rq.key = key
	f["key"] = key
	f["bucket"] = rq.bucket
	limits, err := g.authenticatePost(ctx, rq, f)
	if err != nil {
		return err
	}
	header, err := postHeaders(f)
	if err != nil {
		return err
	}
	r := rq.r.Clone(ctx)
	r.Method = http.MethodPut
	r.Header = header
	r.ContentLength = -1
	r.Body = file
	put := *rq
	put.r = r
	put.post = limits
	put.auth = &sigv4.Result{
		AccessKey: rq.auth.AccessKey, Anonymous: rq.auth.Anonymous,
		Body: &limitedBody{r: file, max: limits.max}, DecodedLength: -1,
		TrailerChecksum: func() (checksum.Algorithm, string) { return "", "" },
	}
	// Authorized as the PutObject it is: the form's fields are the
	// headers policy conditions see (s3:x-amz-acl, s3:RequestObjectTag/…).
	if err := g.authorizeAction(ctx, &put, "s3:PutObject", rq.bucket, key, ""); err != nil {
		return err
	}
	return g.putObject(ctx, &postResponse{ResponseWriter: w, rq: rq, fields: f}, &put)
}

// postReader checks that r is a multipart/form-data upload.
func postReader(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, "multipart/form-data") {
		return nil, s3err.PreconditionFailed.WithMessage("Bucket POST must be of the enclosure-type multipart/form-data")
	}
	if params["boundary"] == "" {
		return nil, s3err.MalformedPOSTRequest
	}
	return multipart.NewReader(r.Body, params["boundary"]), nil
}

// readPostFields reads the fields up to the file part, which it returns
// unread. Fields after the file are never read, as in S3.
func readPostFields(mr *multipart.Reader) (*postForm, io.ReadCloser, error) {
	form := &postForm{fields: map[string]string{}}
	total := 0
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return nil, nil, s3err.IncorrectNumberOfFilesInPostRequest
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", s3err.MalformedPOSTRequest, err)
		}
		name := strings.ToLower(p.FormName())
		if name == "" {
			p.Close()
			return nil, nil, s3err.MalformedPOSTRequest
		}
		if name == "file" {
			form.filename = path.Base(strings.ReplaceAll(p.FileName(), `\`, "/"))
			if p.FileName() == "" {
				form.filename = ""
			}
			return form, p, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(maxPostFields-total+1)))
		p.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", s3err.MalformedPOSTRequest, err)
		}
		total += len(name) + len(v)
		if total > maxPostFields {
			return nil, nil, s3err.MaxPostPreDataLengthExceeded
		}
		if _, dup := form.fields[name]; !dup {
			form.fields[name] = string(v)
		}
	}
}

// authenticatePost checks the form's signature (Version 4 or 2) and
// policy, and sets rq's caller. A form with neither is anonymous: the
// bucket's policy and ACL decide.
func (g *Gateway) authenticatePost(ctx context.Context, rq *request, f map[string]string) (*postLimits, error) {
	limits := &postLimits{max: g.cfg.MaxPutSize}
	policy, hasPolicy := f["policy"]
	var ak string
	switch {
	case f["x-amz-signature"] != "" || f["x-amz-credential"] != "" || f["x-amz-algorithm"] != "":
		for _, name := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} {
			if f[name] == "" {
				return nil, missingPostField(name)
			}
		}
		var err error
		ak, err = g.verifier.VerifyPost(ctx, sigv4.PostForm{
			Algorithm: f["x-amz-algorithm"], Credential: f["x-amz-credential"], Date: f["x-amz-date"],
			Signature: f["x-amz-signature"], Policy: policy,
		})
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	case f["awsaccesskeyid"] != "" || f["signature"] != "":
		for _, name := range []string{"AWSAccessKeyId", "signature", "policy"} {
			if f[strings.ToLower(name)] == "" {
				return nil, missingPostField(name)
			}
		}
		ak = f["awsaccesskeyid"]
		if err := g.v2.VerifyPost(ctx, ak, f["signature"], policy); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	case hasPolicy:
		return nil, missingPostField("x-amz-credential")
	default:
		return limits, nil
	}
	c, err := g.ids.caller(ctx, ak)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	rq.caller, rq.owner = c, c.ID
	rq.auth = &sigv4.Result{AccessKey: ak}
	p, err := postpolicy.Parse(policy)
	if err != nil {
		return nil, postPolicyError(err)
	}
	if err := p.Check(f, g.cfg.Now()); err != nil {
		return nil, postPolicyError(err)
	}
	if p.HasLengthRange {
		limits.min = p.MinLength
		limits.max = min(limits.max, p.MaxLength)
	}
	return limits, nil
}

func missingPostField(name string) error {
	return s3err.InvalidArgument.WithMessage(fmt.Sprintf("Bucket POST must contain a field named '%s'.  If it is specified, please check the order of the fields.", name))
}

// postPolicyError is S3's answer to a policy that does not parse or that
// the form does not satisfy.
func postPolicyError(err error) error {
	var rej *postpolicy.Rejection
	switch {
	case errors.As(err, &rej):
		return s3err.AccessDenied.WithMessage("Invalid according to Policy: " + rej.Reason)
	case errors.Is(err, postpolicy.ErrExpired):
		return s3err.AccessDenied.WithMessage("Invalid according to Policy: Policy expired.")
	case errors.Is(err, postpolicy.ErrMalformed):
		return s3err.InvalidPolicyDocument.WithMessage(strings.TrimPrefix(err.Error(), postpolicy.ErrMalformed.Error()+": "))
	}
	return err
}

// postHeaders turns the form fields that describe the object into the
// request headers PutObject reads them from.
func postHeaders(f map[string]string) (http.Header, error) {
	h := http.Header{}
	for name, v := range f {
		switch {
		case name == "acl":
			h.Set("X-Amz-Acl", v)
		case name == "tagging":
			tags, err := postTagging(v)
			if err != nil {
				return nil, err
			}
			h.Set("X-Amz-Tagging", tags)
		case name == "x-amz-algorithm", name == "x-amz-credential", name == "x-amz-date", name == "x-amz-signature", name == "x-amz-security-token":
		case strings.HasPrefix(name, "x-amz-meta-"):
			// Form fields are UTF-8 (S3 takes metadata as UTF-8 from
			// forms); carried as one RFC 2047 word, userMetadata reads
			// them back as such rather than byte by byte.
			h.Set(name, formMetaValue(v))
		case strings.HasPrefix(name, "x-amz-"),
			name == "content-type", name == "cache-control", name == "content-disposition",
			name == "content-encoding", name == "expires", name == "content-language":
			h.Set(name, v)
		}
	}
	return h, nil
}

// postTagging converts the XML of a form's tagging field into the query
// string form of x-amz-tagging.
func postTagging(doc string) (string, error) {
	var t s3xml.Tagging
	if err := xml.Unmarshal([]byte(doc), &t); err != nil {
		return "", s3err.MalformedXML
	}
	q := make([]string, 0, len(t.TagSet.Tag))
	for _, tag := range t.TagSet.Tag {
		q = append(q, url.QueryEscape(tag.Key)+"="+url.QueryEscape(tag.Value))
	}
	return strings.Join(q, "&"), nil
}

// limitedBody fails a file larger than max with EntityTooLarge as soon as
// it passes it, so no more than max bytes are ever stored.
type limitedBody struct {
	r    io.ReadCloser
	max  int64
	read int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.read > l.max {
		return 0, s3err.EntityTooLarge.WithMessage("Your proposed upload exceeds the maximum allowed size")
	}
	if rest := l.max + 1 - l.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.max {
		return n, s3err.EntityTooLarge.WithMessage("Your proposed upload exceeds the maximum allowed size")
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.r.Close() }

// postResponse turns PutObject's 200 into the answer the form asked for:
// a 303 to success_action_redirect, or success_action_status 200, 201
// (with a PostResponse document) or, by default, 204.
type postResponse struct {
	http.ResponseWriter
	rq     *request
	fields map[string]string
}

type postResponseXML struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func (p *postResponse) WriteHeader(code int) {
	if code != http.StatusOK {
		p.ResponseWriter.WriteHeader(code)
		return
	}
	h := p.Header()
	etag := h.Get("ETag")
	bucket, key := p.rq.bucket, p.rq.key
	scheme := "http"
	if p.rq.r.TLS != nil {
		scheme = "https"
	}
	location := scheme + "://" + p.rq.r.Host + "/" + url.PathEscape(bucket) + "/" + (&url.URL{Path: key}).EscapedPath()
	redirect := p.fields["success_action_redirect"]
	if redirect == "" {
		redirect = p.fields["redirect"]
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && u.IsAbs() {
		q := u.Query()
		q.Set("bucket", bucket)
		q.Set("key", key)
		q.Set("etag", etag)
		u.RawQuery = q.Encode()
		h.Set("Location", u.String())
		p.ResponseWriter.WriteHeader(http.StatusSeeOther)
		return
	}
	h.Set("Location", location)
	switch p.fields["success_action_status"] {
	case "200":
		p.ResponseWriter.WriteHeader(http.StatusOK)
	case "201":
		body, _ := xml.Marshal(postResponseXML{Location: location, Bucket: bucket, Key: key, ETag: etag})
		h.Set("Content-Type", "application/xml")
		p.ResponseWriter.WriteHeader(http.StatusCreated)
		_, _ = p.ResponseWriter.Write([]byte(xml.Header))
		_, _ = p.ResponseWriter.Write(body)
	default:
		p.ResponseWriter.WriteHeader(http.StatusNoContent)
	}
}
