package gateway

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// bucketReadMeta counts bucket reads.
type bucketReadMeta struct {
	*fakeMeta
	bucketReads atomic.Int64
	objectReads atomic.Int64
}

func (m *bucketReadMeta) Bucket(ctx context.Context, name string) (*metapb.Bucket, error) {
	m.bucketReads.Add(1)
	return m.fakeMeta.Bucket(ctx, name)
}

func (m *bucketReadMeta) Object(ctx context.Context, bucket, key, versionID string) (*metapb.ObjectVersion, error) {
	m.objectReads.Add(1)
	return m.fakeMeta.Object(ctx, bucket, key, versionID)
}

// A user's PUT needs its bucket for authorization and for the write; it is
// read from the meta group once.
func TestUserPutReadsItsBucketOnce(t *testing.T) {
	mk := identity.NewMasterKey()
	sealer, err := identity.NewSealer(mk)
	require.NoError(t, err)
	users := map[string]*metapb.User{
		"AKBOB": {AccessKey: "AKBOB", CanonicalId: identity.NewCanonicalID(), DisplayName: "bob", SecretCiphertext: sealer.Seal("AKBOB", "bob-secret")},
	}
	meta := &bucketReadMeta{}
	e := newEnv(t, envOptions{config: func(c *Config) {
		meta.fakeMeta = c.Meta.(*fakeMeta)
		meta.addUsers(users)
		c.Meta = meta
		c.MasterKey = mk
	}})
	ctx := context.Background()
	bob := e.newClient("AKBOB", "bob-secret", "")
	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bobb")})
	require.NoError(t, err)

	before := meta.bucketReads.Load()
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k"), Body: strings.NewReader("v")})
	require.NoError(t, err)
	require.Equal(t, int64(1), meta.bucketReads.Load()-before)

	// A user's GET and HEAD need the version to authorize (owner, ACL,
	// tags) and to serve: it is read once, and so is the bucket.
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"get", func() error {
			out, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
			if err == nil {
				_, err = io.ReadAll(out.Body)
				out.Body.Close()
			}
			return err
		}},
		{"head", func() error {
			_, err := bob.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bobb"), Key: aws.String("k")})
			return err
		}},
	} {
		objects, buckets := meta.objectReads.Load(), meta.bucketReads.Load()
		require.NoError(t, op.do(), op.name)
		require.Equal(t, int64(1), meta.objectReads.Load()-objects, "%s: object reads", op.name)
		require.Equal(t, int64(1), meta.bucketReads.Load()-buckets, "%s: bucket reads", op.name)
	}
}

// The memo never outlives a write: after a proposal the bucket is read
// again.
func TestBucketMemoForgetsOnPropose(t *testing.T) {
	meta := &bucketReadMeta{fakeMeta: newFakeMeta()}
	meta.addBucket("b", "o")
	g := &Gateway{cfg: Config{Meta: meta}}
	ctx := withBucketMemo(context.Background())

	_, err := g.getBucket(ctx, "b")
	require.NoError(t, err)
	_, err = g.getBucket(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, int64(1), meta.bucketReads.Load())

	_, err = g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: "b", Policy: `{"Version":"2012-10-17","Statement":[]}`}, Fields: []string{"policy"},
	}}})
	require.NoError(t, err)
	b, err := g.getBucket(ctx, "b")
	require.NoError(t, err)
	require.Equal(t, int64(2), meta.bucketReads.Load())
	require.Contains(t, b.GetPolicy(), "2012-10-17")

	// A missing bucket is never remembered.
	_, err = g.getBucket(ctx, "nope")
	require.Error(t, err)
	_, err = g.getBucket(ctx, "nope")
	require.Error(t, err)
	require.Equal(t, int64(4), meta.bucketReads.Load())
}
