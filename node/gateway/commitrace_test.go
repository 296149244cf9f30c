package gateway

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// racingMeta is the FSM-backed meta with a hook that runs before each
// proposal is applied, to put other commands (or the same one) in the log
// between the gateway's reads and its commit.
type racingMeta struct {
	*metatest.Client

	mu     sync.Mutex
	before func(cmd *metapb.Command) []*metapb.Command
}

func (m *racingMeta) Propose(ctx context.Context, in *metapb.ProposeRequest, opts ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	m.mu.Lock()
	hook := m.before
	m.mu.Unlock()
	if hook != nil {
		for _, c := range hook(in.GetCommand()) {
			if _, err := m.Client.Propose(ctx, &metapb.ProposeRequest{Command: c}); err != nil {
				return nil, err
			}
		}
	}
	return m.Client.Propose(ctx, in, opts...)
}

func (m *racingMeta) setBefore(f func(cmd *metapb.Command) []*metapb.Command) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.before = f
}

func newRacingEnv(t *testing.T) (*testEnv, *racingMeta) {
	t.Helper()
	cl := objiotest.NewCluster(t, 6)
	pool := objio.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	store, err := objio.New(objio.Config{Maps: cl.Maps, Dialer: pool})
	require.NoError(t, err)
	meta := &racingMeta{Client: metatest.New(t)}
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = NewMetaClient(meta)
		c.Bodies = store
		c.MinPartSize = testMinPart
	}})
	return e, meta
}

// TestCompleteAfterVersioningEnabled: versioning is enabled between the
// gateway's read of the bucket and the commit of a Complete. The commit
// must not fail for the stale view: the gateway always sends a real
// version ID, and the state machine decides.
func TestCompleteAfterVersioningEnabled(t *testing.T) {
	e, meta := newRacingEnv(t)
	e.createBucket("bkt")
	parts := [][]byte{randBytes(1, testMinPart), randBytes(2, 10)}
	id, done := e.upload("bkt", "k", parts, nil)

	var once sync.Once
	meta.setBefore(func(cmd *metapb.Command) []*metapb.Command {
		var out []*metapb.Command
		if cmd.GetCompleteMultipartUpload() != nil {
			once.Do(func() {
				out = append(out, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
					Bucket: &metapb.Bucket{Name: "bkt", Versioning: metapb.VersioningState_VERSIONING_ENABLED},
					Fields: []string{"versioning"},
				}}})
			})
		}
		return out
	})
	out, err := e.complete("bkt", "k", id, done)
	require.NoError(t, err)
	vid := aws.ToString(out.VersionId)
	require.NotEmpty(t, vid)
	require.NotEqual(t, nullVersion, vid)
	got, _ := e.get("bkt", "k", func(in *s3.GetObjectInput) { in.VersionId = aws.String(vid) })
	require.True(t, bytes.Equal(append(append([]byte(nil), parts[0]...), parts[1]...), got))
}

// TestReplayedCommits: every write is applied twice, as when the proposer
// retries after losing leadership. The gateway must report the first
// commit and keep its body, also on an Object Lock bucket whose default
// retention locks the version the first apply created.
func TestReplayedCommits(t *testing.T) {
	e, meta := newRacingEnv(t)
	ctx := context.Background()
	_, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("locked"), ObjectLockEnabledForBucket: aws.Bool(true)})
	require.NoError(t, err)
	_, err = e.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("locked"), ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
	}})
	require.NoError(t, err)
	e.createBucket("plain")

	meta.setBefore(func(cmd *metapb.Command) []*metapb.Command {
		if cmd.GetPutObject() != nil || cmd.GetCompleteMultipartUpload() != nil || cmd.GetPutPart() != nil {
			return []*metapb.Command{cmd}
		}
		return nil
	})
	for _, bucket := range []string{"locked", "plain"} {
		body := randBytes(7, 1000)
		put := e.put(bucket, "k", body)
		got, out := e.get(bucket, "k")
		require.Equal(t, body, got, "%s: the committed body must survive the replay", bucket)
		require.Equal(t, aws.ToString(put.VersionId), aws.ToString(out.VersionId))

		parts := [][]byte{randBytes(1, testMinPart), randBytes(2, 10)}
		id, done := e.upload(bucket, "mp", parts, nil)
		cout, err := e.complete(bucket, "mp", id, done)
		require.NoError(t, err, "%s: a replayed Complete reports the completion", bucket)
		got, out = e.get(bucket, "mp")
		require.True(t, bytes.Equal(append(append([]byte(nil), parts[0]...), parts[1]...), got))
		require.Equal(t, aws.ToString(cout.VersionId), aws.ToString(out.VersionId))
	}
	gc, err := meta.FSM.PendingGC(0)
	require.NoError(t, err)
	require.Empty(t, gc, "no body was queued for GC")
}
