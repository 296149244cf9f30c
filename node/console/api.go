package console

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"
)

// maxJSONBody bounds the JSON bodies of API calls (a bucket policy is at
// most 20 KB in S3).
const maxJSONBody = 64 << 10

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "MalformedRequest", "bad JSON body: "+err.Error())
		return false
	}
	return true
}

type bucketJSON struct {
	Name    string `json:"name"`
	Created string `json:"created"`
}

func (c *Console) listBuckets(w http.ResponseWriter, r *http.Request, sess *session) {
	var res listBucketsResult
	if err := c.callXML(r, sess, s3Request{method: http.MethodGet, size: -1}, &res); err != nil {
		c.writeFailure(w, err)
		return
	}
	out := []bucketJSON{}
	for _, b := range res.Buckets {
		out = append(out, bucketJSON{Name: b.Name, Created: b.CreationDate})
	}
	writeJSON(w, http.StatusOK, out)
}

type createBucketRequest struct {
	Name       string `json:"name"`
	ObjectLock bool   `json:"objectLock"`
	Versioning bool   `json:"versioning"`
}

func (c *Console) createBucket(w http.ResponseWriter, r *http.Request, sess *session) {
	var in createBucketRequest
	if !decodeJSON(w, r, &in) {
		return
	}
	if in.Name == "" {
		writeError(w, http.StatusBadRequest, "InvalidBucketName", "a bucket name is required")
		return
	}
	h := http.Header{}
	if in.ObjectLock {
		h.Set("X-Amz-Bucket-Object-Lock-Enabled", "true")
	}
	if _, _, err := c.call(r, sess, s3Request{method: http.MethodPut, bucket: in.Name, header: h, size: -1}); err != nil {
		c.writeFailure(w, err)
		return
	}
	if in.Versioning && !in.ObjectLock {
		if err := c.setVersioning(r, sess, in.Name, true); err != nil {
			c.writeFailure(w, err)
			return
		}
	}
	writeJSON(w, http.StatusCreated, bucketJSON{Name: in.Name})
}

