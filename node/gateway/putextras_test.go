package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
)

func s3Code(err error) string {
	if err == nil {
		return ""
	}
	return s3err.FromError(err).Code
}

func TestParseTaggingHeader(t *testing.T) {
	many := make([]string, 11)
	for i := range many {
		many[i] = "k" + strings.Repeat("x", i) + "=v"
	}
	cases := []struct {
		in   string
		want map[string]string
		code string
	}{
		{"", map[string]string{}, ""},
		{"a=1", map[string]string{"a": "1"}, ""},
		{"a=1&b=&c", map[string]string{"a": "1", "b": "", "c": ""}, ""},
		{"key%20one=value+two&k%2Fx=%3D", map[string]string{"key one": "value two", "k/x": "="}, ""},
		{"a=1&a=2", nil, "InvalidTag"},
		{"=v", nil, "InvalidTag"},
		{"aws:x=1", nil, "InvalidTag"},
		{strings.Repeat("k", 128) + "=v", map[string]string{strings.Repeat("k", 128): "v"}, ""},
		{strings.Repeat("k", 129) + "=v", nil, "InvalidTag"},
		{"k=" + strings.Repeat("v", 256), map[string]string{"k": strings.Repeat("v", 256)}, ""},
		{"k=" + strings.Repeat("v", 257), nil, "InvalidTag"},
		{strings.Join(many[:10], "&"), nil, ""},
		{strings.Join(many, "&"), nil, "InvalidTag"},
		{"a=%zz", nil, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			got, err := parseTaggingHeader(tc.in)
			require.Equal(t, tc.code, s3Code(err))
			if tc.code == "" && tc.want != nil {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestParseLockHeaders(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	future := now.Add(48 * time.Hour).Format(time.RFC3339)
	past := now.Add(-time.Hour).Format(time.RFC3339)
	cases := []struct {
		name       string
		mode, date string
		hold       string
		wantMode   string
		wantHold   bool
		code       string
	}{
		{"none", "", "", "", "", false, ""},
		{"governance", "GOVERNANCE", future, "", "GOVERNANCE", false, ""},
		{"compliance with hold", "COMPLIANCE", future, "ON", "COMPLIANCE", true, ""},
		{"hold only", "", "", "ON", "", true, ""},
		{"hold off", "", "", "OFF", "", false, ""},
		{"bad hold", "", "", "on", "", false, "InvalidArgument"},
		{"mode without date", "GOVERNANCE", "", "", "", false, "InvalidArgument"},
		{"date without mode", "", future, "", "", false, "InvalidArgument"},
		{"bad mode", "governance", future, "", "", false, "InvalidArgument"},
		{"past date", "GOVERNANCE", past, "", "", false, "InvalidArgument"},
		{"bad date", "GOVERNANCE", "tomorrow", "", "", false, "InvalidArgument"},
		{"fractional date", "GOVERNANCE", "2030-01-02T00:00:00.123Z", "", "GOVERNANCE", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range map[string]string{"x-amz-object-lock-mode": tc.mode, "x-amz-object-lock-retain-until-date": tc.date, "x-amz-object-lock-legal-hold": tc.hold} {
				if v != "" {
					h.Set(k, v)
				}
			}
			mode, until, hold, err := parseLockHeaders(h, now)
			require.Equal(t, tc.code, s3Code(err))
			require.Equal(t, tc.wantMode, mode)
			require.Equal(t, tc.wantHold, hold)
			if mode != "" {
				require.True(t, until.After(now))
			}
		})
	}
}

func TestParseObjectLockConfig(t *testing.T) {
	n := func(i int) *int { return &i }
	cases := []struct {
		name string
		conf s3xml.ObjectLockConfiguration
		code string
	}{
		{"enabled only", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled"}, ""},
		{"days", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{DefaultRetention: &s3xml.DefaultRetention{Mode: "GOVERNANCE", Days: n(1)}}}, ""},
		{"years", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{DefaultRetention: &s3xml.DefaultRetention{Mode: "COMPLIANCE", Years: n(2)}}}, ""},
		{"not enabled", s3xml.ObjectLockConfiguration{}, "MalformedXML"},
		{"both periods", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{DefaultRetention: &s3xml.DefaultRetention{Mode: "GOVERNANCE", Days: n(1), Years: n(1)}}}, "MalformedXML"},
		{"no period", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{DefaultRetention: &s3xml.DefaultRetention{Mode: "GOVERNANCE"}}}, "MalformedXML"},
		{"bad mode", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{DefaultRetention: &s3xml.DefaultRetention{Mode: "X", Days: n(1)}}}, "MalformedXML"},
		{"zero days", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{DefaultRetention: &s3xml.DefaultRetention{Mode: "GOVERNANCE", Days: n(0)}}}, "InvalidRetentionPeriod"},
		{"empty rule", s3xml.ObjectLockConfiguration{ObjectLockEnabled: "Enabled", Rule: &s3xml.ObjectLockRule{}}, "MalformedXML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseObjectLockConfig(&tc.conf)
			require.Equal(t, tc.code, s3Code(err))
		})
	}
}

