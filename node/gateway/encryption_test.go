package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/proto/metapb"
)

func newSSEEnv(t *testing.T) *testEnv {
	t.Helper()
	kr, err := sse.NewKeyring(sse.NewDataKey(), []sse.KMSKey{{ID: "default-key", Key: sse.NewDataKey()}, {ID: "other-key", Key: sse.NewDataKey()}})
	require.NoError(t, err)
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Keyring = kr
	}})
	e.createBucket("bkt")
	return e
}

// storedBody is what the body store holds for a version.
func (e *testEnv) storedBody(v *metapb.ObjectVersion) []byte {
	e.bodies.mu.Lock()
	defer e.bodies.mu.Unlock()
	return e.bodies.mu.bodies[v.GetDataId()]
}

func customerKeyInput(key []byte) (alg, k, sum *string) {
	s := md5.Sum(key)
	return aws.String("AES256"), aws.String(base64.StdEncoding.EncodeToString(key)), aws.String(base64.StdEncoding.EncodeToString(s[:]))
}

func TestSSERoundTrips(t *testing.T) {
	e := newSSEEnv(t)
	ck := sse.NewDataKey()
	ckAlg, ckKey, ckMD5 := customerKeyInput(ck)
	kctx := base64.StdEncoding.EncodeToString([]byte(`{"team":"storage"}`))

	tests := []struct {
		name    string
		put     func(*s3.PutObjectInput)
		read    func(*s3.GetObjectInput)
		head    func(*s3.HeadObjectInput)
		alg     string // record algorithm
		keyID   string
		check   func(t *testing.T, out *s3.PutObjectOutput)
		checkGO func(t *testing.T, out *s3.GetObjectOutput)
	}{
		{
			name: "sse-s3",
			put:  func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 },
			alg:  AlgAES256, keyID: sse.MasterKeyID,
			check: func(t *testing.T, out *s3.PutObjectOutput) {
				require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
				require.Nil(t, out.SSEKMSKeyId)
			},
			checkGO: func(t *testing.T, out *s3.GetObjectOutput) {
				require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
			},
		},
		{
			name: "sse-kms default key",
			put:  func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKms },
			alg:  AlgKMS, keyID: "default-key",
			check: func(t *testing.T, out *s3.PutObjectOutput) {
				require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
				require.Equal(t, "default-key", aws.ToString(out.SSEKMSKeyId))
				require.Nil(t, out.BucketKeyEnabled)
			},
			checkGO: func(t *testing.T, out *s3.GetObjectOutput) {
				require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
				require.Equal(t, "default-key", aws.ToString(out.SSEKMSKeyId))
			},
		},
		{
			name: "sse-kms named key, context and bucket key",
			put: func(in *s3.PutObjectInput) {
				in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
				in.SSEKMSKeyId = aws.String("arn:aws:kms:us-east-1:123456789012:key/other-key")
				in.SSEKMSEncryptionContext = aws.String(kctx)
				in.BucketKeyEnabled = aws.Bool(true)
			},
			alg: AlgKMS, keyID: "other-key",
			check: func(t *testing.T, out *s3.PutObjectOutput) {
				require.Equal(t, "other-key", aws.ToString(out.SSEKMSKeyId))
				require.Equal(t, kctx, aws.ToString(out.SSEKMSEncryptionContext))
				require.True(t, aws.ToBool(out.BucketKeyEnabled))
			},
			checkGO: func(t *testing.T, out *s3.GetObjectOutput) {
				require.True(t, aws.ToBool(out.BucketKeyEnabled))
			},
		},
		{
			name: "sse-c",
			put: func(in *s3.PutObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ckAlg, ckKey, ckMD5
			},
			read: func(in *s3.GetObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ckAlg, ckKey, ckMD5
			},
			head: func(in *s3.HeadObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = ckAlg, ckKey, ckMD5
			},
			alg: AlgSSEC,
			check: func(t *testing.T, out *s3.PutObjectOutput) {
				require.Empty(t, out.ServerSideEncryption)
				require.Equal(t, "AES256", aws.ToString(out.SSECustomerAlgorithm))
				require.Equal(t, aws.ToString(ckMD5), aws.ToString(out.SSECustomerKeyMD5))
			},
			checkGO: func(t *testing.T, out *s3.GetObjectOutput) {
				require.Equal(t, "AES256", aws.ToString(out.SSECustomerAlgorithm))
				require.Equal(t, aws.ToString(ckMD5), aws.ToString(out.SSECustomerKeyMD5))
			},
		},
	}
	sizes := []int{0, 1, sse.DefaultPackageSize, 3*sse.DefaultPackageSize + 123}
	for _, tt := range tests {
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%d", tt.name, size), func(t *testing.T) {
				ctx := context.Background()
				key := fmt.Sprintf("%s-%d", strings.ReplaceAll(tt.name, " ", "-"), size)
				plain := bytes.Repeat([]byte("cairn-plaintext!"), size/16+1)[:size]
				sum := md5.Sum(plain)
				in := &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(plain)}
				tt.put(in)
				out, err := e.client.PutObject(ctx, in)
				require.NoError(t, err)
				tt.check(t, out)
				require.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, aws.ToString(out.ETag), "ETag is the plaintext MD5")

				v := e.meta.object("bkt", key)
				require.Equal(t, tt.alg, v.GetEncryption().GetAlgorithm())
				require.Equal(t, tt.keyID, v.GetEncryption().GetKeyId())
				require.Equal(t, int64(size), v.GetSize())
				require.Equal(t, sse.EncryptedSize(int64(size)), v.GetStoredSize())
				if tt.alg != AlgAES256 {
					require.Len(t, v.GetEncryption().GetWrappedKey(), sse.WrappedKeySize)
				}
				stored := e.storedBody(v)
				require.Len(t, stored, int(sse.EncryptedSize(int64(size))))
				if size >= 16 {
					require.NotContains(t, string(stored), "cairn-plaintext!")
				}
				if tt.alg == AlgSSEC {
					require.NotContains(t, string(stored), string(ck))
					require.Equal(t, aws.ToString(ckMD5), v.GetEncryption().GetCustomerKeyMd5())
				}

				gin := &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}
				if tt.read != nil {
					tt.read(gin)
				}
				got, gout := e.get("bkt", key, func(g *s3.GetObjectInput) { *g = *gin })
				require.Equal(t, plain, got)
				tt.checkGO(t, gout)
				require.Equal(t, aws.ToString(out.ETag), aws.ToString(gout.ETag))

				hin := &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)}
				if tt.head != nil {
					tt.head(hin)
				}
				hout, err := e.client.HeadObject(ctx, hin)
				require.NoError(t, err)
				require.Equal(t, int64(size), aws.ToInt64(hout.ContentLength))
				require.Equal(t, gout.ServerSideEncryption, hout.ServerSideEncryption)
				require.Equal(t, aws.ToString(gout.SSECustomerKeyMD5), aws.ToString(hout.SSECustomerKeyMD5))

				if size == 0 {
					return
				}
				s := int64(size)
				for _, rng := range []struct {
					hdr       string
					off, last int64
				}{
					{"bytes=0-0", 0, 0},
					{fmt.Sprintf("bytes=%d-", s/2), s / 2, s - 1},
					{"bytes=-7", max(0, s-7), s - 1},
					{fmt.Sprintf("bytes=%d-%d", s/3, s/3+sse.DefaultPackageSize), s / 3, min(s-1, s/3+sse.DefaultPackageSize)},
				} {
					got, gout := e.get("bkt", key, func(g *s3.GetObjectInput) { *g = *gin; g.Range = aws.String(rng.hdr) })
					require.Equal(t, plain[rng.off:rng.last+1], got, rng.hdr)
					require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", rng.off, rng.last, s), aws.ToString(gout.ContentRange))
				}
			})
		}
	}
}

