package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

const minPart = 5 << 20 // S3's minimum part size, which the gateway enforces

// TestMultipart runs the multipart and copy behaviours against one cluster.
func TestMultipart(t *testing.T) {
	c := startCluster(t)
	ctx := ctxT(t, 10*time.Minute)
	c.mustCreateBucket(ctx, "mpa")
	c.mustCreateBucket(ctx, "mpb")

	t.Run("upload manager round trip", func(t *testing.T) {
		want := body(7, 4*minPart+12345)
		up := manager.NewUploader(c.s3, func(u *manager.Uploader) { u.PartSize = minPart; u.Concurrency = 3 })
		out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("mpa"), Key: aws.String("managed"), Body: bytes.NewReader(want)})
		require.NoError(t, err)
		require.Regexp(t, `^"[0-9a-f]{32}-5"$`, aws.ToString(out.ETag))

		down := manager.NewDownloader(c.s3, func(d *manager.Downloader) { d.PartSize = 3 << 20; d.Concurrency = 3 })
		buf := manager.NewWriteAtBuffer(make([]byte, 0, len(want)))
		n, err := down.Download(ctx, buf, &s3.GetObjectInput{Bucket: aws.String("mpa"), Key: aws.String("managed")})
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), n)
		require.True(t, bytes.Equal(want, buf.Bytes()), "downloaded body differs")
	})

	// An object of parts that end inside a stripe, on a stripe boundary
	// and inside a block, for the range and copy checks.
	sizes := []int{minPart + 3, 2 * stripe, minPart + (1 << 20) + 11, 1000}
	var parts [][]byte
	for i, n := range sizes {
		parts = append(parts, body(uint64(100+i), n))
	}
	whole := bytes.Join(parts, nil)
	id, done := c.uploadParts(ctx, t, "mpa", "parts", parts)
	_, err := c.complete(ctx, "mpa", "parts", id, done)
	require.NoError(t, err)

	t.Run("ranges across stripe and part boundaries", func(t *testing.T) {
		var bounds []int
		off := 0
		for _, n := range sizes {
			off += n
			bounds = append(bounds, off)
		}
		n := len(whole)
		type rng struct {
			spec       string
			start, end int
		}
		ranges := []rng{{"bytes=0-0", 0, 0}, {"bytes=-1", n - 1, n - 1}, {fmt.Sprintf("bytes=%d-", n-2000), n - 2000, n - 1}}
		for _, b := range bounds[:len(bounds)-1] {
			ranges = append(ranges,
				rng{fmt.Sprintf("bytes=%d-%d", b-1, b), b - 1, b},
				rng{fmt.Sprintf("bytes=%d-%d", b, b), b, b},
				rng{fmt.Sprintf("bytes=%d-%d", max(b-stripe, 0), min(b+stripe, n-1)), max(b-stripe, 0), min(b+stripe, n-1)},
			)
		}
		for _, s := range []int{stripe - 1, stripe, 3 * stripe, 1 << 20} {
			ranges = append(ranges, rng{fmt.Sprintf("bytes=%d-%d", s, s+1), s, s + 1})
		}
		ranges = append(ranges, rng{fmt.Sprintf("bytes=%d-%d", bounds[0]-7, bounds[2]+7), bounds[0] - 7, bounds[2] + 7})
		for _, r := range ranges {
			out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpa"), Key: aws.String("parts"), Range: aws.String(r.spec)})
			require.NoError(t, err, r.spec)
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			require.NoError(t, err)
			require.True(t, bytes.Equal(whole[r.start:r.end+1], got), "range %s", r.spec)
			require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, n), aws.ToString(out.ContentRange))
		}
		_, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpa"), Key: aws.String("parts"), Range: aws.String(fmt.Sprintf("bytes=%d-", n))})
		requireCode(t, err, "InvalidRange")
		for i, p := range parts {
			out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpa"), Key: aws.String("parts"), PartNumber: aws.Int32(int32(i + 1))})
			require.NoError(t, err)
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			require.NoError(t, err)
			require.True(t, bytes.Equal(p, got), "part %d", i+1)
			require.Equal(t, int32(len(parts)), aws.ToInt32(out.PartsCount))
		}
	})

	t.Run("errors", func(t *testing.T) {
		small := [][]byte{[]byte("a"), []byte("b")}
		id, done := c.uploadParts(ctx, t, "mpa", "small", small)
		_, err := c.complete(ctx, "mpa", "small", id, done)
		requireCode(t, err, "EntityTooSmall")
		_, err = c.complete(ctx, "mpa", "small", id, []types.CompletedPart{done[1], done[0]})
		requireCode(t, err, "InvalidPartOrder")
		_, err = c.complete(ctx, "mpa", "small", id, []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: done[1].ETag}})
		requireCode(t, err, "InvalidPart")
		_, err = c.complete(ctx, "mpa", "small", "no-such-upload", done)
		requireCode(t, err, "NoSuchUpload")
		_, err = c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpa"), Key: aws.String("small"), UploadId: aws.String(id), PartNumber: aws.Int32(10001), Body: bytes.NewReader(nil)})
		requireCode(t, err, "InvalidArgument")
		_, err = c.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpa"), Key: aws.String("small"), UploadId: aws.String(id)})
		require.NoError(t, err)
		_, err = c.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpa"), Key: aws.String("small"), UploadId: aws.String(id)})
		requireCode(t, err, "NoSuchUpload")
		_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpa"), Key: aws.String("small")})
		require.Error(t, err, "an aborted upload leaves no object")
	})

	t.Run("copy of a multipart source", func(t *testing.T) {
		out, err := c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mpb"), Key: aws.String("copy"), CopySource: aws.String("mpa/parts")})
		require.NoError(t, err)
		sum := md5.Sum(whole)
		require.Equal(t, fmt.Sprintf(`"%x"`, sum), aws.ToString(out.CopyObjectResult.ETag))
		got, err := c.get(ctx, "mpb", "copy")
		require.NoError(t, err)
		require.True(t, bytes.Equal(whole, got), "copied body differs")

		cu, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpb"), Key: aws.String("partcopy")})
		require.NoError(t, err)
		from, to := sizes[0]-100, sizes[0]+sizes[1]+50 // across two source part boundaries
		p1, err := c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpb"), Key: aws.String("partcopy"), UploadId: cu.UploadId,
			PartNumber: aws.Int32(1), CopySource: aws.String("mpa/parts"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", from, to))})
		require.NoError(t, err)
		p2, err := c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpb"), Key: aws.String("partcopy"), UploadId: cu.UploadId,
			PartNumber: aws.Int32(2), CopySource: aws.String("mpb/copy")})
		require.NoError(t, err)
		_, err = c.complete(ctx, "mpb", "partcopy", aws.ToString(cu.UploadId), []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag},
		})
		require.NoError(t, err)
		got, err = c.get(ctx, "mpb", "partcopy")
		require.NoError(t, err)
		want := append(append([]byte(nil), whole[from:to+1]...), whole...)
		require.True(t, bytes.Equal(want, got), "part-copied body differs")
	})
}

