package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// TestAccessControl checks the authorization hook end to end through the
// gateway, over fakes: users, ACLs, a policy and ownership enforcement.
func TestAccessControl(t *testing.T) {
	mk := identity.NewMasterKey()
	sealer, err := identity.NewSealer(mk)
	require.NoError(t, err)
	bobID, carolID := identity.NewCanonicalID(), identity.NewCanonicalID()
	users := map[string]*metapb.User{
		"AKBOB":   {AccessKey: "AKBOB", CanonicalId: bobID, DisplayName: "bob", SecretCiphertext: sealer.Seal("AKBOB", "bob-secret")},
		"AKCAROL": {AccessKey: "AKCAROL", CanonicalId: carolID, DisplayName: "carol", SecretCiphertext: sealer.Seal("AKCAROL", "carol-secret")},
	}
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta.(*fakeMeta).addUsers(users)
		c.MasterKey = mk
	}})
	ctx := context.Background()
	bob := e.newClient("AKBOB", "bob-secret", "")
	carol := e.newClient("AKCAROL", "carol-secret", "")
	anonGet := func(path string) int {
		resp, err := e.srv.Client().Get(e.srv.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err)
	require.Equal(t, bobID, e.meta.mu.buckets["bobb"].GetOwner())
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k"), Body: strings.NewReader("v")})
	require.NoError(t, err)
	require.Equal(t, bobID, e.meta.object("bobb", "k").GetOwner())

	_, err = carol.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	require.Equal(t, http.StatusForbidden, anonGet("/bobb/k"))
	_, err = e.newClient("AKNOBODY", "x", "").ListBuckets(ctx, &s3.ListBucketsInput{})
	requireS3Error(t, err, "InvalidAccessKeyId", http.StatusForbidden)

	_, err = bob.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, anonGet("/bobb/k"))
	_, err = carol.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	require.NoError(t, err)
	acl, err := bob.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Equal(t, "bob", aws.ToString(acl.Owner.DisplayName))
	require.Len(t, acl.Grants, 2)
	require.Equal(t, types.TypeGroup, acl.Grants[1].Grantee.Type)

	_, err = bob.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("bobb"), Policy: aws.String(
		`{"Statement":[{"Effect":"Deny","Principal":{"AWS":"` + carolID + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bobb/*"}]}`)})
	require.NoError(t, err)
	_, err = carol.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	require.Equal(t, http.StatusOK, anonGet("/bobb/k"), "the deny names carol only")
	_, err = bob.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("bobb"), Policy: aws.String(`{"Statement":[]}`)})
	requireS3Error(t, err, "MalformedPolicy", http.StatusBadRequest)

	_, err = bob.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("bobb"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	require.NoError(t, err)
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k2"), Body: strings.NewReader("v"), ACL: types.ObjectCannedACLPublicRead})
	requireS3Error(t, err, "AccessControlListNotSupported", http.StatusBadRequest)
	require.Nil(t, e.meta.object("bobb", "k2"), "nothing stored")
	require.Equal(t, http.StatusForbidden, anonGet("/bobb/k"), "ACLs are off")

	// Root sees everything; users list their own buckets only.
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
	require.NoError(t, err)
	lb, err := carol.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	require.Empty(t, lb.Buckets)
	require.Equal(t, "carol", aws.ToString(lb.Owner.DisplayName))
}
