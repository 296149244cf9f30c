package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/identity"
)

func TestBucketTagging(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("tagged")
	b := aws.String("tagged")

	_, err := e.client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	requireS3Error(t, err, "NoSuchTagSet", http.StatusNotFound)

	tags := []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}, {Key: aws.String("env"), Value: aws.String("")}}
	_, err = e.client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tags}})
	require.NoError(t, err)
	out, err := e.client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	require.NoError(t, err)
	got := map[string]string{}
	for _, tg := range out.TagSet {
		got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	require.Equal(t, map[string]string{"team": "storage", "env": ""}, got)

	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	for name, set := range map[string][]types.Tag{
		"too many":  many,
		"aws:":      {{Key: aws.String("aws:x"), Value: aws.String("v")}},
		"duplicate": {{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}},
		"long key":  {{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: set}})
			requireS3Error(t, err, "InvalidTag", http.StatusBadRequest)
		})
	}
	_, err = e.client.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b})
	require.NoError(t, err)
	_, err = e.client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	requireS3Error(t, err, "NoSuchTagSet", http.StatusNotFound)
	_, err = e.client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("missing")})
	requireS3Error(t, err, "NoSuchBucket", http.StatusNotFound)
}

func TestListBucketsPagination(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	for _, n := range []string{"b-e", "a-1", "b-a", "b-c", "c-0"} {
		e.createBucket(n)
	}
	var names []string
	var token *string
	pages := 0
	for {
		out, err := e.client.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2), Prefix: aws.String("b-"), ContinuationToken: token})
		require.NoError(t, err)
		pages++
		require.Equal(t, "b-", aws.ToString(out.Prefix))
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
			require.Equal(t, testRegion, aws.ToString(b.BucketRegion))
		}
		if out.ContinuationToken == nil {
			break
		}
		token = out.ContinuationToken
		// A bucket created behind the token is not listed again; the
		// token is a position.
		if pages == 1 {
			e.createBucket("b-0")
		}
	}
	require.Equal(t, []string{"b-a", "b-c", "b-e"}, names)
	require.Equal(t, 2, pages)

	all, err := e.client.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	require.Len(t, all.Buckets, 6)
	require.Nil(t, all.ContinuationToken)

	other, err := e.client.ListBuckets(ctx, &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-3")})
	require.NoError(t, err)
	require.Empty(t, other.Buckets)

	for _, q := range []string{"max-buckets=0", "max-buckets=10001", "max-buckets=x", "continuation-token=%21%21"} {
		resp, body := e.do(e.signedRequest(http.MethodGet, "/?"+q, nil, 0, nil))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		require.Contains(t, string(body), "<Code>InvalidArgument</Code>", q)
	}
}

func TestExpectedBucketOwner(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("mine")
	me := identity.RootCanonicalID(testAccessKey)
	_, err := e.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("mine"), ExpectedBucketOwner: aws.String(me)})
	require.NoError(t, err)
	_, err = e.client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("mine"), ExpectedBucketOwner: aws.String("111122223333")})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mine"), Key: aws.String("k"), Body: strings.NewReader("x"), ExpectedBucketOwner: aws.String("111122223333")})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	_, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mine"), Key: aws.String("k")})
	requireS3Error(t, err, "NotFound", http.StatusNotFound)
}