func (c *cluster) uploadParts(ctx context.Context, t *testing.T, bucket, key string, parts [][]byte) (string, []types.CompletedPart) {
	t.Helper()
	out, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: out.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		require.NoError(t, err)
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	return aws.ToString(out.UploadId), done
}

func (c *cluster) complete(ctx context.Context, bucket, key, id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
}

// genStream is a seekable stream of size pseudo-random bytes: byte p is
// a byte of splitmix64(seed+p/8), so any part of a huge object can be
// produced, re-read and hashed without holding it.
type genStream struct {
	seed      uint64
	off, size int64
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *genStream) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.size-g.off)]
	var w uint64
	for i := range p {
		pos := g.off + int64(i)
		if i == 0 || pos%8 == 0 {
			w = splitmix64(g.seed + uint64(pos/8))
		}
		p[i] = byte(w >> (8 * (pos % 8)))
	}
	g.off += int64(len(p))
	return len(p), nil
}

func (g *genStream) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += g.off
	case io.SeekEnd:
		off += g.size
	}
	if off < 0 {
		return 0, errors.New("genStream: negative offset")
	}
	g.off = off
	return off, nil
}

// section is bytes [off, off+n) of the object stream with seed.
type section struct {
	gen  genStream
	base int64
}

func newSection(seed uint64, off, n int64) *section {
	return &section{gen: genStream{seed: seed, off: off, size: off + n}, base: off}
}

func (s *section) Read(p []byte) (int, error) { return s.gen.Read(p) }

