package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// readCall is one ReadBody call seen by readRecorder.
type readCall struct {
	dataID      string
	off, length int64
}

// readRecorder passes bodies through to the real store and records the
// stored ranges read, so tests can see which packages a copy touched.
type readRecorder struct {
	Bodies
	mu    sync.Mutex
	calls []readCall
}

func (r *readRecorder) ReadBody(ctx context.Context, v *metapb.ObjectVersion, off, length int64, w io.Writer) error {
	r.mu.Lock()
	r.calls = append(r.calls, readCall{dataID: v.GetDataId(), off: off, length: length})
	r.mu.Unlock()
	return r.Bodies.ReadBody(ctx, v, off, length, w)
}

// reads returns and forgets the calls recorded so far.
func (r *readRecorder) reads() []readCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// newCopySSEEnv is a gateway over the real state machine and the real
// erasure-coded store, with a key ring for SSE-S3 and SSE-KMS.
func newCopySSEEnv(t *testing.T) (*testEnv, *readRecorder) {
	t.Helper()
	cl := objiotest.NewCluster(t, 6)
	pool := objio.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	store, err := objio.New(objio.Config{Maps: cl.Maps, Dialer: pool})
	require.NoError(t, err)
	rec := &readRecorder{Bodies: store}
	kr, err := sse.NewKeyring(sse.NewDataKey(), []sse.KMSKey{{ID: "default-key", Key: sse.NewDataKey()}, {ID: "other-key", Key: sse.NewDataKey()}})
	require.NoError(t, err)
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = NewMetaClient(metatest.New(t))
		c.Bodies = rec
		c.Keyring = kr
		c.MinPartSize = testMinPart
	}})
	return e, rec
}

// ssecHeaders is a customer key as the SDK inputs carry it.
type ssecHeaders struct{ alg, key, md5 *string }

func newSSECHeaders(seed uint64) ssecHeaders {
	a, k, m := customerKeyInput(randBytes(seed, 32))
	return ssecHeaders{a, k, m}
}

// encMode is one way an object can be encrypted, seen from the inputs
// that write it, copy from it and read it.
type encMode struct {
	name string
	alg  string // record algorithm; "" for plaintext
	// put encrypts a PutObject or names the destination of a copy.
	put      func(*s3.PutObjectInput)
	copyDst  func(*s3.CopyObjectInput)
	copySrc  func(*s3.CopyObjectInput)
	partSrc  func(*s3.UploadPartCopyInput)
	get      func(*s3.GetObjectInput)
	checkOut func(t *testing.T, out *s3.CopyObjectOutput)
}

func encModes(kctx string, k1, k2 ssecHeaders) []encMode {
	return []encMode{
		{
			name: "plain",
			checkOut: func(t *testing.T, out *s3.CopyObjectOutput) {
				require.Empty(t, out.ServerSideEncryption)
				require.Nil(t, out.SSECustomerAlgorithm)
				require.Nil(t, out.SSEKMSKeyId)
			},
		},
		{
			name: "sse-s3", alg: AlgAES256,
			put:     func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 },
			copyDst: func(in *s3.CopyObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 },
			checkOut: func(t *testing.T, out *s3.CopyObjectOutput) {
				require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
				require.Nil(t, out.SSEKMSKeyId)
				require.Nil(t, out.SSECustomerAlgorithm)
			},
		},
		{
			name: "sse-kms", alg: AlgKMS,
			put: func(in *s3.PutObjectInput) {
				in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
				in.SSEKMSKeyId = aws.String("other-key")
				in.SSEKMSEncryptionContext = aws.String(kctx)
			},
			copyDst: func(in *s3.CopyObjectInput) {
				in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
				in.SSEKMSKeyId = aws.String("other-key")
				in.SSEKMSEncryptionContext = aws.String(kctx)
				in.BucketKeyEnabled = aws.Bool(true)
			},
			checkOut: func(t *testing.T, out *s3.CopyObjectOutput) {
				require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
				require.Equal(t, "other-key", aws.ToString(out.SSEKMSKeyId))
				require.Equal(t, kctx, aws.ToString(out.SSEKMSEncryptionContext))
				require.True(t, aws.ToBool(out.BucketKeyEnabled))
			},
		},
		{
			name: "sse-c", alg: AlgSSEC,
			put: func(in *s3.PutObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k1.alg, k1.key, k1.md5
			},
			copySrc: func(in *s3.CopyObjectInput) {
				in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = k1.alg, k1.key, k1.md5
			},
			partSrc: func(in *s3.UploadPartCopyInput) {
				in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = k1.alg, k1.key, k1.md5
			},
			// A copy destination gets the other key.
			copyDst: func(in *s3.CopyObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k2.alg, k2.key, k2.md5
			},
			get: func(in *s3.GetObjectInput) {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k2.alg, k2.key, k2.md5
			},
			checkOut: func(t *testing.T, out *s3.CopyObjectOutput) {
				require.Empty(t, out.ServerSideEncryption)
				require.Equal(t, "AES256", aws.ToString(out.SSECustomerAlgorithm))
				require.Equal(t, aws.ToString(k2.md5), aws.ToString(out.SSECustomerKeyMD5))
			},
		},
	}
}

