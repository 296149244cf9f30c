package gateway

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

func TestCompleteMultipartUploadRepeated(t *testing.T) {
	e := newMultipartEnv(t)
	e.createBucket("mpb")
	parts := [][]byte{randBytes(1, testMinPart), randBytes(2, 10)}
	id, done := e.upload("mpb", "k", parts, func(in *s3.CreateMultipartUploadInput) {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	})
	first, err := e.complete("mpb", "k", id, done)
	require.NoError(t, err)
	again, err := e.complete("mpb", "k", id, done)
	require.NoError(t, err, "a repeated Complete answers the first one's result")
	require.Equal(t, aws.ToString(first.ETag), aws.ToString(again.ETag))
	require.Equal(t, aws.ToString(first.ChecksumCRC32), aws.ToString(again.ChecksumCRC32))
	require.Equal(t, expectedETag(parts), aws.ToString(again.ETag))

	// Another upload's ID, or one whose object was overwritten since, is
	// still NoSuchUpload.
	_, err = e.complete("mpb", "k", "no-such-upload", done)
	requireS3Error(t, err, "NoSuchUpload", http.StatusNotFound)
	e.put("mpb", "k", []byte("overwritten"))
	_, err = e.complete("mpb", "k", id, done)
	requireS3Error(t, err, "NoSuchUpload", http.StatusNotFound)
}

func TestMultipartAndCopyACLs(t *testing.T) {
	e := newMultipartEnv(t)
	ctx := context.Background()
	e.createBucket("acls")
	anonGet := func(key string) int {
		resp, err := e.srv.Client().Get(e.srv.URL + "/acls/" + key)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	id, done := e.upload("acls", "mpb", [][]byte{randBytes(3, 10)}, func(in *s3.CreateMultipartUploadInput) {
		in.ACL = types.ObjectCannedACLPublicRead
	})
	_, err := e.complete("acls", "mpb", id, done)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, anonGet("mpb"), "x-amz-acl of CreateMultipartUpload is the object's")

	id, done = e.upload("acls", "mp-grant", [][]byte{randBytes(4, 10)}, func(in *s3.CreateMultipartUploadInput) {
		in.GrantRead = aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
	})
	_, err = e.complete("acls", "mp-grant", id, done)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, anonGet("mp-grant"), "x-amz-grant-* of CreateMultipartUpload")

	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acls"), Key: aws.String("copy"), CopySource: aws.String("acls/mpb"), ACL: types.ObjectCannedACLPublicRead})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, anonGet("copy"), "x-amz-acl of CopyObject")
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acls"), Key: aws.String("copy-private"), CopySource: aws.String("acls/mpb")})
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, anonGet("copy-private"), "a copy does not inherit the source's ACL")

	_, err = e.client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("acls"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	require.NoError(t, err)
	_, err = e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acls"), Key: aws.String("x"), ACL: types.ObjectCannedACLPublicRead})
	requireS3Error(t, err, "AccessControlListNotSupported", http.StatusBadRequest)
	_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acls"), Key: aws.String("x"), CopySource: aws.String("acls/mpb"), ACL: types.ObjectCannedACLAuthenticatedRead})
	requireS3Error(t, err, "AccessControlListNotSupported", http.StatusBadRequest)
	_, err = e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acls"), Key: aws.String("x"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
	require.NoError(t, err, "bucket-owner-full-control is still accepted")
}

// TestListPartsOwnerEnforced: under BucketOwnerEnforced the bucket owner
// owns what another user uploads, and ListParts and ListMultipartUploads
// say so, with the uploader as initiator.
func TestListPartsOwnerEnforced(t *testing.T) {
	mk := identity.NewMasterKey()
	sealer, err := identity.NewSealer(mk)
	require.NoError(t, err)
	bobID := identity.NewCanonicalID()
	meta := usersMeta{Meta: NewMetaClient(metatest.New(t)), users: map[string]*metapb.User{
		"AKBOB": {AccessKey: "AKBOB", CanonicalId: bobID, DisplayName: "bob", SecretCiphertext: sealer.Seal("AKBOB", "bob-secret")},
	}}
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = meta
		c.MasterKey = mk
		c.MinPartSize = testMinPart
	}})
	ctx := context.Background()
	rootID := identity.RootCanonicalID(testAccessKey)
	e.createBucket("shared")
	_, err = e.client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("shared"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	require.NoError(t, err)
	_, err = e.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobID + `"},"Action":["s3:PutObject","s3:ListMultipartUploadParts"],"Resource":"arn:aws:s3:::shared/*"}]}`)})
	require.NoError(t, err)

	bob := e.newClient("AKBOB", "bob-secret", "")
	up, err := bob.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("shared"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = bob.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("shared"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead})
	requireS3Error(t, err, "AccessControlListNotSupported", http.StatusBadRequest)

	parts, err := bob.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("shared"), Key: aws.String("k"), UploadId: up.UploadId})
	require.NoError(t, err)
	require.Equal(t, rootID, aws.ToString(parts.Owner.ID), "the bucket owner will own the object")
	require.Equal(t, "root", aws.ToString(parts.Owner.DisplayName))
	require.Equal(t, bobID, aws.ToString(parts.Initiator.ID))
	require.Equal(t, "bob", aws.ToString(parts.Initiator.DisplayName))

	list, err := e.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("shared")})
	require.NoError(t, err)
	require.Len(t, list.Uploads, 1)
	require.Equal(t, rootID, aws.ToString(list.Uploads[0].Owner.ID))
	require.Equal(t, bobID, aws.ToString(list.Uploads[0].Initiator.ID))
}