func TestSSECRefusals(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	ck := sse.NewDataKey()
	alg, key, sum := customerKeyInput(ck)
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("secret"), Body: strings.NewReader("top secret"),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: sum,
	})
	require.NoError(t, err)
	e.put("bkt", "plain", []byte("in the clear"))

	walg, wkey, wsum := customerKeyInput(sse.NewDataKey())
	tests := []struct {
		name       string
		object     string
		alg, k, s  *string
		code       string
		status     int
		headStatus int
	}{
		{"no key", "secret", nil, nil, nil, "InvalidRequest", 400, 400},
		{"wrong key", "secret", walg, wkey, wsum, "AccessDenied", 403, 403},
		{"key on a plain object", "plain", alg, key, sum, "InvalidRequest", 400, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.GetObject(ctx, &s3.GetObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String(tt.object),
				SSECustomerAlgorithm: tt.alg, SSECustomerKey: tt.k, SSECustomerKeyMD5: tt.s,
			})
			requireS3Error(t, err, tt.code, tt.status)
			_, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String(tt.object),
				SSECustomerAlgorithm: tt.alg, SSECustomerKey: tt.k, SSECustomerKeyMD5: tt.s,
			})
			var re interface{ HTTPStatusCode() int }
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.headStatus, re.HTTPStatusCode())
		})
	}
}