func TestCheckSDKChecksumAlgorithm(t *testing.T) {
	crc := &sentChecksum{alg: checksum.CRC32, value: "AAAAAA=="}
	cases := []struct {
		name    string
		alg     string
		sent    *sentChecksum
		trailer checksum.Algorithm
		code    string
	}{
		{"nothing", "", nil, "", ""},
		{"header matches", "CRC32", crc, "", ""},
		{"trailer matches", "crc32c", nil, checksum.CRC32C, ""},
		{"header differs", "SHA256", crc, "", "InvalidRequest"},
		{"trailer differs", "SHA256", nil, checksum.CRC32, "InvalidRequest"},
		{"no value at all", "CRC64NVME", nil, "", "InvalidRequest"},
		{"unknown algorithm", "MD5", nil, "", "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.alg != "" {
				h.Set("x-amz-sdk-checksum-algorithm", tc.alg)
			}
			require.Equal(t, tc.code, s3Code(checkSDKChecksumAlgorithm(h, tc.sent, tc.trailer)))
		})
	}
}

func TestStorageClassConfig(t *testing.T) {
	c := Config{AccessKey: "ak", SecretKey: "sk", Meta: newFakeMeta(), Bodies: newFakeBodies(), Profile: erasure.Profile{K: 4, M: 2, BlockSize: 1 << 20}}
	require.NoError(t, c.Validate())
	require.Equal(t, erasure.Profile{K: 4, M: 1, BlockSize: 1 << 20}, c.StorageClasses["REDUCED_REDUNDANCY"])
	require.Equal(t, c.Profile, c.StorageClasses["STANDARD"])

	custom := map[string]erasure.Profile{"REDUCED_REDUNDANCY": {K: 2, M: 1, BlockSize: 4096}}
	c = Config{AccessKey: "ak", SecretKey: "sk", Meta: newFakeMeta(), Bodies: newFakeBodies(), Profile: testProfile, StorageClasses: custom}
	require.NoError(t, c.Validate())
	require.Equal(t, testProfile, c.StorageClasses["STANDARD"])
	require.Len(t, custom, 1, "the caller's map is not changed")

	c.StorageClasses = map[string]erasure.Profile{"REDUCED_REDUNDANCY": {K: 2, M: 1, BlockSize: 100}}
	require.ErrorIs(t, c.Validate(), ErrInvalidConfig)
}

func TestPutStorageClass(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("rr"),
		Body: strings.NewReader("reduced"), StorageClass: types.StorageClassReducedRedundancy})
	require.NoError(t, err)
	e.put("bkt", "std", []byte("standard"))

	head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("rr")})
	require.NoError(t, err)
	require.Equal(t, types.StorageClassReducedRedundancy, head.StorageClass)
	head, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("std")})
	require.NoError(t, err)
	require.Empty(t, head.StorageClass, "STANDARD is not reported, as AWS does")

	list, err := e.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	require.Len(t, list.Contents, 2)
	require.Equal(t, types.ObjectStorageClassReducedRedundancy, list.Contents[0].StorageClass)
	require.Equal(t, types.ObjectStorageClassStandard, list.Contents[1].StorageClass)
	v1, err := e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectStorageClassReducedRedundancy, v1.Contents[0].StorageClass)

	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("g"),
		Body: strings.NewReader("x"), StorageClass: types.StorageClassGlacier}, noRetry)
	requireS3Error(t, err, "InvalidStorageClass", http.StatusBadRequest)
	resp, _ := e.do(e.signedRequest(http.MethodPut, "/bkt/g", strings.NewReader("x"), 1, http.Header{"X-Amz-Storage-Class": {"PLATINUM"}}))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, 2, e.bodies.live(), "a rejected class stores nothing")
}

func TestStorageClassProfile(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("bkt")
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("rr"),
		Body: strings.NewReader("reduced"), StorageClass: types.StorageClassReducedRedundancy})
	require.NoError(t, err)
	e.put("bkt", "std", []byte("standard"))
	meta := e.gatewayMeta(t)
	rr, err := meta.f.GetObject("bkt", "rr", "")
	require.NoError(t, err)
	require.Equal(t, uint32(1), rr.GetProfile().GetParityShards())
	require.Len(t, rr.GetShards(), testProfile.K+1)
	std, err := meta.f.GetObject("bkt", "std", "")
	require.NoError(t, err)
	require.Equal(t, uint32(testProfile.M), std.GetProfile().GetParityShards())
}