func (c *Console) deleteBucket(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, _, err := c.call(r, sess, s3Request{method: http.MethodDelete, bucket: r.PathValue("bucket"), size: -1}); err != nil {
		c.writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type bucketSettingsJSON struct {
	Versioning string `json:"versioning"` // "", Enabled, Suspended
	ObjectLock bool   `json:"objectLock"`
	Policy     string `json:"policy"`
	// PolicyError says why the policy could not be read (AccessDenied);
	// empty when it was read or there is none.
	PolicyError string `json:"policyError,omitempty"`
}

func (c *Console) bucketSettings(w http.ResponseWriter, r *http.Request, sess *session) {
	bucket := r.PathValue("bucket")
	var out bucketSettingsJSON
	var v versioningConfiguration
	if err := c.callXML(r, sess, s3Request{method: http.MethodGet, bucket: bucket, query: url.Values{"versioning": {""}}, size: -1}, &v); err != nil {
		c.writeFailure(w, err)
		return
	}
	out.Versioning = v.Status
	var lock objectLockConfiguration
	err := c.callXML(r, sess, s3Request{method: http.MethodGet, bucket: bucket, query: url.Values{"object-lock": {""}}, size: -1}, &lock)
	out.ObjectLock = err == nil && lock.ObjectLockEnabled == "Enabled"
	_, body, err := c.call(r, sess, s3Request{method: http.MethodGet, bucket: bucket, query: url.Values{"policy": {""}}, size: -1})
	var se *s3Error
	switch {
	case err == nil:
		out.Policy = string(body)
	case errors.As(err, &se) && se.Code == "NoSuchBucketPolicy":
	case errors.As(err, &se):
		out.PolicyError = se.Code
	default:
		c.writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) setVersioning(r *http.Request, sess *session, bucket string, on bool) error {
	cfg := versioningConfiguration{Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", Status: "Suspended"}
	if on {
		cfg.Status = "Enabled"
	}
	body, err := xml.Marshal(cfg)
	if err != nil {
		return err
	}
	_, _, err = c.call(r, sess, s3Request{method: http.MethodPut, bucket: bucket, query: url.Values{"versioning": {""}},
		header: http.Header{"Content-Md5": {contentMD5(body)}}, body: bytes.NewReader(body), size: int64(len(body))})
	return err
}

func contentMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (c *Console) putVersioning(w http.ResponseWriter, r *http.Request, sess *session) {
	var in struct {
		Enabled bool `json:"enabled"`
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	if err := c.setVersioning(r, sess, r.PathValue("bucket"), in.Enabled); err != nil {
		c.writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) putPolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	var in struct {
		Policy string `json:"policy"`
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	body := []byte(in.Policy)
	if _, _, err := c.call(r, sess, s3Request{method: http.MethodPut, bucket: r.PathValue("bucket"), query: url.Values{"policy": {""}},
		header: http.Header{"Content-Md5": {contentMD5(body)}}, body: bytes.NewReader(body), size: int64(len(body))}); err != nil {
		c.writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) deletePolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, _, err := c.call(r, sess, s3Request{method: http.MethodDelete, bucket: r.PathValue("bucket"), query: url.Values{"policy": {""}}, size: -1}); err != nil {
		c.writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type objectJSON struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	LastModified string `json:"lastModified"`
	ETag         string `json:"etag"`
	StorageClass string `json:"storageClass,omitempty"`
}

type listObjectsJSON struct {
	Prefix    string       `json:"prefix"`
	Folders   []string     `json:"folders"`
	Objects   []objectJSON `json:"objects"`
	NextToken string       `json:"nextToken,omitempty"`
}

// listObjects lists one "folder": the keys under prefix up to the next
// "/", and the deeper prefixes as folders.
func (c *Console) listObjects(w http.ResponseWriter, r *http.Request, sess *session) {
	prefix := r.URL.Query().Get("prefix")
	q := url.Values{"list-type": {"2"}, "delimiter": {"/"}, "prefix": {prefix}, "max-keys": {"500"}}
	if t := r.URL.Query().Get("token"); t != "" {
		q.Set("continuation-token", t)
	}
	var res listObjectsResult
	if err := c.callXML(r, sess, s3Request{method: http.MethodGet, bucket: r.PathValue("bucket"), query: q, size: -1}, &res); err != nil {
		c.writeFailure(w, err)
		return
	}
	out := listObjectsJSON{Prefix: prefix, Folders: []string{}, Objects: []objectJSON{}}
	for _, p := range res.CommonPrefixes {
		out.Folders = append(out.Folders, p.Prefix)
	}
	for _, o := range res.Contents {
		out.Objects = append(out.Objects, objectJSON{Key: o.Key, Size: o.Size, LastModified: o.LastModified, ETag: o.ETag, StorageClass: o.StorageClass})
	}
	if res.IsTruncated {
		out.NextToken = res.NextContinuationToken
	}
	writeJSON(w, http.StatusOK, out)
}

type versionJSON struct {
	Key          string `json:"key"`
	VersionID    string `json:"versionId"`
	Latest       bool   `json:"latest"`
	DeleteMarker bool   `json:"deleteMarker"`
	Size         int64  `json:"size"`
	LastModified string `json:"lastModified"`
	ETag         string `json:"etag,omitempty"`
}

// listVersions lists the versions of one key (prefix=key, the exact key's
// entries kept).
func (c *Console) listVersions(w http.ResponseWriter, r *http.Request, sess *session) {
	key := r.URL.Query().Get("key")
	q := url.Values{"versions": {""}, "prefix": {key}, "max-keys": {"200"}}
	var res listVersionsResult
	if err := c.callXML(r, sess, s3Request{method: http.MethodGet, bucket: r.PathValue("bucket"), query: q, size: -1}, &res); err != nil {
		c.writeFailure(w, err)
		return
	}
	out := []versionJSON{}
	add := func(v versionEntry, marker bool) {
		if v.Key == key {
			out = append(out, versionJSON{Key: v.Key, VersionID: v.VersionID, Latest: v.IsLatest, DeleteMarker: marker, Size: v.Size, LastModified: v.LastModified, ETag: v.ETag})
		}
	}
	for _, v := range res.Versions {
		add(v, false)
	}
	for _, v := range res.DeleteMarkers {
		add(v, true)
	}
	writeJSON(w, http.StatusOK, out)
}

// putObject streams the browser's body into a PutObject: nothing is
// buffered, so memory stays bounded whatever the file's size, and the
// browser's upload progress is the upload's progress.
func (c *Console) putObject(w http.ResponseWriter, r *http.Request, sess *session) {
	key := r.URL.Query().Get("key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "InvalidKey", "an object key is required")
		return
	}
	if r.ContentLength < 0 {
		writeError(w, http.StatusLengthRequired, "MissingContentLength", "the upload needs a Content-Length")
		return
	}
	h := http.Header{}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	hdr, _, err := c.call(r, sess, s3Request{method: http.MethodPut, bucket: r.PathValue("bucket"), key: key, header: h, body: r.Body, size: r.ContentLength})
	if err != nil {
		c.writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"key": key, "etag": hdr.Get("ETag"), "versionId": hdr.Get("X-Amz-Version-Id")})
}

// getObject streams an object to the browser as a download.
func (c *Console) getObject(w http.ResponseWriter, r *http.Request, sess *session) {
	key := r.URL.Query().Get("key")
	q := url.Values{}
	if v := r.URL.Query().Get("versionId"); v != "" {
		q.Set("versionId", v)
	}
	req, err := c.build(r.Context(), r, sess, s3Request{method: http.MethodGet, bucket: r.PathValue("bucket"), key: key, query: q, size: -1})
	if err != nil {
		c.writeFailure(w, err)
		return
	}
	sw := &streamWriter{w: w, header: http.Header{},
		disposition: mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)})}
	c.cfg.S3.ServeHTTP(sw, req)
	if sw.status >= 300 {
		c.writeFailure(w, newS3Error(sw.status, sw.errBody.Bytes()))
	}
}

func (c *Console) deleteObject(w http.ResponseWriter, r *http.Request, sess *session) {
	q := url.Values{}
	if v := r.URL.Query().Get("versionId"); v != "" {
		q.Set("versionId", v)
	}
	if _, _, err := c.call(r, sess, s3Request{method: http.MethodDelete, bucket: r.PathValue("bucket"), key: r.URL.Query().Get("key"), query: q, size: -1}); err != nil {
		c.writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// maxPresign is S3's limit on a presigned URL's lifetime.
const maxPresign = 7 * 24 * time.Hour

func (c *Console) presignObject(w http.ResponseWriter, r *http.Request, sess *session) {
	var in struct {
		Key       string `json:"key"`
		VersionID string `json:"versionId"`
		Seconds   int64  `json:"seconds"`
	}
	if !decodeJSON(w, r, &in) {
		return
	}
	d := time.Duration(in.Seconds) * time.Second
	if d <= 0 || d > maxPresign || in.Key == "" {
		writeError(w, http.StatusBadRequest, "InvalidArgument", "want a key and 1 to "+strconv.Itoa(int(maxPresign/time.Second))+" seconds")
		return
	}
	u, err := c.presign(r.Context(), sess, r.PathValue("bucket"), in.Key, in.VersionID, d)
	if err != nil {
		c.writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": u, "expires": c.cfg.Now().Add(d).UTC().Format(time.RFC3339)})
}
