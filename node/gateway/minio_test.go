package gateway

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
)

// TestMinioGoPutObject: minio-go's uploads, with and without checksums,
// of known and unknown size (a multipart upload), signed chunks over HTTP
// and unsigned trailers over TLS. Its trailer lines end in LF CRLF, its
// streamed uploads carry x-amz-checksum-algorithm without a checksum, and
// its composite checksum on Complete lacks the "-<parts>" suffix.
func TestMinioGoPutObject(t *testing.T) {
	data := bytes.Repeat([]byte("cairn"), 20000)
	for _, tls := range []bool{false, true} {
		e := newEnv(t, envOptions{tls: tls, config: func(c *Config) { c.Meta = NewMetaClient(metatest.New(t)) }})
		e.createBucket("bkt")
		host := strings.TrimPrefix(strings.TrimPrefix(e.srv.URL, "http://"), "https://")
		c, err := minio.New(host, &minio.Options{
			Creds:  credentials.NewStaticV4(testAccessKey, testSecretKey, ""),
			Region: testRegion, TrailingHeaders: true, Secure: tls, Transport: e.srv.Client().Transport,
		})
		require.NoError(t, err)
		for _, tc := range []struct {
			name string
			size int64
			opts minio.PutObjectOptions
		}{
			{"known size", int64(len(data)), minio.PutObjectOptions{}},
			{"unknown size", -1, minio.PutObjectOptions{}},
			{"checksum", int64(len(data)), minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}},
			{"checksum, unknown size", -1, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}},
			{"auto checksum SHA256", int64(len(data)), minio.PutObjectOptions{AutoChecksum: minio.ChecksumSHA256}},
			{"full-object CRC32, unknown size", -1, minio.PutObjectOptions{AutoChecksum: minio.ChecksumFullObjectCRC32}},
		} {
			t.Run(tc.name+map[bool]string{true: " over TLS"}[tls], func(t *testing.T) {
				_, err := c.PutObject(context.Background(), "bkt", tc.name, io.Reader(bytes.NewReader(data)), tc.size, tc.opts)
				require.NoError(t, err)
				// The fake store cannot read multipart bodies back; the
				// compatibility suite reads them from a real cluster.
				st, err := c.StatObject(context.Background(), "bkt", tc.name, minio.StatObjectOptions{})
				require.NoError(t, err)
				require.Equal(t, int64(len(data)), st.Size)
			})
		}
	}
}
