package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		method, target string
		want           string // the action, or the S3 error code
	}{
		{"GET", "/", "s3:ListAllMyBuckets"},
		{"PUT", "/", "MethodNotAllowed"},
		{"PUT", "/b", "s3:CreateBucket"},
		{"DELETE", "/b", "s3:DeleteBucket"},
		{"GET", "/b", "s3:ListBucket"},
		{"HEAD", "/b", "s3:ListBucket"},
		{"POST", "/b", "s3:PutObject"}, // a browser form upload
		{"GET", "/b?versions", "s3:ListBucketVersions"},
		{"GET", "/b?acl", "s3:GetBucketAcl"},
		{"PUT", "/b?acl", "s3:PutBucketAcl"},
		{"GET", "/b?policy", "s3:GetBucketPolicy"},
		{"PUT", "/b?policy", "s3:PutBucketPolicy"},
		{"DELETE", "/b?policy", "s3:DeleteBucketPolicy"},
		{"PUT", "/b?ownershipControls", "s3:PutBucketOwnershipControls"},
		{"GET", "/b?ownershipControls", "s3:GetBucketOwnershipControls"},
		{"PUT", "/b?versioning", "s3:PutBucketVersioning"},
		{"GET", "/b?uploads", "s3:ListBucketMultipartUploads"},
		{"GET", "/b?location", "s3:GetBucketLocation"},
		{"DELETE", "/b?encryption", "s3:PutEncryptionConfiguration"},
		{"POST", "/b?delete", "s3:DeleteObject"},
		{"GET", "/b?cors", "s3:GetBucketCORS"},
		{"DELETE", "/b?tagging", "s3:PutBucketTagging"},
		{"PUT", "/b?publicAccessBlock", "s3:PutBucketPublicAccessBlock"},
		{"GET", "/b?policyStatus", "s3:GetBucketPolicyStatus"},
		{"GET", "/b?attributes", "MethodNotAllowed"},
		{"GET", "/b/k?cors", "MethodNotAllowed"},
		// The method decides as much as the sub-resource: none of these
		// may fall back to the plain operation of its method.
		{"DELETE", "/b?versioning", "MethodNotAllowed"},
		{"DELETE", "/b?location", "MethodNotAllowed"},
		{"DELETE", "/b?versions", "MethodNotAllowed"},
		{"DELETE", "/b?uploads", "MethodNotAllowed"},
		{"DELETE", "/b?acl", "MethodNotAllowed"},
		{"DELETE", "/b?object-lock", "MethodNotAllowed"},
		{"PUT", "/b?uploads", "MethodNotAllowed"},
		{"PUT", "/b?location", "MethodNotAllowed"},
		{"GET", "/b?delete", "MethodNotAllowed"},
		{"DELETE", "/b?uploadId=u", "MethodNotAllowed"},
		{"HEAD", "/b?acl", "MethodNotAllowed"},
		{"GET", "/b/k", "s3:GetObject"},
		{"HEAD", "/b/k", "s3:GetObject"},
		{"GET", "/b/k?versionId=v1", "s3:GetObjectVersion"},
		{"PUT", "/b/k", "s3:PutObject"},
		{"DELETE", "/b/k", "s3:DeleteObject"},
		{"DELETE", "/b/k?versionId=v1", "s3:DeleteObjectVersion"},
		{"POST", "/b/k", "NotImplemented"},
		{"PATCH", "/b/k", "MethodNotAllowed"},
		{"GET", "/b/k?acl", "s3:GetObjectAcl"},
		{"PUT", "/b/k?acl", "s3:PutObjectAcl"},
		{"GET", "/b/k?acl&versionId=v", "s3:GetObjectVersionAcl"},
		{"PUT", "/b/k?tagging", "s3:PutObjectTagging"},
		{"DELETE", "/b/k?tagging&versionId=v", "s3:DeleteObjectVersionTagging"},
		{"PUT", "/b/k?retention", "s3:PutObjectRetention"},
		{"GET", "/b/k?legal-hold", "s3:GetObjectLegalHold"},
		{"POST", "/b/k?uploads", "s3:PutObject"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", "s3:PutObject"},
		{"POST", "/b/k?uploadId=u", "s3:PutObject"},
		{"DELETE", "/b/k?uploadId=u", "s3:AbortMultipartUpload"},
		{"GET", "/b/k?uploadId=u", "s3:ListMultipartUploadParts"},
		{"GET", "/b/k?attributes", "s3:GetObjectAttributes"},
		{"GET", "/b/k?attributes&versionId=v", "s3:GetObjectVersionAttributes"},
		{"GET", "/b/k?object-lock", "NotImplemented"},
		{"DELETE", "/b/k?uploads", "MethodNotAllowed"},
		{"DELETE", "/b/k?uploads&versionId=v", "MethodNotAllowed"},
		{"GET", "/b/k?uploads", "MethodNotAllowed"},
		{"DELETE", "/b/k?retention", "MethodNotAllowed"},
		{"DELETE", "/b/k?legal-hold", "MethodNotAllowed"},
		{"DELETE", "/b/k?acl", "MethodNotAllowed"},
		{"DELETE", "/b/k?versioning", "MethodNotAllowed"},
		{"GET", "/b/k?policy", "MethodNotAllowed"},
		{"POST", "/b/k?delete", "MethodNotAllowed"},
		// Several sub-resources: one of them decides both the action and
		// the handler.
		{"PUT", "/b?acl&encryption", "s3:PutEncryptionConfiguration"},
		{"PUT", "/b/k?acl&tagging", "s3:PutObjectTagging"},
		{"GET", "/b/" + strings.Repeat("k", maxKeyLen+1), "KeyTooLongError"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			r, err := http.NewRequest(tc.method, "http://h"+tc.target, nil)
			require.NoError(t, err)
			bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			op, err := resolve(r, bucket, key)
			if strings.HasPrefix(tc.want, "s3:") {
				require.NoError(t, err)
				require.NotNil(t, op.serve)
				require.Equal(t, tc.want, op.actionFor(r.URL.Query()))
				return
			}
			require.Equal(t, tc.want, s3err.FromError(err).Code)
		})
	}
}