// gatewayMeta returns the FSM-backed meta of an env made by newFSMEnv.
func (e *testEnv) gatewayMeta(t *testing.T) *fsmMeta {
	t.Helper()
	gw, ok := e.srv.Config.Handler.(*Gateway)
	require.True(t, ok)
	mc, ok := gw.cfg.Meta.(*MetaClient)
	require.True(t, ok)
	fm, ok := mc.c.(*fsmMeta)
	require.True(t, ok)
	return fm
}

func TestObjectTagging(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		Body: strings.NewReader("x"), Tagging: aws.String("team=storage&tier=hot%20data")})
	require.NoError(t, err)

	_, got := e.get("bkt", "k")
	require.Equal(t, int32(2), aws.ToInt32(got.TagCount))
	tags, err := e.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("storage")}, {Key: aws.String("tier"), Value: aws.String("hot data")}}, tags.TagSet)

	_, err = e.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}})
	require.NoError(t, err)
	tags, err = e.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Len(t, tags.TagSet, 1)

	_, err = e.client.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	require.NoError(t, err)
	tags, err = e.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Empty(t, tags.TagSet)
	_, got = e.get("bkt", "k")
	require.Nil(t, got.TagCount)

	tooMany := make([]types.Tag, 11)
	for i := range tooMany {
		tooMany[i] = types.Tag{Key: aws.String(strings.Repeat("k", i+1)), Value: aws.String("v")}
	}
	_, err = e.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: tooMany}})
	requireS3Error(t, err, "InvalidTag", http.StatusBadRequest)
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k2"),
		Body: strings.NewReader("x"), Tagging: aws.String(strings.Repeat("k", 129) + "=v")})
	requireS3Error(t, err, "InvalidTag", http.StatusBadRequest)
	_, err = e.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	requireS3Error(t, err, "NoSuchKey", http.StatusNotFound)
}

func TestObjectLock(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("plain")
	_, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("locked"), ObjectLockEnabledForBucket: aws.Bool(true)})
	require.NoError(t, err)

	_, err = e.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	requireS3Error(t, err, "ObjectLockConfigurationNotFoundError", http.StatusNotFound)
	conf, err := e.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("locked")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectLockEnabledEnabled, conf.ObjectLockConfiguration.ObjectLockEnabled)
	require.Nil(t, conf.ObjectLockConfiguration.Rule)

	rule := &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{
		DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}
	_, err = e.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"), ObjectLockConfiguration: rule})
	requireS3Error(t, err, "InvalidBucketState", http.StatusConflict)
	for _, dr := range []types.DefaultRetention{
		{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(0)},
		{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(-1)},
		{Mode: types.ObjectLockRetentionModeCompliance, Years: aws.Int32(0)},
		{Mode: types.ObjectLockRetentionModeCompliance, Years: aws.Int32(101)},
	} {
		_, err = e.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("locked"),
			ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{DefaultRetention: &dr}}})
		requireS3Error(t, err, "InvalidRetentionPeriod", http.StatusBadRequest)
	}
	_, err = e.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("locked"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
			Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1), Years: aws.Int32(1)}}}})
	requireS3Error(t, err, "MalformedXML", http.StatusBadRequest)
	_, err = e.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("locked"), ObjectLockConfiguration: rule})
	require.NoError(t, err)
	conf, err = e.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("locked")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectLockRetentionModeGovernance, conf.ObjectLockConfiguration.Rule.DefaultRetention.Mode)
	require.Equal(t, int32(1), aws.ToInt32(conf.ObjectLockConfiguration.Rule.DefaultRetention.Days))

	// Default retention applies to new versions.
	put, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), Body: strings.NewReader("v1")})
	require.NoError(t, err)
	v1 := aws.ToString(put.VersionId)
	require.NotEmpty(t, v1)
	head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("locked"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectLockModeGovernance, head.ObjectLockMode)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), aws.ToTime(head.ObjectLockRetainUntilDate), time.Minute)

	// GOVERNANCE: deleting the version needs the bypass.
	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1)})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("k"), VersionId: aws.String(v1), BypassGovernanceRetention: aws.Bool(true)})
	require.NoError(t, err)

	// COMPLIANCE and a legal hold, given on PUT.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	put, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("c"), Body: strings.NewReader("c"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(until),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	require.NoError(t, err)
	vc := aws.ToString(put.VersionId)
	ret, err := e.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("c")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectLockRetentionModeCompliance, ret.Retention.Mode)
	require.True(t, until.Equal(aws.ToTime(ret.Retention.RetainUntilDate)))
	hold, err := e.client.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("locked"), Key: aws.String("c")})
	require.NoError(t, err)
	require.Equal(t, types.ObjectLockLegalHoldStatusOn, hold.LegalHold.Status)
	_, err = e.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("locked"), Key: aws.String("c"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	require.NoError(t, err)
	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("c"), VersionId: aws.String(vc), BypassGovernanceRetention: aws.Bool(true)})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	// COMPLIANCE cannot be shortened.
	_, err = e.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("c"), BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(-time.Minute))}})
	requireS3Error(t, err, "AccessDenied", http.StatusForbidden)
	_, err = e.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String("locked"), Key: aws.String("c"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(time.Hour))}})
	require.NoError(t, err)
	// A simple delete adds a marker; the locked version stays readable.
	_, err = e.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("c")})
	require.NoError(t, err)
	data, _ := e.get("locked", "c", func(in *s3.GetObjectInput) { in.VersionId = aws.String(vc) })
	require.Equal(t, "c", string(data))

	// Lock parameters need a lock bucket.
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	requireS3Error(t, err, "InvalidRequest", http.StatusBadRequest)
	e.put("plain", "k", []byte("x"))
	_, err = e.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	requireS3Error(t, err, "InvalidRequest", http.StatusBadRequest)
	_, err = e.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String("plain"), Key: aws.String("k"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
	requireS3Error(t, err, "InvalidRequest", http.StatusBadRequest)
}