func TestSSEHeaderValidation(t *testing.T) {
	e := newSSEEnv(t)
	ck := sse.NewDataKey()
	ckB64 := base64.StdEncoding.EncodeToString(ck)
	ckMD5 := sse.CustomerKeyMD5(ck)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	const (
		cAlg = "x-amz-server-side-encryption-customer-algorithm"
		cKey = "x-amz-server-side-encryption-customer-key"
		cMD5 = "x-amz-server-side-encryption-customer-key-MD5"
	)
	tests := []struct {
		name   string
		h      http.Header
		status int
		code   string
	}{
		{"unknown algorithm", hdr("x-amz-server-side-encryption", "AES128"), 400, "InvalidArgument"},
		{"sse-c algorithm not AES256", hdr(cAlg, "AES128", cKey, ckB64, cMD5, ckMD5), 400, "InvalidEncryptionAlgorithmError"},
		{"sse-c without algorithm", hdr(cKey, ckB64, cMD5, ckMD5), 400, "InvalidArgument"},
		{"sse-c without key", hdr(cAlg, "AES256", cMD5, ckMD5), 400, "InvalidArgument"},
		{"sse-c without MD5", hdr(cAlg, "AES256", cKey, ckB64), 400, "InvalidArgument"},
		{"sse-c short key", hdr(cAlg, "AES256", cKey, base64.StdEncoding.EncodeToString(ck[:16]), cMD5, sse.CustomerKeyMD5(ck[:16])), 400, "InvalidArgument"},
		{"sse-c MD5 mismatch", hdr(cAlg, "AES256", cKey, ckB64, cMD5, sse.CustomerKeyMD5(ck[1:])), 400, "InvalidArgument"},
		{"sse-c with sse", hdr(cAlg, "AES256", cKey, ckB64, cMD5, ckMD5, "x-amz-server-side-encryption", "AES256"), 400, "InvalidArgument"},
		{"kms key id without aws:kms", hdr("x-amz-server-side-encryption-aws-kms-key-id", "default-key"), 400, "InvalidArgument"},
		{"kms key id with AES256", hdr("x-amz-server-side-encryption", "AES256", "x-amz-server-side-encryption-aws-kms-key-id", "default-key"), 400, "InvalidArgument"},
		{"unknown kms key", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id", "nope"), 400, "KMS.NotFoundException"},
		{"context not base64", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-context", "{}"), 400, "InvalidArgument"},
		{"context not a string map", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-context", base64.StdEncoding.EncodeToString([]byte(`{"a":1}`))), 400, "InvalidArgument"},
		{"bucket key not boolean", hdr("x-amz-server-side-encryption", "aws:kms", "x-amz-server-side-encryption-bucket-key-enabled", "yes"), 400, "InvalidArgument"},
		{"dsse", hdr("x-amz-server-side-encryption", "aws:kms:dsse"), 501, "NotImplemented"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(e.signedRequest(http.MethodPut, "/bkt/k", strings.NewReader("data"), 4, tt.h))
			require.Equal(t, tt.status, resp.StatusCode, string(body))
			require.Contains(t, string(body), "<Code>"+tt.code+"</Code>")
		})
	}
	require.Zero(t, e.bodies.writeCount(), "refused before the body was read")
	require.Nil(t, e.meta.object("bkt", "k"))
}

func TestSSEContentMD5ChecksPlaintext(t *testing.T) {
	e := newSSEEnv(t)
	plain := []byte("checked against the plaintext")
	sum := md5.Sum(plain)
	good := base64.StdEncoding.EncodeToString(sum[:])
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(plain),
		ServerSideEncryption: types.ServerSideEncryptionAes256, ContentMD5: aws.String(good),
	})
	require.NoError(t, err)

	bad := md5.Sum([]byte("something else"))
	_, err = e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k2"), Body: bytes.NewReader(plain),
		ServerSideEncryption: types.ServerSideEncryptionAes256, ContentMD5: aws.String(base64.StdEncoding.EncodeToString(bad[:])),
	}, noRetry)
	requireS3Error(t, err, "BadDigest", 400)
	require.Nil(t, e.meta.object("bkt", "k2"))
}

func TestSSEWithoutManagedKeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	}, noRetry)
	requireS3Error(t, err, "NotImplemented", 501)
	// SSE-C needs no server keys.
	alg, key, sum := customerKeyInput(sse.NewDataKey())
	_, err = e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: sum,
	})
	require.NoError(t, err)
}

func TestBucketEncryption(t *testing.T) {
	e := newSSEEnv(t)
	ctx := context.Background()
	bucket := aws.String("bkt")

	_, err := e.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bucket})
	requireS3Error(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)

	e.put("bkt", "before", []byte("plain"))
	require.Nil(t, e.meta.object("bkt", "before").GetEncryption())

	put := func(alg types.ServerSideEncryption, keyID *string, bucketKey *bool) error {
		_, err := e.client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: bucket,
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: alg, KMSMasterKeyID: keyID},
				BucketKeyEnabled:                   bucketKey,
			}}},
		})
		return err
	}

	require.NoError(t, put(types.ServerSideEncryptionAes256, nil, nil))
	got, err := e.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bucket})
	require.NoError(t, err)
	require.Len(t, got.ServerSideEncryptionConfiguration.Rules, 1)
	rule := got.ServerSideEncryptionConfiguration.Rules[0]
	require.Equal(t, types.ServerSideEncryptionAes256, rule.ApplyServerSideEncryptionByDefault.SSEAlgorithm)
	require.False(t, aws.ToBool(rule.BucketKeyEnabled))

	out := e.put("bkt", "default-s3", []byte("encrypted by default"))
	require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
	require.Equal(t, AlgAES256, e.meta.object("bkt", "default-s3").GetEncryption().GetAlgorithm())
	data, gout := e.get("bkt", "default-s3")
	require.Equal(t, "encrypted by default", string(data))
	require.Equal(t, types.ServerSideEncryptionAes256, gout.ServerSideEncryption)

	// A request's own choice wins over the default.
	alg, key, sum := customerKeyInput(sse.NewDataKey())
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: bucket, Key: aws.String("own-key"), Body: strings.NewReader("x"),
		SSECustomerAlgorithm: alg, SSECustomerKey: key, SSECustomerKeyMD5: sum,
	})
	require.NoError(t, err)
	require.Equal(t, AlgSSEC, e.meta.object("bkt", "own-key").GetEncryption().GetAlgorithm())

	require.NoError(t, put(types.ServerSideEncryptionAwsKms, aws.String("other-key"), aws.Bool(true)))
	got, err = e.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bucket})
	require.NoError(t, err)
	rule = got.ServerSideEncryptionConfiguration.Rules[0]
	require.Equal(t, "other-key", aws.ToString(rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID))
	require.True(t, aws.ToBool(rule.BucketKeyEnabled))
	out = e.put("bkt", "default-kms", []byte("kms by default"))
	require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
	require.Equal(t, "other-key", aws.ToString(out.SSEKMSKeyId))
	require.True(t, aws.ToBool(out.BucketKeyEnabled))
	data, _ = e.get("bkt", "default-kms")
	require.Equal(t, "kms by default", string(data))

	requireS3Error(t, put(types.ServerSideEncryptionAes256, aws.String("other-key"), nil), "InvalidArgument", 400)
	requireS3Error(t, put("AES128", nil, nil), "MalformedXML", 400)

	_, err = e.client.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: bucket})
	require.NoError(t, err)
	_, err = e.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bucket})
	requireS3Error(t, err, "ServerSideEncryptionConfigurationNotFoundError", 404)
	e.put("bkt", "after", []byte("plain again"))
	require.Nil(t, e.meta.object("bkt", "after").GetEncryption())

	_, err = e.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("nobucket")})
	requireS3Error(t, err, "NoSuchBucket", 404)
}