// TestRouteTable checks that every operation of the table has an action
// and a handler, or is an answer of its own.
func TestRouteTable(t *testing.T) {
	check := func(where string, ms methods) {
		for m, op := range ms {
			if op.err != nil {
				require.Nil(t, op.serve, where+" "+m)
				continue
			}
			require.NotEmpty(t, op.action, where+" "+m)
			require.True(t, strings.HasPrefix(op.action, "s3:"), where+" "+m)
			require.NotNil(t, op.serve, where+" "+m)
		}
	}
	seen := map[string]bool{}
	for _, s := range subresources {
		require.False(t, seen[s.name], "sub-resource %s listed twice", s.name)
		seen[s.name] = true
		check(s.name+" on a bucket", s.bucket)
		check(s.name+" on an object", s.object)
	}
	check("service", serviceOps)
	check("bucket", bucketOps)
	check("object", objectOps)
}

// countingMeta counts the commands proposed through it.
type countingMeta struct {
	Meta
	proposes atomic.Int64
}

func (m *countingMeta) Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	m.proposes.Add(1)
	return m.Meta.Propose(ctx, cmd)
}

// dump is the whole state of a fake meta, for before/after comparisons.
func (m *fakeMeta) dump(t *testing.T) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var lines []string
	for name, b := range m.mu.buckets {
		data, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
		require.NoError(t, err)
		lines = append(lines, "bucket "+name+" "+hex.EncodeToString(data))
		for key, v := range m.mu.objects[name] {
			data, err := proto.MarshalOptions{Deterministic: true}.Marshal(v)
			require.NoError(t, err)
			lines = append(lines, "object "+name+"/"+key+" "+hex.EncodeToString(data))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// signedAs builds a raw request signed with the given credentials (none:
// anonymous), with an empty body.
func (e *testEnv) signedAs(accessKey, secret, method, path string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	require.NoError(e.t, err)
	if accessKey == "" {
		return req
	}
	sum := sha256.Sum256(nil)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
	require.NoError(e.t, v4.NewSigner().SignHTTP(context.Background(), creds, req, payload, "s3", testRegion, time.Now()))
	return req
}

// iamEnv is a test gateway over fakes with users bob and carol and a
// proposal counter.
type iamEnv struct {
	*testEnv
	iam            *fakeMeta
	counter        *countingMeta
	bobID, carolID string
}

func newIAMEnv(t *testing.T) *iamEnv {
	t.Helper()
	mk := identity.NewMasterKey()
	sealer, err := identity.NewSealer(mk)
	require.NoError(t, err)
	ie := &iamEnv{bobID: identity.NewCanonicalID(), carolID: identity.NewCanonicalID()}
	users := map[string]*metapb.User{
		"AKBOB":   {AccessKey: "AKBOB", CanonicalId: ie.bobID, DisplayName: "bob", SecretCiphertext: sealer.Seal("AKBOB", "bob-secret")},
		"AKCAROL": {AccessKey: "AKCAROL", CanonicalId: ie.carolID, DisplayName: "carol", SecretCiphertext: sealer.Seal("AKCAROL", "carol-secret")},
	}
	ie.testEnv = newEnv(t, envOptions{config: func(c *Config) {
		ie.iam = c.Meta.(*fakeMeta)
		ie.iam.addUsers(users)
		ie.counter = &countingMeta{Meta: ie.iam}
		c.Meta = ie.counter
		c.MasterKey = mk
	}})
	return ie
}

// s3Methods are the methods of the matrix below; PATCH stands for any
// method S3 does not use.
var s3Methods = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch}

// supported lists, as the S3 API defines them, the methods of each
// sub-resource the gateway implements, on a bucket and on an object. A
// sub-resource missing from a level does not exist there.
var supported = map[string]struct{ bucket, object []string }{
	"":                  {[]string{"GET", "HEAD", "PUT", "DELETE"}, []string{"GET", "HEAD", "PUT", "DELETE"}},
	"acl":               {[]string{"GET", "PUT"}, []string{"GET", "PUT"}},
	"policy":            {[]string{"GET", "PUT", "DELETE"}, nil},
	"ownershipControls": {[]string{"GET", "PUT", "DELETE"}, nil},
	"versioning":        {[]string{"GET", "PUT"}, nil},
	"versions":          {[]string{"GET"}, nil},
	"uploads":           {[]string{"GET"}, []string{"POST"}},
	"uploadId":          {nil, []string{"GET", "PUT", "POST", "DELETE"}},
	"location":          {[]string{"GET"}, nil},
	"encryption":        {[]string{"GET", "PUT", "DELETE"}, nil},
	"lifecycle":         {[]string{"GET", "PUT", "DELETE"}, nil},
	"object-lock":       {[]string{"GET", "PUT"}, nil},
	"tagging":           {[]string{"GET", "PUT", "DELETE"}, []string{"GET", "PUT", "DELETE"}},
	"cors":              {[]string{"GET", "PUT", "DELETE"}, nil},
	"publicAccessBlock": {[]string{"GET", "PUT", "DELETE"}, nil},
	"policyStatus":      {[]string{"GET"}, nil},
	"attributes":        {nil, []string{"GET"}},
	"retention":         {nil, []string{"GET", "PUT"}},
	"legal-hold":        {nil, []string{"GET", "PUT"}},
	"delete":            {[]string{"POST"}, nil},
}

// unimplemented are the sub-resources S3 has and the gateway answers
// NotImplemented for, with the levels where that holds.
var unimplemented = map[string]struct{ bucket, object bool }{
	"retention": {bucket: true}, "legal-hold": {bucket: true},
	"encryption": {object: true}, "object-lock": {object: true},
	"website": {true, true}, "torrent": {true, true},
	"restore": {true, true}, "select": {true, true}, "notification": {true, true}, "logging": {true, true},
}

// TestNoRightsMatrix sends every method with every sub-resource, on a
// bucket and on an object, as a user without rights and as an anonymous
// caller: each is refused (403), answered MethodNotAllowed (405) where S3
// has no such operation, or NotImplemented (501), and none changes
// anything.
func TestNoRightsMatrix(t *testing.T) {
	e := newIAMEnv(t)
	e.createBucket("rootb")
	e.put("rootb", "k", []byte("v"))
	before := e.iam.dump(t)
	writes := e.bodies.writeCount()

	names := map[string]bool{}
	for n := range supported {
		names[n] = true
	}
	for n := range unimplemented {
		names[n] = true
	}
	callers := []struct{ name, ak, secret string }{{"bob", "AKBOB", "bob-secret"}, {"anonymous", "", ""}}
	for _, caller := range callers {
		for name := range names {
			for _, level := range []string{"bucket", "object"} {
				for _, method := range s3Methods {
					path := "/rootb"
					methods, notImpl := supported[name].bucket, unimplemented[name].bucket
					if level == "object" {
						path += "/k"
						methods, notImpl = supported[name].object, unimplemented[name].object
					}
					if name != "" {
						path += "?" + name
						if name == "uploadId" {
							path += "=u1&partNumber=1"
						}
					}
					want := http.StatusMethodNotAllowed
					switch {
					case notImpl:
						want = http.StatusNotImplemented
					case method == http.MethodPost && name == "" && level == "bucket":
						// A browser upload; this is no form.
						want = http.StatusPreconditionFailed
					case method == http.MethodPost && name == "":
						want = http.StatusNotImplemented
					case contains(methods, method):
						want = http.StatusForbidden
						if caller.ak != "" && name == "" && level == "bucket" && method == http.MethodPut {
							// CreateBucket needs no rights; the name is taken.
							want = http.StatusConflict
						}
					}
					t.Run(caller.name+" "+method+" "+path, func(t *testing.T) {
						proposes := e.counter.proposes.Load()
						resp, body := e.do(e.signedAs(caller.ak, caller.secret, method, path))
						require.Equal(t, want, resp.StatusCode, "body: %s", body)
						if want != http.StatusConflict {
							require.Equal(t, proposes, e.counter.proposes.Load(), "nothing proposed")
						}
						require.Equal(t, before, e.iam.dump(t), "state unchanged")
						require.Equal(t, writes, e.bodies.writeCount(), "no body written")
					})
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSubresourceMethodConfusion reproduces the review's findings: a
// sub-resource with a method it does not support must not run the plain
// operation of that method, whatever rights the caller has for the
// sub-resource's own operation.
func TestSubresourceMethodConfusion(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()
	bob := e.newClient("AKBOB", "bob-secret", "")
	carol := e.newClient("AKCAROL", "carol-secret", "")
	_, err := bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err)

	// A user without rights: DELETE /bobb?versioning deleted the bucket.
	resp, body := e.do(e.signedAs("AKCAROL", "carol-secret", http.MethodDelete, "/bobb?versioning"))
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Contains(t, string(body), "<Code>MethodNotAllowed</Code>")
	_, err = bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err, "the bucket still exists")

	// Read rights on the bucket (public-read-write: READ and WRITE) must
	// not turn into DeleteBucket, nor PutObject rights into DeleteObject
	// or GetObject.
	_, err = bob.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("bobb"), ACL: types.BucketCannedACLPublicReadWrite})
	require.NoError(t, err)
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k"), Body: strings.NewReader("secret")})
	require.NoError(t, err)
	_, err = carol.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	for _, path := range []string{"/bobb?location", "/bobb?versions", "/bobb?uploads", "/bobb?versioning", "/bobb?acl"} {
		resp, _ := e.do(e.signedAs("AKCAROL", "carol-secret", http.MethodDelete, path))
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, path)
	}
	for _, path := range []string{"/bobb/k?uploads", "/bobb/k?uploads&versionId=" + nullVersion} {
		resp, _ := e.do(e.signedAs("AKCAROL", "carol-secret", http.MethodDelete, path))
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, path)
	}
	resp, body = e.do(e.signedAs("AKCAROL", "carol-secret", http.MethodGet, "/bobb/k?uploads"))
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.NotContains(t, string(body), "secret")
	require.NotNil(t, e.iam.object("bobb", "k"), "the object still exists")
	_, err = bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err, "the bucket still exists")

	// The owner still has every operation.
	_, err = bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err)
}
