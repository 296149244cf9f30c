package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
)

// user is an identity created through the admin command.
type user struct {
	name, accessKey, secretKey, id string
	s3                             *s3.Client
}

// admin runs `cairn admin user ...` against the cluster's meta group.
func (c *cluster) admin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, cairnBin, append([]string{"admin", "user"}, args...)...)
	cmd.Env = append(os.Environ(),
		"CAIRN_META_ADDRS="+strings.Join(c.layout.MetaAddrs(), ","),
		"CAIRN_MASTER_KEY="+testMasterKey)
	cmd.Env = append(cmd.Env, c.adminEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cairn admin user %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (c *cluster) createUser(ctx context.Context, name string) *user {
	c.t.Helper()
	out, err := c.admin(ctx, "create", "--name", name)
	require.NoError(c.t, err)
	u := &user{name: name}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch v = strings.TrimSpace(v); k {
		case "Access key":
			u.accessKey = v
		case "Secret key":
			u.secretKey = v
		case "Canonical ID":
			u.id = v
		}
	}
	require.NotEmpty(c.t, u.accessKey, out)
	require.NotEmpty(c.t, u.secretKey, out)
	require.Len(c.t, u.id, 64, out)
	u.s3 = devcluster.S3Client(c.layout, u.accessKey, u.secretKey)
	return u
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	require.Equal(t, code, ae.ErrorCode(), "%v", err)
}

func putBody(ctx context.Context, c *s3.Client, bucket, key, data string, mod func(*s3.PutObjectInput)) error {
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(data)}
	if mod != nil {
		mod(in)
	}
	_, err := c.PutObject(ctx, in)
	return err
}

