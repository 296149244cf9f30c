package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"
)

// s3bToolTimeout bounds one command of s3cmd or rclone.
const s3bToolTimeout = 60 * time.Second

// TestS3bClients extends the client-compatibility suite with s3cmd (which
// signs with Signature Version 2 here, and presigns with it always),
// rclone (both Debian packages; `make deps` installs them) and minio-go,
// each through put, get, list, multipart, copy, delete and presigned URLs;
// and, on the same cluster, lifecycle expiration with days a second long.
func TestS3bClients(t *testing.T) {
	var missing []string
	for _, tool := range []string{"s3cmd", "rclone", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("missing %s; run `make deps`", strings.Join(missing, ", "))
	}
	c := startCluster(t, "CAIRN_LIFECYCLE_DAY=1s", "CAIRN_LIFECYCLE_INTERVAL=300ms")
	endpoint := "http://" + c.layout.S3Addr()
	dir := t.TempDir()
	small := filepath.Join(dir, "small.txt")
	require.NoError(t, os.WriteFile(small, []byte("hello from a client\n"), 0o600))
	// Above every client's multipart threshold as set below (5 MiB parts).
	bigData := body(7, 11<<20+123)
	big := filepath.Join(dir, "big.bin")
	require.NoError(t, os.WriteFile(big, bigData, 0o600))

	t.Run("s3cmd", func(t *testing.T) { s3bS3cmd(t, c, endpoint, dir, small, big, bigData) })
	t.Run("rclone", func(t *testing.T) { s3bRclone(t, c, endpoint, dir, small, big, bigData) })
	t.Run("minio-go", func(t *testing.T) { s3bMinio(t, c, bigData) })
	t.Run("lifecycle", func(t *testing.T) { s3bLifecycle(t, c) })
}

// run runs a command bounded by s3bToolTimeout and returns its standard
// output.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s3bToolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(environWithout("AWS_", "RCLONE_"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s:\n%s%s", name, strings.Join(args, " "), out, stderr.Bytes())
	return string(out)
}

// fetch GETs url without credentials.
func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", u, data)
	return data
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(want), sha256.Sum256(got))
}