// record is the committed current version of bucket/key.
func (e *testEnv) record(t *testing.T, bucket, key string) *metapb.ObjectVersion {
	t.Helper()
	v, err := e.srvMeta(t).FSM.GetObject(bucket, key, "")
	require.NoError(t, err)
	return v
}

// getObj is testEnv.get failing t, for use inside subtests.
func getObj(t *testing.T, e *testEnv, bucket, key string, optFns ...func(*s3.GetObjectInput)) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	for _, f := range optFns {
		f(in)
	}
	out, err := e.client.GetObject(context.Background(), in)
	require.NoError(t, err)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return data, out
}

// rawStored is the stored (possibly encrypted) body of a version.
func rawStored(t *testing.T, b Bodies, v *metapb.ObjectVersion) []byte {
	t.Helper()
	size := v.GetSize()
	if v.GetStoredSize() > 0 {
		size = v.GetStoredSize()
	}
	var buf bytes.Buffer
	require.NoError(t, b.ReadBody(context.Background(), v, 0, size, &buf))
	return buf.Bytes()
}

func TestCopyObjectEncryptionMatrix(t *testing.T) {
	e, rec := newCopySSEEnv(t)
	ctx := context.Background()
	e.createBucket("src")
	e.createBucket("dst")
	kctx := base64.StdEncoding.EncodeToString([]byte(`{"team":"copy"}`))
	k1, k2 := newSSECHeaders(101), newSSECHeaders(102)
	modes := encModes(kctx, k1, k2)
	// Several packages and stripes, not a multiple of the package size.
	data := randBytes(103, 3*sse.DefaultPackageSize+4321)
	sum := md5.Sum(data)
	etag := fmt.Sprintf(`"%x"`, sum)

	for _, src := range modes {
		in := &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(src.name), Body: bytes.NewReader(data)}
		if src.put != nil {
			src.put(in)
		}
		_, err := e.client.PutObject(ctx, in)
		require.NoError(t, err)
	}
	for _, src := range modes {
		for _, dst := range modes {
			t.Run(src.name+" to "+dst.name, func(t *testing.T) {
				key := src.name + "-to-" + dst.name
				in := &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String(key), CopySource: aws.String("src/" + src.name)}
				if src.copySrc != nil {
					src.copySrc(in)
				}
				if dst.copyDst != nil {
					dst.copyDst(in)
				}
				out, err := e.client.CopyObject(ctx, in)
				require.NoError(t, err)
				require.Equal(t, etag, aws.ToString(out.CopyObjectResult.ETag), "the ETag is the plaintext's MD5")
				dst.checkOut(t, out)

				v := e.record(t, "dst", key)
				require.Equal(t, dst.alg, v.GetEncryption().GetAlgorithm())
				raw := rawStored(t, rec.Bodies, v)
				if dst.alg == "" {
					require.True(t, bytes.Equal(data, raw), "a plaintext copy is stored as is")
				} else {
					require.Equal(t, sse.EncryptedSize(int64(len(data))), int64(len(raw)))
					require.False(t, bytes.Contains(raw, data[1000:1064]), "plaintext reached the store")
				}

				got, gout := getObj(t, e, "dst", key, func(in *s3.GetObjectInput) {
					if dst.get != nil {
						dst.get(in)
					}
				})
				require.True(t, bytes.Equal(data, got), "copy differs from the source")
				require.Equal(t, etag, aws.ToString(gout.ETag))
				if dst.alg == AlgSSEC {
					_, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String(key)})
					requireS3Error(t, err, "InvalidRequest", 400)
				}
			})
		}
	}
}

