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
)

func TestPublicAccessBlock(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("pub")
	b := aws.String("pub")
	anonGet := func(key string) int {
		resp, err := e.srv.Client().Get(e.srv.URL + "/pub/" + key)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	setPAB := func(c types.PublicAccessBlockConfiguration) {
		t.Helper()
		_, err := e.client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &c})
		require.NoError(t, err)
	}

	_, err := e.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	requireS3Error(t, err, "NoSuchPublicAccessBlockConfiguration", http.StatusNotFound)
	_, err = e.client.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
	requireS3Error(t, err, "NoSuchBucketPolicy", http.StatusNotFound)

	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("acl-public"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, anonGet("acl-public"))

	t.Run("IgnorePublicAcls", func(t *testing.T) {
		setPAB(types.PublicAccessBlockConfiguration{IgnorePublicAcls: aws.Bool(true)})
		got, err := e.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
		require.NoError(t, err)
		require.True(t, aws.ToBool(got.PublicAccessBlockConfiguration.IgnorePublicAcls))
		require.False(t, aws.ToBool(got.PublicAccessBlockConfiguration.BlockPublicAcls))
		require.Equal(t, http.StatusForbidden, anonGet("acl-public"))
		_, err = e.client.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, anonGet("acl-public"))
	})

	t.Run("BlockPublicAcls", func(t *testing.T) {
		setPAB(types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)})
		_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("new"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
		requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
		_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("new"), Body: strings.NewReader("x"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"`)})
		requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
		_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("new"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPrivate})
		require.NoError(t, err)
		_, err = e.client.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("new"), ACL: types.ObjectCannedACLPublicReadWrite})
		requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
		_, err = e.client.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPublicRead})
		requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
		// Existing public ACLs still count: only IgnorePublicAcls drops them.
		require.Equal(t, http.StatusOK, anonGet("acl-public"))
		_, err = e.client.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
		require.NoError(t, err)
	})

	publicPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}`
	privatePolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}`
	e.put("pub", "open", []byte("x"))

	t.Run("BlockPublicPolicy", func(t *testing.T) {
		setPAB(types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)})
		_, err := e.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(publicPolicy)})
		requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
		_, err = e.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(privatePolicy)})
		require.NoError(t, err)
		st, err := e.client.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
		require.NoError(t, err)
		require.False(t, aws.ToBool(st.PolicyStatus.IsPublic))
		_, err = e.client.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
		require.NoError(t, err)
	})

	t.Run("RestrictPublicBuckets", func(t *testing.T) {
		_, err := e.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(publicPolicy)})
		require.NoError(t, err)
		st, err := e.client.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
		require.NoError(t, err)
		require.True(t, aws.ToBool(st.PolicyStatus.IsPublic))
		require.Equal(t, http.StatusOK, anonGet("open"))
		setPAB(types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)})
		require.Equal(t, http.StatusForbidden, anonGet("open"))
		body, _ := e.get("pub", "open")
		require.Equal(t, "x", string(body), "the owner keeps access")
	})
}