func s3bS3cmd(t *testing.T, c *cluster, endpoint, dir, small, big string, bigData []byte) {
	host := strings.TrimPrefix(endpoint, "http://")
	cfg := filepath.Join(dir, "s3cfg")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
use_https = False
signature_v2 = True
multipart_chunk_size_mb = 5
`, testAccessKey, testSecretKey, host, host)), 0o600))
	s3cmd := func(args ...string) string {
		return run(t, []string{"HOME=" + dir}, "s3cmd", append([]string{"-c", cfg}, args...)...)
	}
	s3cmd("mb", "s3://s3cmd-b")
	s3cmd("put", small, "s3://s3cmd-b/small.txt")
	s3cmd("put", big, "s3://s3cmd-b/big.bin")
	ls := s3cmd("ls", "s3://s3cmd-b/")
	require.Contains(t, ls, "s3://s3cmd-b/small.txt")
	require.Contains(t, ls, "s3://s3cmd-b/big.bin")
	out := filepath.Join(dir, "s3cmd-big.out")
	s3cmd("get", "--force", "s3://s3cmd-b/big.bin", out)
	sameFile(t, out, bigData)
	s3cmd("cp", "s3://s3cmd-b/small.txt", "s3://s3cmd-b/copy.txt")
	// signurl presigns with Signature Version 2.
	signed := strings.TrimSpace(s3cmd("signurl", "s3://s3cmd-b/copy.txt", "+600"))
	require.Contains(t, signed, "AWSAccessKeyId=")
	require.Equal(t, "hello from a client\n", string(fetch(t, signed)))
	s3cmd("del", "s3://s3cmd-b/copy.txt")
	_, err := c.s3.HeadObject(ctxT(t, 10*time.Second), &s3.HeadObjectInput{Bucket: aws.String("s3cmd-b"), Key: aws.String("copy.txt")})
	require.Error(t, err)
	head, err := c.s3.HeadObject(ctxT(t, 10*time.Second), &s3.HeadObjectInput{Bucket: aws.String("s3cmd-b"), Key: aws.String("big.bin")})
	require.NoError(t, err)
	require.Equal(t, int64(len(bigData)), aws.ToInt64(head.ContentLength))
	require.Contains(t, aws.ToString(head.ETag), "-", "uploaded in parts")
}

func s3bRclone(t *testing.T, c *cluster, endpoint, dir, small, big string, bigData []byte) {
	env := []string{
		"HOME=" + dir,
		"RCLONE_CONFIG=" + filepath.Join(dir, "rclone.conf"),
		"RCLONE_CONFIG_CAIRN_TYPE=s3",
		"RCLONE_CONFIG_CAIRN_PROVIDER=Other",
		"RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID=" + testAccessKey,
		"RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY=" + testSecretKey,
		"RCLONE_CONFIG_CAIRN_ENDPOINT=" + endpoint,
		"RCLONE_CONFIG_CAIRN_REGION=us-east-1",
		"RCLONE_CONFIG_CAIRN_FORCE_PATH_STYLE=true",
		"RCLONE_S3_UPLOAD_CUTOFF=5M",
		"RCLONE_S3_CHUNK_SIZE=5M",
	}
	rclone := func(args ...string) string { return run(t, env, "rclone", args...) }
	rclone("mkdir", "cairn:rclone-b")
	rclone("copyto", small, "cairn:rclone-b/small.txt")
	rclone("copyto", big, "cairn:rclone-b/big.bin")
	require.Equal(t, "big.bin\nsmall.txt\n", rclone("lsf", "cairn:rclone-b"))
	require.Equal(t, "hello from a client\n", rclone("cat", "cairn:rclone-b/small.txt"))
	out := filepath.Join(dir, "rclone-big.out")
	rclone("copyto", "cairn:rclone-b/big.bin", out)
	sameFile(t, out, bigData)
	// A copy within the remote is a server-side CopyObject.
	rclone("copyto", "cairn:rclone-b/small.txt", "cairn:rclone-b/copy.txt")
	link := strings.TrimSpace(rclone("link", "--expire", "1h", "cairn:rclone-b/copy.txt"))
	require.Equal(t, "hello from a client\n", string(fetch(t, link)))
	rclone("deletefile", "cairn:rclone-b/copy.txt")
	require.Equal(t, "big.bin\nsmall.txt\n", rclone("lsf", "cairn:rclone-b"))
	rclone("check", dir, "cairn:rclone-b", "--include", "{small.txt,big.bin}")
}

func s3bMinio(t *testing.T, c *cluster, bigData []byte) {
	ctx := ctxT(t, 2*time.Minute)
	mc, err := minio.New(c.layout.S3Addr(), &minio.Options{
		Creds: credentials.NewStaticV4(testAccessKey, testSecretKey, ""), Region: "us-east-1", TrailingHeaders: true,
	})
	require.NoError(t, err)
	require.NoError(t, mc.MakeBucket(ctx, "minio-b", minio.MakeBucketOptions{}))
	small := []byte("hello from minio-go\n")
	uploads := []struct {
		key  string
		data []byte
		size int64
		opts minio.PutObjectOptions
	}{
		{"small.txt", small, int64(len(small)), minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"color": "blue"}}},
		// The defect of issue 10: a checksum, and a stream of unknown size.
		{"checksum.bin", bigData[:1<<20], 1 << 20, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}},
		{"unknown.bin", bigData, -1, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C, PartSize: 5 << 20}},
		{"multipart.bin", bigData, int64(len(bigData)), minio.PutObjectOptions{PartSize: 5 << 20}},
	}
	for _, u := range uploads {
		_, err := mc.PutObject(ctx, "minio-b", u.key, bytes.NewReader(u.data), u.size, u.opts)
		require.NoError(t, err, u.key)
		obj, err := mc.GetObject(ctx, "minio-b", u.key, minio.GetObjectOptions{})
		require.NoError(t, err)
		got, err := io.ReadAll(obj)
		require.NoError(t, err)
		require.True(t, bytes.Equal(u.data, got), "%s read back", u.key)
	}
	_, err = mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "minio-b", Object: "copy.txt"}, minio.CopySrcOptions{Bucket: "minio-b", Object: "small.txt"})
	require.NoError(t, err)
	var keys []string
	for o := range mc.ListObjects(ctx, "minio-b", minio.ListObjectsOptions{}) {
		require.NoError(t, o.Err)
		keys = append(keys, o.Key)
	}
	require.Equal(t, []string{"checksum.bin", "copy.txt", "multipart.bin", "small.txt", "unknown.bin"}, keys)

	u, err := mc.PresignedGetObject(ctx, "minio-b", "copy.txt", 10*time.Minute, nil)
	require.NoError(t, err)
	require.Equal(t, small, fetch(t, u.String()))
	u, err = mc.PresignedPutObject(ctx, "minio-b", "presigned-put.txt", 10*time.Minute)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, u.String(), strings.NewReader("put through a URL"))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// A browser upload with minio-go's SigV4 POST policy, sent with curl.
	policy := minio.NewPostPolicy()
	require.NoError(t, policy.SetBucket("minio-b"))
	require.NoError(t, policy.SetKeyStartsWith("forms/"))
	require.NoError(t, policy.SetExpires(time.Now().UTC().Add(10*time.Minute)))
	require.NoError(t, policy.SetContentLengthRange(1, 1<<20))
	postURL, fields, err := mc.PresignedPostPolicy(ctx, policy)
	require.NoError(t, err)
	args := []string{"-s", "-o", "/dev/null", "-w", "%{http_code}"}
	for k, v := range fields {
		if k == "key" {
			continue
		}
		args = append(args, "-F", k+"="+v)
	}
	args = append(args, "-F", "key=forms/${filename}", "-F", "file=@-;filename=form.txt", postURL.String())
	cmd := exec.Command("curl", args...)
	cmd.Stdin = strings.NewReader("sent from a form")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, "204", string(out))
	obj, err := mc.GetObject(ctx, "minio-b", "forms/form.txt", minio.GetObjectOptions{})
	require.NoError(t, err)
	got, err := io.ReadAll(obj)
	require.NoError(t, err)
	require.Equal(t, "sent from a form", string(got))

	for _, k := range []string{"copy.txt", "presigned-put.txt"} {
		require.NoError(t, mc.RemoveObject(ctx, "minio-b", k, minio.RemoveObjectOptions{}))
	}
	_, err = mc.StatObject(ctx, "minio-b", "copy.txt", minio.StatObjectOptions{})
	require.Error(t, err)
}

// s3bLifecycle: with days a second long, the meta leader's worker expires
// current versions (a delete marker in a versioned bucket), noncurrent
// versions beyond the newest kept, and then the delete marker left alone;
// a version under legal hold stays.
func s3bLifecycle(t *testing.T, c *cluster) {
	ctx := ctxT(t, 90*time.Second)
	_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lc-b"), ObjectLockEnabledForBucket: aws.Bool(true)})
	require.NoError(t, err)
	on := types.ExpirationStatusEnabled
	_, err = c.s3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("lc-b"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("tmp"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(2)}},
			{ID: aws.String("old versions"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
				NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)}},
			{ID: aws.String("markers"), Status: on, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
				Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)}},
		}}})
	require.NoError(t, err)
	put := func(key string, held bool) {
		in := &s3.PutObjectInput{Bucket: aws.String("lc-b"), Key: aws.String(key), Body: strings.NewReader(key)}
		if held {
			in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn
		}
		out, err := c.s3.PutObject(ctx, in)
		require.NoError(t, err)
		if strings.HasPrefix(key, "tmp/") {
			require.Contains(t, aws.ToString(out.Expiration), `rule-id="tmp"`)
		}
	}
	put("tmp/a", false)
	put("tmp/held", true)
	put("keep", false)

	versions := func() map[string]int {
		out, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lc-b")})
		require.NoError(t, err)
		n := map[string]int{}
		for _, v := range out.Versions {
			n[aws.ToString(v.Key)]++
		}
		for _, m := range out.DeleteMarkers {
			n[aws.ToString(m.Key)+"#marker"]++
		}
		return n
	}
	// tmp/a: hidden by a marker after 2 s, its version noncurrent and
	// removed a second later, then the marker left alone removed.
	// tmp/held: hidden too, but its version under legal hold stays, and
	// so does the marker in front of it.
	want := map[string]int{"keep": 1, "tmp/held": 1, "tmp/held#marker": 1}
	var got map[string]int
	waitUntil(t, 60*time.Second, "lifecycle expirations", func() bool {
		got = versions()
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	require.Equal(t, want, got)
	_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lc-b"), Key: aws.String("keep")})
	require.NoError(t, err)
}