func TestCopyObjectSourceKeyErrors(t *testing.T) {
	e, _ := newCopySSEEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	k1, k2 := newSSECHeaders(201), newSSECHeaders(202)
	data := randBytes(203, 5000)
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ssec"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: k1.alg, SSECustomerKey: k1.key, SSECustomerKeyMD5: k1.md5})
	require.NoError(t, err)
	_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s3"), Body: bytes.NewReader(data),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	require.NoError(t, err)

	tests := []struct {
		name   string
		source string
		key    *ssecHeaders
		mod    func(*s3.CopyObjectInput)
		code   string
		status int
	}{
		{name: "missing source key", source: "bkt/ssec", code: "InvalidRequest", status: 400},
		{name: "wrong source key", source: "bkt/ssec", key: &k2, code: "AccessDenied", status: 403},
		{name: "source key on an SSE-S3 source", source: "bkt/s3", key: &k1, code: "InvalidRequest", status: 400},
		{name: "source key MD5 mismatch", source: "bkt/ssec", key: &ssecHeaders{k1.alg, k1.key, k2.md5}, code: "InvalidArgument", status: 400},
		{name: "source key without algorithm", source: "bkt/ssec", key: &ssecHeaders{nil, k1.key, k1.md5}, code: "InvalidArgument", status: 400},
		{name: "destination SSE-C and SSE-S3 together", source: "bkt/ssec", key: &k1, mod: func(in *s3.CopyObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k2.alg, k2.key, k2.md5
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		}, code: "InvalidArgument", status: 400},
		{name: "unknown KMS key", source: "bkt/s3", mod: func(in *s3.CopyObjectInput) {
			in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
			in.SSEKMSKeyId = aws.String("no-such-key")
		}, code: "KMS.NotFoundException", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), CopySource: aws.String(tc.source)}
			if tc.key != nil {
				in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = tc.key.alg, tc.key.key, tc.key.md5
			}
			if tc.mod != nil {
				tc.mod(in)
			}
			_, err := e.client.CopyObject(ctx, in)
			requireS3Error(t, err, tc.code, tc.status)
			_, err = e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dst")})
			requireS3Error(t, err, "NotFound", 404)
		})
	}
}

