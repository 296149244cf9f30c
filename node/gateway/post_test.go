package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/gateway/sigv2"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
)

// formField is one field of a POST form, in order.
type formField struct{ name, value string }

// postForm builds a multipart/form-data POST to bucket with fields, then
// the file.
func (e *testEnv) postForm(bucket string, fields []formField, filename, file string) *http.Request {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		require.NoError(e.t, mw.WriteField(f.name, f.value))
	}
	if filename != "-" {
		fw, err := mw.CreateFormFile("file", filename)
		require.NoError(e.t, err)
		_, _ = fw.Write([]byte(file))
	}
	require.NoError(e.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/"+bucket, &buf)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// policyDoc is a base64 policy expiring at exp with conditions.
func policyDoc(t *testing.T, exp time.Time, conds ...any) string {
	b, err := json.Marshal(map[string]any{"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// v4Form signs policy with Version 4 and returns the auth fields with it.
func v4Form(t *testing.T, secret string, conds ...any) []formField {
	now := time.Now().UTC()
	cred := testAccessKey + "/" + now.Format("20060102") + "/" + testRegion + "/s3/aws4_request"
	date := now.Format("20060102T150405Z")
	conds = append(conds, map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, map[string]string{"x-amz-date": date})
	policy := policyDoc(t, now.Add(time.Hour), conds...)
	sig, err := sigv4.SignPost(secret, cred, policy)
	require.NoError(t, err)
	return []formField{
		{"x-amz-credential", cred}, {"x-amz-algorithm", "AWS4-HMAC-SHA256"}, {"x-amz-date", date},
		{"Policy", policy}, {"X-Amz-Signature", sig},
	}
}

func TestPostObject(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	future := time.Now().Add(time.Hour)
	bucketCond := map[string]string{"bucket": "bkt"}
	crcOf := func(s string) string {
		h := crc32.NewIEEE()
		h.Write([]byte(s))
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}

	cases := []struct {
		name     string
		fields   func() []formField
		filename string
		file     string
		status   int
		code     string // error code, or "" on success
		message  string // part of the error message or of the body
		key      string // the object stored, on success
		check    func(t *testing.T, resp *http.Response)
	}{
		{
			name: "v4, 201 with PostResponse, metadata, content type, tagging",
			fields: func() []formField {
				return append([]formField{
					{"key", "uploads/${filename}"},
					{"Content-Type", "text/plain"},
					{"x-amz-meta-color", "blue"},
					{"success_action_status", "201"},
					{"tagging", "<Tagging><TagSet><Tag><Key>k1</Key><Value>v1</Value></Tag></TagSet></Tagging>"},
				}, v4Form(t, testSecretKey, bucketCond,
					[]string{"starts-with", "$key", "uploads/"},
					[]string{"starts-with", "$Content-Type", "text/"},
					map[string]string{"x-amz-meta-color": "blue"},
					[]string{"eq", "$success_action_status", "201"},
					[]string{"starts-with", "$tagging", ""},
					[]any{"content-length-range", 1, 100})...)
			},
			filename: "hello.txt", file: "hello world", status: 201, message: "<Key>uploads/hello.txt</Key>", key: "uploads/hello.txt",
			check: func(t *testing.T, resp *http.Response) {
				v := e.meta.object("bkt", "uploads/hello.txt")
				require.Equal(t, "text/plain", v.GetContentType())
				require.Equal(t, "blue", v.GetUserMetadata()["color"])
				require.Equal(t, map[string]string{"k1": "v1"}, v.GetTags())
				require.Equal(t, `"`+v.GetEtag()+`"`, resp.Header.Get("ETag"))
			},
		},
		{
			name: "default answer is 204",
			fields: func() []formField {
				return append([]formField{{"key", "plain"}}, v4Form(t, testSecretKey, bucketCond, []string{"eq", "$key", "plain"})...)
			},
			filename: "x", file: "data", status: 204, key: "plain",
		},
		{
			name: "redirect",
			fields: func() []formField {
				return append([]formField{{"key", "redir"}, {"success_action_redirect", "https://example.com/done?x=1"}},
					v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", ""}, []string{"starts-with", "$success_action_redirect", "https://example.com/"})...)
			},
			filename: "x", file: "data", status: 303, key: "redir",
			check: func(t *testing.T, resp *http.Response) {
				u, err := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, err)
				require.Equal(t, "example.com", u.Host)
				require.Equal(t, "1", u.Query().Get("x"))
				require.Equal(t, "bkt", u.Query().Get("bucket"))
				require.Equal(t, "redir", u.Query().Get("key"))
				require.Equal(t, `"`+e.meta.object("bkt", "redir").GetEtag()+`"`, u.Query().Get("etag"))
			},
		},
		{
			name: "checksum field verified",
			fields: func() []formField {
				return append([]formField{{"key", "sum"}, {"x-amz-checksum-crc32", crcOf("data")}},
					v4Form(t, testSecretKey, bucketCond, []string{"eq", "$key", "sum"}, []string{"starts-with", "$x-amz-checksum-crc32", ""})...)
			},
			filename: "x", file: "data", status: 204, key: "sum",
			check: func(t *testing.T, _ *http.Response) {
				require.Equal(t, crcOf("data"), e.meta.object("bkt", "sum").GetChecksums()["CRC32"])
			},
		},
		{
			name: "wrong checksum field",
			fields: func() []formField {
				return append([]formField{{"key", "badsum"}, {"x-amz-checksum-crc32", crcOf("other")}},
					v4Form(t, testSecretKey, bucketCond, []string{"eq", "$key", "badsum"}, []string{"starts-with", "$x-amz-checksum-crc32", ""})...)
			},
			filename: "x", file: "data", status: 400, code: "BadDigest",
		},
		{
			name: "SigV2 form",
			fields: func() []formField {
				policy := policyDoc(t, future, bucketCond, []string{"starts-with", "$key", "v2/"})
				sig := base64.StdEncoding.EncodeToString(sigv2.Sign(testSecretKey, policy))
				return []formField{{"key", "v2/obj"}, {"AWSAccessKeyId", testAccessKey}, {"policy", policy}, {"signature", sig}}
			},
			filename: "x", file: "v2 data", status: 204, key: "v2/obj",
		},
		{
			name: "SigV2 wrong signature",
			fields: func() []formField {
				policy := policyDoc(t, future, bucketCond, []string{"starts-with", "$key", ""})
				sig := base64.StdEncoding.EncodeToString(sigv2.Sign("wrong", policy))
				return []formField{{"key", "v2/bad"}, {"AWSAccessKeyId", testAccessKey}, {"policy", policy}, {"signature", sig}}
			},
			filename: "x", file: "data", status: 403, code: "SignatureDoesNotMatch",
		},
		{
			name: "v4 wrong secret",
			fields: func() []formField {
				return append([]formField{{"key", "k"}}, v4Form(t, "wrong", bucketCond, []string{"starts-with", "$key", ""})...)
			},
			filename: "x", file: "data", status: 403, code: "SignatureDoesNotMatch",
		},
		{
			name: "expired policy",
			fields: func() []formField {
				policy := policyDoc(t, time.Now().Add(-time.Minute), bucketCond, []string{"starts-with", "$key", ""})
				sig := base64.StdEncoding.EncodeToString(sigv2.Sign(testSecretKey, policy))
				return []formField{{"key", "late"}, {"AWSAccessKeyId", testAccessKey}, {"policy", policy}, {"signature", sig}}
			},
			filename: "x", file: "data", status: 403, code: "AccessDenied", message: "Invalid according to Policy: Policy expired.",
		},
		{
			name: "condition failed",
			fields: func() []formField {
				return append([]formField{{"key", "other/k"}}, v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", "uploads/"})...)
			},
			filename: "x", file: "data", status: 403, code: "AccessDenied", message: `Invalid according to Policy: Policy Condition failed: [&#34;starts-with&#34;,&#34;$key&#34;,&#34;uploads/&#34;]`,
		},
		{
			name: "wrong bucket in policy",
			fields: func() []formField {
				return append([]formField{{"key", "k"}}, v4Form(t, testSecretKey, map[string]string{"bucket": "elsewhere"}, []string{"starts-with", "$key", ""})...)
			},
			filename: "x", file: "data", status: 403, code: "AccessDenied", message: "Policy Condition failed",
		},
		{
			name: "extra field",
			fields: func() []formField {
				return append([]formField{{"key", "k"}, {"x-amz-meta-sneaky", "1"}}, v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", ""})...)
			},
			filename: "x", file: "data", status: 403, code: "AccessDenied", message: "Extra input fields: x-amz-meta-sneaky",
		},
		{
			name: "x-ignore- fields need no condition",
			fields: func() []formField {
				return append([]formField{{"key", "ignored"}, {"x-ignore-submit", "Upload"}}, v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", ""})...)
			},
			filename: "x", file: "data", status: 204, key: "ignored",
		},
		{
			name: "too large",
			fields: func() []formField {
				return append([]formField{{"key", "big"}}, v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", ""}, []any{"content-length-range", 0, 3})...)
			},
			filename: "x", file: "four", status: 400, code: "EntityTooLarge",
		},
		{
			name: "too small",
			fields: func() []formField {
				return append([]formField{{"key", "small"}}, v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", ""}, []any{"content-length-range", 10, 20})...)
			},
			filename: "x", file: "four", status: 400, code: "EntityTooSmall",
		},
		{
			name: "no key",
			fields: func() []formField {
				return v4Form(t, testSecretKey, bucketCond)
			},
			filename: "x", file: "data", status: 400, code: "InvalidArgument", message: "must contain a field named &#39;key&#39;",
		},
		{
			name: "no file",
			fields: func() []formField {
				return append([]formField{{"key", "k"}}, v4Form(t, testSecretKey, bucketCond, []string{"starts-with", "$key", ""})...)
			},
			filename: "-", status: 400, code: "IncorrectNumberOfFilesInPostRequest",
		},
		{
			name: "signature without policy",
			fields: func() []formField {
				return []formField{{"key", "k"}, {"AWSAccessKeyId", testAccessKey}, {"signature", "abc"}}
			},
			filename: "x", file: "data", status: 400, code: "InvalidArgument", message: "field named &#39;policy&#39;",
		},
		{
			name: "policy not JSON",
			fields: func() []formField {
				policy := base64.StdEncoding.EncodeToString([]byte("{nope"))
				sig := base64.StdEncoding.EncodeToString(sigv2.Sign(testSecretKey, policy))
				return []formField{{"key", "k"}, {"AWSAccessKeyId", testAccessKey}, {"policy", policy}, {"signature", sig}}
			},
			filename: "x", file: "data", status: 400, code: "InvalidPolicyDocument",
		},
		{
			name: "anonymous to a private bucket",
			fields: func() []formField {
				return []formField{{"key", "anon"}}
			},
			filename: "x", file: "data", status: 403, code: "AccessDenied",
		},
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Do(e.postForm("bkt", tc.fields(), tc.filename, tc.file))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			if tc.code != "" {
				require.Contains(t, string(body), "<Code>"+tc.code+"</Code>")
			}
			require.Contains(t, string(body), tc.message)
			if tc.key != "" {
				data, _ := e.get("bkt", tc.key)
				require.Equal(t, tc.file, string(data))
			}
			if tc.check != nil {
				tc.check(t, resp)
			}
		})
	}
	for _, key := range []string{"big", "small", "late", "other/k", "badsum", "anon", "v2/bad"} {
		require.Nil(t, e.meta.object("bkt", key), "refused upload %s stored nothing", key)
	}
	require.Equal(t, e.bodies.live(), countObjects(e, "bkt"), "refused uploads left no shards")

	t.Run("not multipart", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/bkt", strings.NewReader("key=k"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, body := e.do(req)
		require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, string(body))
	})
}

// TestPostObjectAnonymous: a form with no signature is an anonymous
// PutObject, allowed where the bucket's policy allows it.
func TestPostObjectAnonymous(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.Meta = NewMetaClient(metatest.New(t)) }})
	e.createBucket("bkt")
	_, err := e.client.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String("bkt"), Policy: aws.String(
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/public/*"}]}`)})
	require.NoError(t, err)
	resp, body := e.do(e.postForm("bkt", []formField{{"key", "public/${filename}"}, {"success_action_status", "200"}}, "pic.png", "png"))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	data, _ := e.get("bkt", "public/pic.png")
	require.Equal(t, "png", string(data))
	resp, body = e.do(e.postForm("bkt", []formField{{"key", "private/x"}}, "x", "x"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))

	// The form's fields are what the policy's conditions test.
	_, err = e.client.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String("bkt"), Policy: aws.String(
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::bkt/*",` +
			`"Condition":{"StringEquals":{"s3:RequestObjectTag/team":"blue"}}}]}`)})
	require.NoError(t, err)
	tagging := func(team string) formField {
		return formField{"tagging", "<Tagging><TagSet><Tag><Key>team</Key><Value>" + team + "</Value></Tag></TagSet></Tagging>"}
	}
	resp, body = e.do(e.postForm("bkt", []formField{{"key", "blue"}, tagging("blue")}, "x", "x"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))
	resp, body = e.do(e.postForm("bkt", []formField{{"key", "red"}, tagging("red")}, "x", "x"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
}

func countObjects(e *testEnv, bucket string) int {
	out, err := e.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(e.t, err)
	return len(out.Contents)
}
