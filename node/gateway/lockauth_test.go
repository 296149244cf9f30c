package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// newLockEnv is a gateway over the real state machine and erasure-coded
// store, with a user bob besides root, and a bucket "locked" with Object
// Lock owned by root. It returns bob's canonical ID and client.
func newLockEnv(t *testing.T) (*testEnv, string, *s3.Client) {
	t.Helper()
	mk := identity.NewMasterKey()
	sealer, err := identity.NewSealer(mk)
	require.NoError(t, err)
	bobID := identity.NewCanonicalID()
	cl := objiotest.NewCluster(t, 6)
	pool := objio.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	store, err := objio.New(objio.Config{Maps: cl.Maps, Dialer: pool})
	require.NoError(t, err)
	meta := usersMeta{Meta: NewMetaClient(metatest.New(t)), users: map[string]*metapb.User{
		"AKBOB": {AccessKey: "AKBOB", CanonicalId: bobID, DisplayName: "bob", SecretCiphertext: sealer.Seal("AKBOB", "bob-secret")},
	}}
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = meta
		c.Bodies = store
		c.MinPartSize = testMinPart
		c.MasterKey = mk
	}})
	_, err = e.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("locked"), ObjectLockEnabledForBucket: aws.Bool(true)})
	require.NoError(t, err)
	return e, bobID, e.newClient("AKBOB", "bob-secret", "")
}

// setPolicy gives the bucket "locked" a policy with the statements stmts.
func setPolicy(t *testing.T, e *testEnv, stmts ...string) {
	t.Helper()
	_, err := e.client.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String("locked"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`)})
	require.NoError(t, err)
}

func allowStmt(who string, actions ...string) string {
	return `{"Effect":"Allow","Principal":{"AWS":"` + who + `"},"Action":["` + strings.Join(actions, `","`) +
		`"],"Resource":["arn:aws:s3:::locked","arn:aws:s3:::locked/*"]}`
}

func denyStmt(who string, actions ...string) string {
	return strings.Replace(allowStmt(who, actions...), `"Allow"`, `"Deny"`, 1)
}

// TestBypassGovernanceNeedsPermission: a user allowed s3:DeleteObjectVersion
// and s3:PutObjectRetention but not s3:BypassGovernanceRetention cannot
// bypass a GOVERNANCE lock, by any of the operations that take the
// bypass header; once allowed, it can.
func TestBypassGovernanceNeedsPermission(t *testing.T) {
	e, bobID, bob := newLockEnv(t)
	ctx := context.Background()
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	put, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), Body: strings.NewReader("v"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	require.NoError(t, err)
	v1 := aws.ToString(put.VersionId)
	free, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("free"), Body: strings.NewReader("f")})
	require.NoError(t, err)
	setPolicy(t, e, allowStmt(bobID, "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:GetObjectRetention", "s3:PutObject"))

	stillLocked := func() {
		t.Helper()
		ret, err := e.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1)})
		require.NoError(t, err, "the version still exists")
		require.Equal(t, types.ObjectLockRetentionModeGovernance, ret.Retention.Mode)
		require.True(t, until.Equal(aws.ToTime(ret.Retention.RetainUntilDate)), "retention unchanged")
	}

	_, err = bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1), BypassGovernanceRetention: aws.Bool(true)})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	stillLocked()

	del, err := bob.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("locked"), BypassGovernanceRetention: aws.Bool(true),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k"), VersionId: aws.String(v1)}}}})
	require.NoError(t, err)
	require.Empty(t, del.Deleted)
	require.Len(t, del.Errors, 1)
	require.Equal(t, "AccessDenied", aws.ToString(del.Errors[0].Code))
	stillLocked()

	_, err = bob.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1),
		BypassGovernanceRetention: aws.Bool(true), Retention: &types.ObjectLockRetention{}})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	_, err = bob.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1),
		BypassGovernanceRetention: aws.Bool(true), Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until.Add(-time.Minute))}})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	stillLocked()

	// A bypass without the permission is dropped, not refused: a version
	// that is not locked is deleted as without the header.
	_, err = bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("free"), VersionId: free.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	require.NoError(t, err)

	// Granted the permission, bob may bypass.
	setPolicy(t, e, allowStmt(bobID, "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:GetObjectRetention", "s3:PutObject", "s3:BypassGovernanceRetention"))
	_, err = bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1), BypassGovernanceRetention: aws.Bool(true)})
	require.NoError(t, err)
	_, err = e.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1)})
	requireS3Error(t, err, "NoSuchVersion", http.StatusNotFound)
}