func TestCopyObjectEncryptionInPlace(t *testing.T) {
	e, _ := newCopySSEEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	k1, k2 := newSSECHeaders(301), newSSECHeaders(302)
	data := randBytes(303, sse.DefaultPackageSize+77)
	const illegal = "InvalidRequest"
	withKey := func(k ssecHeaders) func(*s3.GetObjectInput) {
		return func(in *s3.GetObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
		}
	}
	self := func(key string, mod func(*s3.CopyObjectInput)) error {
		in := &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), CopySource: aws.String("bkt/" + key)}
		if mod != nil {
			mod(in)
		}
		_, err := e.client.CopyObject(ctx, in)
		return err
	}
	srcKey := func(k ssecHeaders) func(*s3.CopyObjectInput) {
		return func(in *s3.CopyObjectInput) {
			in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = k.alg, k.key, k.md5
		}
	}
	dstKey := func(k ssecHeaders) func(*s3.CopyObjectInput) {
		return func(in *s3.CopyObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k.alg, k.key, k.md5
		}
	}
	both := func(fs ...func(*s3.CopyObjectInput)) func(*s3.CopyObjectInput) {
		return func(in *s3.CopyObjectInput) {
			for _, f := range fs {
				f(in)
			}
		}
	}

	t.Run("sse-c key rotation", func(t *testing.T) {
		_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("rot"), Body: bytes.NewReader(data),
			SSECustomerAlgorithm: k1.alg, SSECustomerKey: k1.key, SSECustomerKeyMD5: k1.md5, Metadata: map[string]string{"m": "1"}})
		require.NoError(t, err)
		// Without the source key the object cannot be read to be copied.
		requireS3Error(t, self("rot", dstKey(k2)), "InvalidRequest", 400)
		require.NoError(t, self("rot", both(srcKey(k1), dstKey(k2))))
		got, gout := getObj(t, e, "bkt", "rot", withKey(k2))
		require.True(t, bytes.Equal(data, got))
		require.Equal(t, "1", gout.Metadata["m"], "COPY keeps the metadata")
		_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("rot"),
			SSECustomerAlgorithm: k1.alg, SSECustomerKey: k1.key, SSECustomerKeyMD5: k1.md5})
		requireS3Error(t, err, "AccessDenied", 403)
		// Decrypting in place changes the encryption too.
		require.NoError(t, self("rot", srcKey(k2)))
		got, _ = getObj(t, e, "bkt", "rot")
		require.True(t, bytes.Equal(data, got))
		require.Nil(t, e.record(t, "bkt", "rot").GetEncryption())
	})

	t.Run("sse-s3 in place", func(t *testing.T) {
		_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("s3"), Body: bytes.NewReader(data),
			ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		// Nothing changes: illegal, as in S3.
		requireS3Error(t, self("s3", nil), illegal, 400)
		// Asking for SSE-S3 again is an encryption request: allowed.
		require.NoError(t, self("s3", func(in *s3.CopyObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 }))
		// SSE-S3 to SSE-KMS in place.
		require.NoError(t, self("s3", func(in *s3.CopyObjectInput) {
			in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
			in.SSEKMSKeyId = aws.String("default-key")
		}))
		require.Equal(t, AlgKMS, e.record(t, "bkt", "s3").GetEncryption().GetAlgorithm())
		// REPLACE without encryption headers decrypts (the bucket has no
		// default encryption), keeping the body.
		require.NoError(t, self("s3", func(in *s3.CopyObjectInput) {
			in.MetadataDirective = types.MetadataDirectiveReplace
			in.Metadata = map[string]string{"n": "2"}
		}))
		got, gout := getObj(t, e, "bkt", "s3")
		require.True(t, bytes.Equal(data, got))
		require.Empty(t, gout.ServerSideEncryption)
		require.Equal(t, map[string]string{"n": "2"}, gout.Metadata)
		// A plaintext object copied onto itself without a change is
		// illegal, with SSE-C headers it is encrypted in place.
		requireS3Error(t, self("s3", nil), illegal, 400)
		require.NoError(t, self("s3", dstKey(k1)))
		got, _ = getObj(t, e, "bkt", "s3", withKey(k1))
		require.True(t, bytes.Equal(data, got))
	})

	t.Run("bucket default encryption", func(t *testing.T) {
		e.createBucket("dflt")
		_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("dflt"), Key: aws.String("old"), Body: bytes.NewReader(data)})
		require.NoError(t, err)
		_, err = e.client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("dflt"),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("other-key")},
				BucketKeyEnabled:                   aws.Bool(true),
			}}}})
		require.NoError(t, err)
		// A copy without encryption headers takes the destination
		// bucket's default, whatever the source was.
		out, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dflt"), Key: aws.String("fromc"), CopySource: aws.String("bkt/rot")})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.Equal(t, "other-key", aws.ToString(out.SSEKMSKeyId))
		require.True(t, aws.ToBool(out.BucketKeyEnabled))
		// The plaintext object written before the default: copying it in
		// place encrypts it, which is a change.
		_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dflt"), Key: aws.String("old"), CopySource: aws.String("dflt/old")})
		require.NoError(t, err)
		require.Equal(t, AlgKMS, e.record(t, "dflt", "old").GetEncryption().GetAlgorithm())
		// Once it is encrypted as the default says, nothing changes.
		_, err = e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dflt"), Key: aws.String("old"), CopySource: aws.String("dflt/old")})
		requireS3Error(t, err, illegal, 400)
		got, _ := getObj(t, e, "dflt", "old")
		require.True(t, bytes.Equal(data, got))
	})
}