func (s *section) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		off += s.base
	case io.SeekCurrent:
		off += s.gen.off
	case io.SeekEnd:
		off += s.gen.size
	}
	n, err := s.gen.Seek(off, io.SeekStart)
	return n - s.base, err
}

// parallelUpload uploads size bytes of the seeded stream as parts of
// partSize, workers at a time, and returns the completed upload's ETag.
func (c *cluster) parallelUpload(ctx context.Context, bucket, key string, seed uint64, size, partSize int64, workers int) (string, error) {
	out, err := c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	n := int((size + partSize - 1) / partSize)
	done := make([]types.CompletedPart, n)
	next := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				off := int64(i) * partSize
				up, err := c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: out.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), Body: newSection(seed, off, min(partSize, size-off)), ContentLength: aws.Int64(min(partSize, size-off))})
				if err != nil {
					errs[w] = fmt.Errorf("part %d: %w", i+1, err)
					continue
				}
				done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	res, err := c.complete(ctx, bucket, key, aws.ToString(out.UploadId), done)
	if err != nil {
		return "", err
	}
	return aws.ToString(res.ETag), nil
}

// TestMultipart1GiB round-trips a 1 GiB object uploaded as 32 MiB parts,
// 8 at a time, and compares it by hash: nothing holds the whole object.
func TestMultipart1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB through a local cluster")
	}
	const (
		size     = 1 << 30
		partSize = 32 << 20
		seed     = 20260
	)
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "big")
	start := time.Now()
	etag, err := c.parallelUpload(ctx, "big", "gib", seed, size, partSize, 8)
	require.NoError(t, err)
	up := time.Since(start)
	require.Regexp(t, `-32"$`, etag)

	want := sha256.New()
	_, err = io.Copy(want, &genStream{seed: seed, size: size})
	require.NoError(t, err)

	start = time.Now()
	out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("gib")})
	require.NoError(t, err)
	got := sha256.New()
	n, err := io.Copy(got, out.Body)
	out.Body.Close()
	require.NoError(t, err)
	require.Equal(t, int64(size), n)
	require.Equal(t, want.Sum(nil), got.Sum(nil), "downloaded body differs")
	t.Logf("1 GiB: upload (8 parallel 32 MiB parts) %.0f MiB/s, download %.0f MiB/s",
		float64(size>>20)/up.Seconds(), float64(size>>20)/time.Since(start).Seconds())

	// A range read far into the object reads only what it needs.
	off := int64(size - partSize - 100)
	rout, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("gib"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+199))})
	require.NoError(t, err)
	gotRange, err := io.ReadAll(rout.Body)
	rout.Body.Close()
	require.NoError(t, err)
	wantRange := make([]byte, 200)
	g := &genStream{seed: seed, size: size, off: off}
	_, err = io.ReadFull(g, wantRange)
	require.NoError(t, err)
	require.Equal(t, wantRange, gotRange)
}

// TestAWSCLIMultipart copies a file above the CLI's 8 MiB multipart
// threshold in and out with `aws s3 cp` and compares.
func TestAWSCLIMultipart(t *testing.T) {
	cli, err := exec.LookPath("aws")
	require.NoError(t, err, "the AWS CLI is required (make deps installs the awscli package)")
	c := startCluster(t)
	ctx := ctxT(t, 5*time.Minute)
	c.mustCreateBucket(ctx, "cli")

	dir := t.TempDir()
	src := filepath.Join(dir, "in.bin")
	data := body(77, 21<<20+333)
	require.NoError(t, os.WriteFile(src, data, 0o600))
	env := append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+testAccessKey, "AWS_SECRET_ACCESS_KEY="+testSecretKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_PAGER=")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, cli, append([]string{"--endpoint-url", "http://" + c.layout.S3Addr()}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "aws %v: %s", args, out)
		return string(out)
	}
	run("s3", "cp", src, "s3://cli/dir/in.bin")
	head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cli"), Key: aws.String("dir/in.bin")})
	require.NoError(t, err)
	require.Regexp(t, `-\d+"$`, aws.ToString(head.ETag), "the CLI used multipart")
	dst := filepath.Join(dir, "out.bin")
	run("s3", "cp", "s3://cli/dir/in.bin", dst)
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "file copied back differs")
}
