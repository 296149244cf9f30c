package gateway

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// TestReportsUnderSpreadBodies checks that every body committed with
// several shards on one node is reported once committed, and only then.
func TestReportsUnderSpreadBodies(t *testing.T) {
	under := []string{"n0", "n1", "n2", "n3", "n4"} // six shards, five nodes
	spread := []string{"n0", "n1", "n2", "n3", "n4", "n5"}
	cases := []struct {
		name    string
		placeOn []string
		do      func(e *testEnv) error
		reports int
	}{
		{name: "put spread", placeOn: spread, do: func(e *testEnv) error { return putErr(e, "k", nil) }},
		{name: "put under-spread", placeOn: under, do: func(e *testEnv) error { return putErr(e, "k", nil) }, reports: 1},
		{name: "copy under-spread", placeOn: under, do: func(e *testEnv) error {
			if err := putErr(e, "src", nil); err != nil {
				return err
			}
			_, err := e.client.CopyObject(context.Background(), &s3.CopyObjectInput{Bucket: aws.String("spr"), Key: aws.String("dst"), CopySource: aws.String("spr/src")})
			return err
		}, reports: 2},
		{name: "part under-spread", placeOn: under, do: func(e *testEnv) error {
			ctx := context.Background()
			up, err := e.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("spr"), Key: aws.String("mp")})
			if err != nil {
				return err
			}
			_, err = e.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("spr"), Key: aws.String("mp"), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: bytes.NewReader(randBytes(3, 1000))})
			return err
		}, reports: 1},
		{name: "refused commit", placeOn: under, do: func(e *testEnv) error {
			if err := putErr(e, "k", nil); err != nil {
				return err
			}
			// The conditional PUT's body is stored, but its commit
			// fails: there is no record to spread.
			err := putErr(e, "k", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
			require.Error(t, err)
			return nil
		}, reports: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []string
			)
			meta := metatest.New(t)
			e := newEnv(t, envOptions{config: func(c *Config) {
				c.Meta = NewMetaClient(meta)
				c.OnUnderSpread = func(dataID string, shards []*metapb.ShardPlacement) {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, dataID)
				}
			}})
			e.bodies.mu.Lock()
			e.bodies.mu.placeOn = tc.placeOn
			e.bodies.mu.Unlock()
			e.createBucket("spr")
			require.NoError(t, tc.do(e))
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, got, tc.reports)
			for _, id := range got {
				e.bodies.mu.Lock()
				_, stored := e.bodies.mu.bodies[id]
				e.bodies.mu.Unlock()
				require.True(t, stored, "reported body %s is stored", id)
			}
		})
	}
}

func putErr(e *testEnv, key string, mod func(*s3.PutObjectInput)) error {
	in := &s3.PutObjectInput{Bucket: aws.String("spr"), Key: aws.String(key), Body: bytes.NewReader(randBytes(1, 1000))}
	if mod != nil {
		mod(in)
	}
	_, err := e.client.PutObject(context.Background(), in, noRetry)
	return err
}