func TestSSEDamagedCiphertextIsNotServed(t *testing.T) {
	e := newSSEEnv(t)
	plain := bytes.Repeat([]byte("x"), 3*sse.DefaultPackageSize)
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(plain),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	require.NoError(t, err)
	v := e.meta.object("bkt", "k")
	e.bodies.mu.Lock()
	e.bodies.mu.bodies[v.GetDataId()][10] ^= 1
	e.bodies.mu.Unlock()
	_, err = e.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")}, noRetry)
	require.Error(t, err)
	// A range that avoids the damaged package still reads.
	got, _ := e.get("bkt", "k", func(g *s3.GetObjectInput) { g.Range = aws.String(fmt.Sprintf("bytes=%d-", sse.DefaultPackageSize)) })
	require.Equal(t, plain[sse.DefaultPackageSize:], got)
}

// TestPartEncrypter covers what multipart upload builds on: parts share
// the upload's data key, each under its own nonce, and decrypt through
// their own records.
func TestPartEncrypter(t *testing.T) {
	e := newSSEEnv(t)
	gw, err := New(Config{AccessKey: "a", SecretKey: "b", Meta: e.meta, Bodies: e.bodies, Profile: testProfile})
	require.NoError(t, err)
	kr, err := sse.NewKeyring(sse.NewDataKey(), nil)
	require.NoError(t, err)
	gw.cfg.Keyring = kr

	ck := sse.NewDataKey()
	ckHeaders := http.Header{}
	ckHeaders.Set("x-amz-server-side-encryption-customer-algorithm", "AES256")
	ckHeaders.Set("x-amz-server-side-encryption-customer-key", base64.StdEncoding.EncodeToString(ck))
	ckHeaders.Set("x-amz-server-side-encryption-customer-key-MD5", sse.CustomerKeyMD5(ck))
	s3Headers := http.Header{}
	s3Headers.Set("x-amz-server-side-encryption", "AES256")

	for _, tc := range []struct {
		name   string
		create http.Header
		part   http.Header
	}{
		{"sse-s3", s3Headers, http.Header{}},
		{"sse-c", ckHeaders, ckHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upload, err := gw.newEncrypter(tc.create, &metapb.Bucket{})
			require.NoError(t, err)
			var recs []*metapb.Encryption
			var parts [][]byte
			for i := range 2 {
				pe, err := gw.partEncrypter(tc.part, upload.record())
				require.NoError(t, err)
				plain := bytes.Repeat([]byte{byte('a' + i)}, 100_000)
				r, err := pe.wrap(bytes.NewReader(plain))
				require.NoError(t, err)
				stored, err := io.ReadAll(r)
				require.NoError(t, err)
				require.Equal(t, pe.storedSize(int64(len(plain))), int64(len(stored)))
				recs = append(recs, pe.record())
				parts = append(parts, stored)

				dec, err := gw.newDecrypter(tc.part, pe.record())
				require.NoError(t, err)
				var out bytes.Buffer
				dw, err := dec.layout.NewDecryptWriter(&out, dec.dataKey, dec.nonce, int64(len(plain)), 0, int64(len(plain)))
				require.NoError(t, err)
				_, err = dw.Write(stored)
				require.NoError(t, err)
				require.NoError(t, dw.Close())
				require.Equal(t, plain, out.Bytes())
			}
			require.Equal(t, recs[0].GetWrappedKey(), recs[1].GetWrappedKey(), "one data key per upload")
			require.NotEqual(t, recs[0].GetNonce(), recs[1].GetNonce(), "a nonce per part")
		})
	}
	t.Run("sse-c part without the key", func(t *testing.T) {
		upload, err := gw.newEncrypter(ckHeaders, &metapb.Bucket{})
		require.NoError(t, err)
		_, err = gw.partEncrypter(http.Header{}, upload.record())
		require.ErrorContains(t, err, "InvalidRequest")
	})
}
