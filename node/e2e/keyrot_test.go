package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/devcluster"
)

// keyRotate runs `cairn admin key rotate` with the current master key old
// and returns its --json summary.
func (c *cluster) keyRotate(t *testing.T, ctx context.Context, old, next string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.CommandContext(ctx, cairnBin, append([]string{"admin", "key", "rotate", "--json", "--batch", "2", "--new-master-key", next}, args...)...)
	cmd.Env = append(append(os.Environ(),
		"CAIRN_META_ADDRS="+strings.Join(c.layout.MetaAddrs(), ","),
		"CAIRN_MASTER_KEY="+old), c.adminEnv()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	t.Logf("key rotate %v: %s%s", args, stderr.String(), stdout.String())
	var rep map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	return rep
}

// createUserWith creates a user with `cairn admin user create` given env
// (the master keys) and returns its S3 client.
func (c *cluster) createUserWith(t *testing.T, ctx context.Context, name string, env ...string) *s3.Client {
	t.Helper()
	cmd := exec.CommandContext(ctx, cairnBin, "admin", "user", "create", "--name", name)
	cmd.Env = append(append(append(os.Environ(), "CAIRN_META_ADDRS="+strings.Join(c.layout.MetaAddrs(), ",")), env...), c.adminEnv()...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var ak, sk string
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch v = strings.TrimSpace(v); k {
		case "Access key":
			ak = v
		case "Secret key":
			sk = v
		}
	}
	require.NotEmpty(t, ak, "%s", out)
	return devcluster.S3Client(c.layout, ak, sk)
}

// restartGateway restarts the named gateway with env and waits until it
// serves.
func (c *cluster) restartGateway(t *testing.T, name string, env ...string) {
	t.Helper()
	require.NoError(t, c.procs.StopProc(name, 10*time.Second))
	c.procs.SetProcEnv(name, env...)
	require.NoError(t, c.procs.StartProc(name))
	c.waitReady()
}

// The master key is rotated online: users and SSE-S3 objects made before
// stay readable byte for byte by a gateway still on the old key, then by
// one restarted with the new key (and the previous one), then, after the
// rotation is finished, with the new key alone; a gateway started with a
// retired key is refused.
func TestKeyRotateOnline(t *testing.T) {
	ctx := ctxT(t, 3*time.Minute)
	c := startCluster(t)
	gw := c.layout.Names("gateway")[0]
	oldKey := testMasterKey
	nk := make([]byte, 32)
	_, _ = rand.Read(nk)
	newKey := base64.StdEncoding.EncodeToString(nk)

	c.mustCreateBucket(ctx, "rot")
	alice := c.createUser(ctx, "alice")
	bodies := map[string][]byte{}
	putSSE := func(key string) {
		t.Helper()
		data := make([]byte, 70<<10)
		_, _ = rand.Read(data)
		_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rot"), Key: aws.String(key),
			Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		bodies[key] = data
	}
	checkAll := func(when string) {
		t.Helper()
		for key, want := range bodies {
			got, err := c.get(ctx, "rot", key)
			require.NoError(t, err, "%s: GET %s", when, key)
			require.True(t, bytes.Equal(want, got), "%s: %s byte-identical", when, key)
		}
		_, err := alice.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		require.NoError(t, err, "%s: alice signs in", when)
	}
	putSSE("before-1")
	putSSE("before-2")
	// Multipart: one completed before the rotation, one still in progress
	// (its upload and its part carry the wrapped key) until after it.
	mpu := func(key string) (string, []byte) {
		t.Helper()
		up, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("rot"), Key: aws.String(key),
			ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		data := make([]byte, 20<<10)
		_, _ = rand.Read(data)
		_, err = c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("rot"), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(data)})
		require.NoError(t, err)
		return aws.ToString(up.UploadId), data
	}
	complete := func(key, id string, data []byte) {
		t.Helper()
		parts, err := c.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("rot"), Key: aws.String(key), UploadId: aws.String(id)})
		require.NoError(t, err)
		require.Len(t, parts.Parts, 1)
		_, err = c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("rot"), Key: aws.String(key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: parts.Parts[0].ETag}}}})
		require.NoError(t, err)
		bodies[key] = data
	}
	doneID, doneData := mpu("multipart-done")
	complete("multipart-done", doneID, doneData)
	openID, openData := mpu("multipart-open")
	checkAll("before rotation")

	rep := c.keyRotate(t, ctx, oldKey, newKey)
	require.Equal(t, "rotate", rep["phase"])
	require.GreaterOrEqual(t, rep["rewrapped"], float64(6), "alice, three objects, an upload and its part")
	require.Equal(t, float64(1), rep["sse_s3_uploads"])
	require.Equal(t, float64(1), rep["sse_s3_upload_parts"])
	require.Zero(t, rep["unreadable"])
	require.Equal(t, false, rep["finished"])
	checkAll("old-key gateway, during rotation")
	putSSE("during-old-gateway")
	// A user created with the new key during the rotation is sealed under
	// both: the gateway still on the old key lets it sign in.
	bob := c.createUserWith(t, ctx, "bob", "CAIRN_MASTER_KEY="+newKey, "CAIRN_PREVIOUS_MASTER_KEY="+oldKey)
	_, err := bob.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err, "bob signs in at the old-key gateway")

	again := c.keyRotate(t, ctx, oldKey, newKey)
	require.Equal(t, float64(1), again["rewrapped"], "a re-run continues: only the object written meanwhile")
	require.Equal(t, float64(2), again["users"], "alice and bob seen")

	c.restartGateway(t, gw, "CAIRN_MASTER_KEY="+newKey, "CAIRN_PREVIOUS_MASTER_KEY="+oldKey)
	checkAll("new-key gateway with the previous key")
	putSSE("during-new-gateway")

	fin := c.keyRotate(t, ctx, oldKey, newKey, "--finish")
	require.Equal(t, true, fin["finished"])
	require.GreaterOrEqual(t, fin["rewrapped"], float64(9), "every value sealed under the old key too")

	c.restartGateway(t, gw, "CAIRN_MASTER_KEY="+newKey)
	complete("multipart-open", openID, openData)
	checkAll("new key only, after finishing")
	_, err = bob.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err, "bob signs in with the new key alone")

	// A gateway with the retired key is refused at start.
	require.NoError(t, c.procs.StopProc(gw, 10*time.Second))
	c.procs.SetProcEnv(gw, "CAIRN_MASTER_KEY="+oldKey)
	require.NoError(t, c.procs.StartProc(gw))
	select {
	case <-c.procs.Exited(gw):
	case <-ctx.Done():
		t.Fatal("a gateway with the retired master key kept running")
	}
	log, err := os.ReadFile(filepath.Join(c.procs.LogDir(), gw+".log"))
	require.NoError(t, err)
	require.Contains(t, string(log), "master key does not match")

	c.procs.SetProcEnv(gw, "CAIRN_MASTER_KEY="+newKey)
	require.NoError(t, c.procs.StartProc(gw))
	c.waitReady()
	checkAll("new key again")
}