func getBody(ctx context.Context, c *s3.Client, bucket, key string) (string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

// anonymousGet fetches a path with plain, unsigned HTTP.
func (c *cluster) anonymousGet(ctx context.Context, path string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.layout.S3Addr()+path, nil)
	require.NoError(c.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(b)
}

// TestIdentitiesAndAccess drives users, ACLs, bucket policies and
// ownership controls through a real cluster.
func TestIdentitiesAndAccess(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	bob := c.createUser(ctx, "bob")
	carol := c.createUser(ctx, "carol")

	_, err := c.admin(ctx, "create", "--name", "bob")
	require.Error(t, err, "display names are unique")
	list, err := c.admin(ctx, "list")
	require.NoError(t, err)
	require.Contains(t, list, bob.accessKey)
	require.Contains(t, list, carol.id)
	require.NotContains(t, list, bob.secretKey, "secrets are never listed")

	c.mustCreateBucket(ctx, "rootb")
	_, err = bob.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err)
	require.NoError(t, putBody(ctx, bob.s3, "bobb", "private.txt", "bob's secret", nil))

	t.Run("buckets and owners", func(t *testing.T) {
		out, err := bob.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		require.NoError(t, err)
		require.Len(t, out.Buckets, 1)
		require.Equal(t, "bobb", aws.ToString(out.Buckets[0].Name))
		require.Equal(t, bob.id, aws.ToString(out.Owner.ID))
		require.Equal(t, "bob", aws.ToString(out.Owner.DisplayName))

		objs, err := bob.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bobb"), FetchOwner: aws.Bool(true)})
		require.NoError(t, err)
		require.Len(t, objs.Contents, 1)
		require.Equal(t, bob.id, aws.ToString(objs.Contents[0].Owner.ID))
		require.Equal(t, "bob", aws.ToString(objs.Contents[0].Owner.DisplayName))

		_, err = bob.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("rootb")})
		requireCode(t, err, "BucketAlreadyExists")
	})

	t.Run("cross-user access refused", func(t *testing.T) {
		_, err := getBody(ctx, carol.s3, "bobb", "private.txt")
		requireCode(t, err, "AccessDenied")
		_, err = getBody(ctx, carol.s3, "bobb", "missing.txt")
		requireCode(t, err, "AccessDenied")
		requireCode(t, putBody(ctx, carol.s3, "bobb", "intruder.txt", "x", nil), "AccessDenied")
		_, err = carol.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bobb")})
		requireCode(t, err, "AccessDenied")
		_, err = carol.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bobb"), Key: aws.String("private.txt")})
		requireCode(t, err, "AccessDenied")
		_, err = carol.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bobb")})
		requireCode(t, err, "AccessDenied")
		_, err = carol.s3.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("private.txt")})
		requireCode(t, err, "AccessDenied")
		_, err = bob.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("rootb")})
		requireCode(t, err, "AccessDenied")

		// Root is an administrator.
		got, err := c.get(ctx, "bobb", "private.txt")
		require.NoError(t, err)
		require.Equal(t, "bob's secret", string(got))

		code, _ := c.anonymousGet(ctx, "/bobb/private.txt")
		require.Equal(t, http.StatusForbidden, code, "objects are private by default")
	})

	t.Run("granted by ACL", func(t *testing.T) {
		require.NoError(t, putBody(ctx, bob.s3, "bobb", "for-carol.txt", "hello carol", func(in *s3.PutObjectInput) {
			in.GrantRead = aws.String(`id="` + carol.id + `"`)
		}))
		got, err := getBody(ctx, carol.s3, "bobb", "for-carol.txt")
		require.NoError(t, err)
		require.Equal(t, "hello carol", got)
		_, err = carol.s3.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("for-carol.txt")})
		requireCode(t, err, "AccessDenied")

		acl, err := bob.s3.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("for-carol.txt")})
		require.NoError(t, err)
		require.Equal(t, bob.id, aws.ToString(acl.Owner.ID))
		require.Len(t, acl.Grants, 1)
		require.Equal(t, carol.id, aws.ToString(acl.Grants[0].Grantee.ID))
		require.Equal(t, "carol", aws.ToString(acl.Grants[0].Grantee.DisplayName))
		require.Equal(t, types.PermissionRead, acl.Grants[0].Permission)

		// Bucket ACL: WRITE lets carol add objects to bob's bucket.
		_, err = bob.s3.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("bobb"),
			GrantWrite: aws.String(`id="` + carol.id + `"`), GrantFullControl: aws.String(`id="` + bob.id + `"`)})
		require.NoError(t, err)
		require.NoError(t, putBody(ctx, carol.s3, "bobb", "from-carol.txt", "hi bob", nil))
		// ... which carol owns, and bob cannot read without a grant.
		_, err = getBody(ctx, bob.s3, "bobb", "from-carol.txt")
		requireCode(t, err, "AccessDenied")
		_, err = bob.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bobb"), Key: aws.String("from-carol.txt")})
		require.NoError(t, err, "the bucket owner may delete any object")
		bacl, err := bob.s3.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("bobb")})
		require.NoError(t, err)
		require.Len(t, bacl.Grants, 2)
		_, err = bob.s3.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("bobb"), ACL: types.BucketCannedACLPrivate})
		require.NoError(t, err)
		requireCode(t, putBody(ctx, carol.s3, "bobb", "from-carol.txt", "again", nil), "AccessDenied")

		// Canned and grant headers together are refused.
		err = putBody(ctx, bob.s3, "bobb", "both.txt", "x", func(in *s3.PutObjectInput) {
			in.ACL = types.ObjectCannedACLPrivate
			in.GrantRead = aws.String(`id="` + carol.id + `"`)
		})
		requireCode(t, err, "InvalidRequest")
	})

	t.Run("anonymous GET of a public-read object", func(t *testing.T) {
		require.NoError(t, putBody(ctx, bob.s3, "bobb", "public.txt", "for everyone", func(in *s3.PutObjectInput) {
			in.ACL = types.ObjectCannedACLPublicRead
		}))
		code, body := c.anonymousGet(ctx, "/bobb/public.txt")
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "for everyone", body)

		// PutObjectAcl turns a private object public, and back.
		_, err := bob.s3.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("private.txt"), ACL: types.ObjectCannedACLPublicRead})
		require.NoError(t, err)
		code, body = c.anonymousGet(ctx, "/bobb/private.txt")
		require.Equal(t, http.StatusOK, code, body)
		_, err = bob.s3.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("private.txt"),
			AccessControlPolicy: &types.AccessControlPolicy{
				Owner:  &types.Owner{ID: aws.String(bob.id)},
				Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(bob.id)}, Permission: types.PermissionFullControl}},
			}})
		require.NoError(t, err)
		code, _ = c.anonymousGet(ctx, "/bobb/private.txt")
		require.Equal(t, http.StatusForbidden, code)

		code, _ = c.anonymousGet(ctx, "/bobb")
		require.Equal(t, http.StatusForbidden, code, "a public object does not make the bucket listable")
	})

	t.Run("bucket policy", func(t *testing.T) {
		require.NoError(t, putBody(ctx, bob.s3, "bobb", "docs/a.txt", "doc a", nil))
		require.NoError(t, putBody(ctx, bob.s3, "bobb", "docs/secret/b.txt", "doc b", func(in *s3.PutObjectInput) {
			in.GrantRead = aws.String(`id="` + carol.id + `"`)
		}))
		_, err := getBody(ctx, carol.s3, "bobb", "docs/a.txt")
		requireCode(t, err, "AccessDenied")

		_, err = bob.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("bobb"), Policy: aws.String(`{"Version": "2012-10-17"`)})
		requireCode(t, err, "MalformedPolicy")
		_, err = bob.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("bobb"), Policy: aws.String(
			`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::otherbucket/*"}]}`)})
		requireCode(t, err, "MalformedPolicy")
		_, err = bob.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("bobb")})
		requireCode(t, err, "NoSuchBucketPolicy")

		policy := `{"Version":"2012-10-17","Statement":[
			{"Sid":"CarolReadsDocs","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/carol"]},
			 "Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::bobb","arn:aws:s3:::bobb/docs/*"],
			 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}},
			{"Sid":"NoSecrets","Effect":"Deny","Principal":{"AWS":"` + carol.id + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bobb/docs/secret/*"},
			{"Sid":"PublicPrefix","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bobb/docs/a.txt"}]}`
		_, err = bob.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("bobb"), Policy: aws.String(policy)})
		require.NoError(t, err)
		stored, err := bob.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("bobb")})
		require.NoError(t, err)
		require.JSONEq(t, policy, aws.ToString(stored.Policy))
		_, err = carol.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("bobb")})
		requireCode(t, err, "AccessDenied")

		got, err := getBody(ctx, carol.s3, "bobb", "docs/a.txt")
		require.NoError(t, err, "granted by policy")
		require.Equal(t, "doc a", got)
		_, err = carol.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bobb"), Prefix: aws.String("docs/")})
		require.NoError(t, err)
		_, err = getBody(ctx, carol.s3, "bobb", "private.txt")
		requireCode(t, err, "AccessDenied")
		_, err = getBody(ctx, carol.s3, "bobb", "docs/secret/b.txt")
		requireCode(t, err, "AccessDenied") // the explicit Deny beats carol's ACL grant
		requireCode(t, putBody(ctx, carol.s3, "bobb", "docs/new.txt", "x", nil), "AccessDenied")
		code, body := c.anonymousGet(ctx, "/bobb/docs/a.txt")
		require.Equal(t, http.StatusOK, code, body)

		_, err = bob.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("bobb")})
		require.NoError(t, err)
		_, err = getBody(ctx, carol.s3, "bobb", "docs/a.txt")
		requireCode(t, err, "AccessDenied")
		got, err = getBody(ctx, carol.s3, "bobb", "docs/secret/b.txt")
		require.NoError(t, err, "without the Deny the ACL grant applies again")
		require.Equal(t, "doc b", got)
	})

	t.Run("bucket owner enforced", func(t *testing.T) {
		_, err := bob.s3.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("bobb")})
		requireCode(t, err, "OwnershipControlsNotFoundError")
		_, err = bob.s3.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("bobb"),
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
		require.NoError(t, err)
		oc, err := bob.s3.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("bobb")})
		require.NoError(t, err)
		require.Equal(t, types.ObjectOwnershipBucketOwnerEnforced, oc.OwnershipControls.Rules[0].ObjectOwnership)

		err = putBody(ctx, bob.s3, "bobb", "acl.txt", "x", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead })
		requireCode(t, err, "AccessControlListNotSupported")
		err = putBody(ctx, bob.s3, "bobb", "acl.txt", "x", func(in *s3.PutObjectInput) { in.GrantRead = aws.String(`id="` + carol.id + `"`) })
		requireCode(t, err, "AccessControlListNotSupported")
		require.NoError(t, putBody(ctx, bob.s3, "bobb", "acl.txt", "x", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLBucketOwnerFullControl }))
		_, err = bob.s3.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("acl.txt"), ACL: types.ObjectCannedACLPublicRead})
		requireCode(t, err, "AccessControlListNotSupported")

		// ACLs no longer grant: the public object and carol's grant are void.
		code, _ := c.anonymousGet(ctx, "/bobb/public.txt")
		require.Equal(t, http.StatusForbidden, code)
		_, err = getBody(ctx, carol.s3, "bobb", "for-carol.txt")
		requireCode(t, err, "AccessDenied")

		_, err = bob.s3.DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("bobb")})
		require.NoError(t, err)
		got, err := getBody(ctx, carol.s3, "bobb", "for-carol.txt")
		require.NoError(t, err)
		require.Equal(t, "hello carol", got)
	})

	t.Run("deleting a user revokes its access", func(t *testing.T) {
		_, err := carol.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		require.NoError(t, err)
		_, err = c.admin(ctx, "delete", "--access-key", carol.accessKey)
		require.NoError(t, err)
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, err = carol.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		requireCode(t, err, "InvalidAccessKeyId")
		_, err = c.admin(ctx, "delete", "--access-key", carol.accessKey)
		require.Error(t, err, "deleting twice fails")
		// Others are unaffected.
		_, err = bob.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		require.NoError(t, err)
	})
}
