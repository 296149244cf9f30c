package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
)

// TestStalledBodyCut sends the headers and part of a body, then nothing:
// the gateway answers 400 RequestTimeout on the still-open connection and
// stores nothing, for a PUT and for an UploadPart.
func TestStalledBodyCut(t *testing.T) {
	cl := objiotest.NewCluster(t, 6)
	pool := objio.NewPool(nil)
	t.Cleanup(func() { _ = pool.Close() })
	store, err := objio.New(objio.Config{Maps: cl.Maps, Dialer: pool})
	require.NoError(t, err)
	e := newEnv(t, envOptions{config: func(c *Config) {
		c.Meta = NewMetaClient(metatest.New(t))
		c.Bodies = store
		c.BodyStallTimeout = 100 * time.Millisecond
	}})
	e.createBucket("bkt")

	uploadID := e.createUpload("bkt", "k")
	for _, tc := range []struct{ name, path string }{
		{"put", "/bkt/k"},
		{"upload part", "/bkt/k?partNumber=1&uploadId=" + uploadID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 1 << 20
			req := e.signedRequest(http.MethodPut, tc.path, strings.NewReader(""), size, nil)
			conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_, err = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.Host, size)
			require.NoError(t, err)
			require.NoError(t, req.Header.Write(conn))
			_, err = io.WriteString(conn, "\r\n")
			require.NoError(t, err)
			_, err = conn.Write(make([]byte, 64<<10))
			require.NoError(t, err)

			// The connection stays open; only the gateway can end this.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", data)
			require.Contains(t, string(data), "<Code>RequestTimeout</Code>")
			// The PUT's shard streams were cancelled: storage keeps nothing.
			require.Zero(t, cl.ShardCount())
		})
	}
	_, err = e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	requireS3Error(t, err, "NotFound", http.StatusNotFound)
	parts, err := e.client.ListParts(context.Background(), &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("k"), UploadId: aws.String(uploadID)})
	require.NoError(t, err)
	require.Empty(t, parts.Parts, "no part may be committed")
}

// TestSlowSteadyBodyNotCut sends a body in small pieces, each well within
// the stall timeout: the PUT succeeds however long it takes overall.
func TestSlowSteadyBodyNotCut(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.BodyStallTimeout = 500 * time.Millisecond }})
	e.createBucket("bkt")
	pr, pw := io.Pipe()
	go func() {
		for range 40 {
			time.Sleep(25 * time.Millisecond)
			if _, err := pw.Write(make([]byte, 1024)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req := e.signedRequest(http.MethodPut, "/bkt/slow", pr, 40*1024, nil)
	resp, data := e.do(req)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", data)
	require.NotNil(t, e.meta.object("bkt", "slow"))
}

func (e *testEnv) createUpload(bucket, key string) string {
	e.t.Helper()
	out, err := e.client.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(e.t, err)
	return aws.ToString(out.UploadId)
}
