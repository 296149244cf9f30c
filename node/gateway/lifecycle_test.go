package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

func TestLifecycleExpirationRules(t *testing.T) {
	e := newMultipartEnv(t)
	e.createBucket("bkt")
	ctx := context.Background()
	midnight := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	put := func(rules ...types.LifecycleRule) error {
		_, err := e.client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("bkt"),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}})
		return err
	}
	on := types.ExpirationStatusEnabled
	cases := []struct {
		name string
		rule types.LifecycleRule
		code string // "" when accepted
	}{
		{"noncurrent only", types.LifecycleRule{ID: aws.String("nc"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(3), NewerNoncurrentVersions: aws.Int32(2)}}, ""},
		{"date", types.LifecycleRule{ID: aws.String("d"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("x/")},
			Expiration: &types.LifecycleExpiration{Date: aws.Time(midnight)}}, ""},
		{"expired delete marker", types.LifecycleRule{ID: aws.String("m"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}}, ""},
		{"tags and sizes", types.LifecycleRule{ID: aws.String("and"), Status: on, Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
			Prefix: aws.String("logs/"), Tags: []types.Tag{{Key: aws.String("t"), Value: aws.String("v")}},
			ObjectSizeGreaterThan: aws.Int64(1), ObjectSizeLessThan: aws.Int64(1000)}},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(5)}}, ""},
		{"date not at midnight", types.LifecycleRule{ID: aws.String("x"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Date: aws.Time(midnight.Add(time.Hour))}}, "InvalidArgument"},
		{"zero days", types.LifecycleRule{ID: aws.String("x"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(0)}}, "InvalidArgument"},
		{"zero noncurrent days", types.LifecycleRule{ID: aws.String("x"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(0)}}, "InvalidArgument"},
		{"marker with days", types.LifecycleRule{ID: aws.String("x"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1), ExpiredObjectDeleteMarker: aws.Bool(true)}}, "InvalidArgument"},
		{"size bounds crossed", types.LifecycleRule{ID: aws.String("x"), Status: on, Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
			ObjectSizeGreaterThan: aws.Int64(10), ObjectSizeLessThan: aws.Int64(5)}},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := put(tc.rule)
			if tc.code != "" {
				requireS3Error(t, err, tc.code, 400)
				return
			}
			require.NoError(t, err)
			out, err := e.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("bkt")})
			require.NoError(t, err)
			require.Len(t, out.Rules, 1)
			require.Equal(t, tc.rule.Expiration, out.Rules[0].Expiration)
			require.Equal(t, tc.rule.NoncurrentVersionExpiration, out.Rules[0].NoncurrentVersionExpiration)
		})
	}
	bk, err := e.srvMeta(t).FSM.GetBucket("bkt")
	require.NoError(t, err)
	require.Len(t, bk.GetLifecycleRules(), 1)
	require.Equal(t, map[string]string{"t": "v"}, bk.GetLifecycleRules()[0].GetTags())
	require.Equal(t, int64(1000), bk.GetLifecycleRules()[0].GetObjectSizeLessThan())

	t.Run("x-amz-expiration", func(t *testing.T) {
		require.NoError(t, put(types.LifecycleRule{ID: aws.String("tmp-rule"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}}))
		resp, _ := e.do(e.signedRequest(http.MethodPut, "/bkt/tmp/a", strings.NewReader("x"), 1, nil))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		exp := resp.Header.Get("x-amz-expiration")
		require.Contains(t, exp, `rule-id="tmp-rule"`)
		require.True(t, strings.HasPrefix(exp, `expiry-date="`), exp)
		date := strings.TrimSuffix(strings.TrimPrefix(strings.Split(exp, ", rule-id")[0], `expiry-date="`), `"`)
		when, err := http.ParseTime(date)
		require.NoError(t, err)
		require.Equal(t, when.Truncate(24*time.Hour), when, "rounded to midnight UTC")
		require.WithinDuration(t, time.Now().Add(72*time.Hour), when, 26*time.Hour)
		head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("tmp/a")})
		require.NoError(t, err)
		require.Equal(t, exp, aws.ToString(head.Expiration))
		resp, _ = e.do(e.signedRequest(http.MethodPut, "/bkt/kept", strings.NewReader("x"), 1, nil))
		require.Empty(t, resp.Header.Get("x-amz-expiration"))
	})
}