// TestWriteLockHeadersNeedPermission: Object Lock headers on PutObject,
// CreateMultipartUpload and CopyObject need s3:PutObjectRetention and
// s3:PutObjectLegalHold; a bucket policy denying them refuses the write.
func TestWriteLockHeadersNeedPermission(t *testing.T) {
	e, bobID, bob := newLockEnv(t)
	ctx := context.Background()
	e.put("locked", "src", []byte("source"))
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	setPolicy(t, e,
		allowStmt(bobID, "s3:PutObject", "s3:GetObject", "s3:ListBucket"),
		denyStmt(bobID, "s3:PutObjectRetention", "s3:PutObjectLegalHold"))

	retention := func(in *s3.PutObjectInput) {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeGovernance, aws.Time(until)
	}
	hold := func(in *s3.PutObjectInput) { in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn }
	for name, set := range map[string]func(*s3.PutObjectInput){"retention": retention, "legal hold": hold} {
		t.Run(name, func(t *testing.T) {
			in := &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), Body: bytes.NewReader([]byte("v"))}
			set(in)
			_, err := bob.PutObject(ctx, in)
			requireS3Error(t, err, "AccessDenied", http.StatusForbidden)

			cin := &s3.CreateMultipartUploadInput{Bucket: aws.String("locked"), Key: aws.String("k"),
				ObjectLockMode: in.ObjectLockMode, ObjectLockRetainUntilDate: in.ObjectLockRetainUntilDate, ObjectLockLegalHoldStatus: in.ObjectLockLegalHoldStatus}
			_, err = bob.CreateMultipartUpload(ctx, cin)
			requireS3Error(t, err, "AccessDenied", http.StatusForbidden)

			_, err = bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), CopySource: aws.String("locked/src"),
				ObjectLockMode: in.ObjectLockMode, ObjectLockRetainUntilDate: in.ObjectLockRetainUntilDate, ObjectLockLegalHoldStatus: in.ObjectLockLegalHoldStatus})
			requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
		})
	}
	_, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("locked"), Key: aws.String("k")})
	requireS3Error(t, err, "NotFound", http.StatusNotFound)
	ups, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("locked")})
	require.NoError(t, err)
	require.Empty(t, ups.Uploads)

	// Without lock headers bob may write; root may with them.
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), Body: strings.NewReader("v")})
	require.NoError(t, err)
	in := &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), Body: strings.NewReader("v")}
	retention(in)
	hold(in)
	_, err = e.client.PutObject(ctx, in)
	require.NoError(t, err)
}

// TestCreateMultipartUploadLockHeaders: CreateMultipartUpload checks the
// Object Lock headers as PutObject does, and the completed object carries
// the lock it asked for.
func TestCreateMultipartUploadLockHeaders(t *testing.T) {
	e, _, _ := newLockEnv(t)
	ctx := context.Background()
	e.createBucket("plain")
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	date := future.Format(time.RFC3339)
	cases := []struct {
		name, bucket string
		header       http.Header
		code         string
	}{
		{"legal hold on a bucket without lock", "plain", hdr("x-amz-object-lock-legal-hold", "ON"), "InvalidRequest"},
		{"legal hold OFF on a bucket without lock", "plain", hdr("x-amz-object-lock-legal-hold", "OFF"), "InvalidRequest"},
		{"retention on a bucket without lock", "plain", hdr("x-amz-object-lock-mode", "GOVERNANCE", "x-amz-object-lock-retain-until-date", date), "InvalidRequest"},
		{"date in the past", "locked", hdr("x-amz-object-lock-mode", "GOVERNANCE", "x-amz-object-lock-retain-until-date", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), "InvalidArgument"},
		{"mode without date", "locked", hdr("x-amz-object-lock-mode", "GOVERNANCE"), "InvalidArgument"},
		{"date without mode", "locked", hdr("x-amz-object-lock-retain-until-date", date), "InvalidArgument"},
		{"unknown mode", "locked", hdr("x-amz-object-lock-mode", "FOREVER", "x-amz-object-lock-retain-until-date", date), "InvalidArgument"},
		{"malformed date", "locked", hdr("x-amz-object-lock-mode", "GOVERNANCE", "x-amz-object-lock-retain-until-date", "tomorrow"), "InvalidArgument"},
		{"unknown legal hold", "locked", hdr("x-amz-object-lock-legal-hold", "on"), "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(e.signedRequest(http.MethodPost, "/"+tc.bucket+"/k?uploads", nil, 0, tc.header))
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", body)
			require.Contains(t, string(body), "<Code>"+tc.code+"</Code>")
		})
	}
	for _, b := range []string{"plain", "locked"} {
		ups, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
		require.NoError(t, err)
		require.Empty(t, ups.Uploads, "no upload created in %s", b)
	}

	part := randBytes(7, 1000)
	id, parts := e.upload("locked", "k", [][]byte{part}, func(in *s3.CreateMultipartUploadInput) {
		in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeCompliance, aws.Time(future)
		in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
	})
	_, err := e.complete("locked", "k", id, parts)
	require.NoError(t, err)
	head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("locked"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectLockModeCompliance, head.ObjectLockMode)
	require.True(t, future.Equal(aws.ToTime(head.ObjectLockRetainUntilDate)))
	require.Equal(t, types.ObjectLockLegalHoldStatusOn, head.ObjectLockLegalHoldStatus)
}