func TestUploadPartCopyEncrypted(t *testing.T) {
	e, rec := newCopySSEEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	k1, k2 := newSSECHeaders(401), newSSECHeaders(402)
	withK2 := func(in *s3.GetObjectInput) {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k2.alg, k2.key, k2.md5
	}

	// An SSE-C source of five packages, and an SSE-KMS multipart source.
	src := randBytes(403, 4*sse.DefaultPackageSize+999)
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("ssec"), Body: bytes.NewReader(src),
		SSECustomerAlgorithm: k1.alg, SSECustomerKey: k1.key, SSECustomerKeyMD5: k1.md5})
	require.NoError(t, err)
	srcV := e.record(t, "bkt", "ssec")
	mparts := [][]byte{randBytes(404, testMinPart+3000), randBytes(405, 20000)}
	id, done := e.upload("bkt", "kmsmp", mparts, func(in *s3.CreateMultipartUploadInput) {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
	})
	_, err = e.complete("bkt", "kmsmp", id, done)
	require.NoError(t, err)
	mp := bytes.Join(mparts, nil)

	// Part 1 of every upload: a range of the SSE-C source inside packages
	// 1 and 2; part 2: a range of the multipart source across its parts.
	from, to := int64(sse.DefaultPackageSize+100), int64(sse.DefaultPackageSize+100+testMinPart+500) // inclusive
	mfrom, mto := int64(testMinPart-100), int64(testMinPart+3000+500)
	uploads := []struct {
		name   string
		create func(*s3.CreateMultipartUploadInput)
		dstKey *ssecHeaders // the upload's customer key, sent with every part
		get    func(*s3.GetObjectInput)
		check  func(t *testing.T, out *s3.UploadPartCopyOutput)
	}{
		{name: "plain", check: func(t *testing.T, out *s3.UploadPartCopyOutput) {
			require.Empty(t, out.ServerSideEncryption)
			require.Nil(t, out.SSECustomerAlgorithm)
		}},
		{name: "sse-kms", create: func(in *s3.CreateMultipartUploadInput) {
			in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
			in.SSEKMSKeyId = aws.String("other-key")
		}, check: func(t *testing.T, out *s3.UploadPartCopyOutput) {
			require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
			require.Equal(t, "other-key", aws.ToString(out.SSEKMSKeyId))
		}},
		{name: "sse-c", create: func(in *s3.CreateMultipartUploadInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = k2.alg, k2.key, k2.md5
		}, dstKey: &k2, get: withK2, check: func(t *testing.T, out *s3.UploadPartCopyOutput) {
			require.Equal(t, "AES256", aws.ToString(out.SSECustomerAlgorithm))
			require.Equal(t, aws.ToString(k2.md5), aws.ToString(out.SSECustomerKeyMD5))
		}},
	}
	for _, up := range uploads {
		t.Run(up.name, func(t *testing.T) {
			key := "dst-" + up.name
			cin := &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String(key)}
			if up.create != nil {
				up.create(cin)
			}
			cout, err := e.client.CreateMultipartUpload(ctx, cin)
			require.NoError(t, err)
			part := func(n int32, source, rng string, srcKey *ssecHeaders, dstKey *ssecHeaders) (*s3.UploadPartCopyOutput, error) {
				in := &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String(key), UploadId: cout.UploadId, PartNumber: aws.Int32(n),
					CopySource: aws.String(source), CopySourceRange: aws.String(rng)}
				if srcKey != nil {
					in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = srcKey.alg, srcKey.key, srcKey.md5
				}
				if dstKey != nil {
					in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = dstKey.alg, dstKey.key, dstKey.md5
				}
				return e.client.UploadPartCopy(ctx, in)
			}
			rng := fmt.Sprintf("bytes=%d-%d", from, to)
			_, err = part(1, "bkt/ssec", rng, nil, up.dstKey)
			requireS3Error(t, err, "InvalidRequest", 400)
			_, err = part(1, "bkt/ssec", rng, &k2, up.dstKey)
			requireS3Error(t, err, "AccessDenied", 403)
			if up.dstKey != nil {
				// The upload's own key is required as for UploadPart.
				_, err = part(1, "bkt/ssec", rng, &k1, nil)
				requireS3Error(t, err, "InvalidRequest", 400)
			}

			rec.reads()
			p1, err := part(1, "bkt/ssec", rng, &k1, up.dstKey)
			require.NoError(t, err)
			sum := md5.Sum(src[from : to+1])
			require.Equal(t, fmt.Sprintf(`"%x"`, sum), aws.ToString(p1.CopyPartResult.ETag))
			up.check(t, p1)
			// Only the packages holding the range were read.
			sOff, sLen, err := sse.PlainRangeToStored(from, to-from+1, int64(len(src)))
			require.NoError(t, err)
			var srcReads []readCall
			for _, c := range rec.reads() {
				if c.dataID == srcV.GetDataId() {
					srcReads = append(srcReads, c)
				}
			}
			require.Equal(t, []readCall{{dataID: srcV.GetDataId(), off: sOff, length: sLen}}, srcReads)
			require.Less(t, sLen, srcV.GetStoredSize())

			p2, err := part(2, "bkt/kmsmp", fmt.Sprintf("bytes=%d-%d", mfrom, mto), nil, up.dstKey)
			require.NoError(t, err)
			up.check(t, p2)

			_, err = e.complete("bkt", key, aws.ToString(cout.UploadId), []types.CompletedPart{
				{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag},
				{PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag},
			})
			require.NoError(t, err)
			want := append(append([]byte(nil), src[from:to+1]...), mp[mfrom:mto+1]...)
			got, _ := getObj(t, e, "bkt", key, func(in *s3.GetObjectInput) {
				if up.get != nil {
					up.get(in)
				}
			})
			require.True(t, bytes.Equal(want, got), "assembled copy differs")
		})
	}
}

func TestCopyObjectEncryptedEmpty(t *testing.T) {
	e, _ := newCopySSEEnv(t)
	ctx := context.Background()
	e.createBucket("bkt")
	k := newSSECHeaders(501)
	_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("empty"), Body: bytes.NewReader(nil),
		SSECustomerAlgorithm: k.alg, SSECustomerKey: k.key, SSECustomerKeyMD5: k.md5})
	require.NoError(t, err)
	out, err := e.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/empty"),
		ServerSideEncryption:           types.ServerSideEncryptionAwsKms,
		CopySourceSSECustomerAlgorithm: k.alg, CopySourceSSECustomerKey: k.key, CopySourceSSECustomerKeyMD5: k.md5})
	require.NoError(t, err)
	require.Equal(t, `"d41d8cd98f00b204e9800998ecf8427e"`, aws.ToString(out.CopyObjectResult.ETag))
	got, gout := getObj(t, e, "bkt", "copy")
	require.Empty(t, got)
	require.Equal(t, types.ServerSideEncryptionAwsKms, gout.ServerSideEncryption)
}