// TestObjectLockNeedsDigest: a PUT with lock parameters and neither
// Content-MD5 nor a checksum is refused before its body is stored.
func TestObjectLockNeedsDigest(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	_, err := e.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("locked"), ObjectLockEnabledForBucket: aws.Bool(true)})
	require.NoError(t, err)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	lock := http.Header{"X-Amz-Object-Lock-Mode": {"GOVERNANCE"}, "X-Amz-Object-Lock-Retain-Until-Date": {until}}
	resp, body := e.do(e.signedRequest(http.MethodPut, "/locked/k", strings.NewReader("data"), 4, lock))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InvalidRequest</Code>")
	require.Equal(t, 0, e.bodies.live())

	sum := md5.Sum([]byte("data"))
	lock.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	resp, body = e.do(e.signedRequest(http.MethodPut, "/locked/k", bytes.NewReader([]byte("data")), 4, lock))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NotEmpty(t, resp.Header.Get("x-amz-version-id"))
}

func TestStoredHeaders(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	ctx := context.Background()
	e.createBucket("bkt")
	expires := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("x"),
		CacheControl: aws.String("max-age=60"), ContentDisposition: aws.String(`attachment; filename="x.txt"`),
		ContentEncoding: aws.String("gzip"), ContentLanguage: aws.String("de"), Expires: aws.Time(expires),
		WebsiteRedirectLocation: aws.String("/other")})
	require.NoError(t, err)
	head, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Equal(t, "max-age=60", aws.ToString(head.CacheControl))
	require.Equal(t, `attachment; filename="x.txt"`, aws.ToString(head.ContentDisposition))
	require.Equal(t, "gzip", aws.ToString(head.ContentEncoding))
	require.Equal(t, "de", aws.ToString(head.ContentLanguage))
	require.Equal(t, "/other", aws.ToString(head.WebsiteRedirectLocation))
	require.Equal(t, expires.Format(http.TimeFormat), aws.ToString(head.ExpiresString))
}

// TestAnonymousOverridesRefused calls the handler directly: the router
// refuses anonymous requests before they get there until anonymous access
// through ACLs exists.
func TestAnonymousOverridesRefused(t *testing.T) {
	e := newFSMEnv(t, envOptions{})
	e.createBucket("bkt")
	e.put("bkt", "k", []byte("x"))
	gw := e.srv.Config.Handler.(*Gateway)
	for _, q := range []string{"", "?response-content-type=text/html", "?response-expires=x"} {
		rec := httptest.NewRecorder()
		rq := &request{r: httptest.NewRequest(http.MethodGet, "/bkt/k"+q, nil), bucket: "bkt", key: "k", auth: &sigv4.Result{Anonymous: true}}
		err := gw.getObject(context.Background(), rec, rq)
		if q == "" {
			require.NoError(t, err)
			require.Equal(t, "x", rec.Body.String())
			continue
		}
		require.Equal(t, "InvalidRequest", s3Code(err), q)
	}
}
