package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// TestTagConditions: bucket policies can test the tags an object has
// (s3:ExistingObjectTag/<key>) and those a request asks for
// (s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys).
func TestTagConditions(t *testing.T) {
	e, bobID, bob := newLockEnv(t)
	ctx := context.Background()
	cond := func(stmt, c string) string {
		return strings.TrimSuffix(stmt, "}") + `,"Condition":` + c + `}`
	}
	setPolicy(t, e,
		cond(allowStmt(bobID, "s3:GetObject"), `{"StringEquals":{"s3:ExistingObjectTag/class":"public"}}`),
		cond(allowStmt(bobID, "s3:PutObject"), `{"StringEquals":{"s3:RequestObjectTag/team":"blue"}}`),
		cond(denyStmt(bobID, "s3:PutObject"), `{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["secret"]}}`),
	)
	put := func(client *s3.Client, key, tagging string) error {
		in := &s3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String(key), Body: strings.NewReader("x")}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		_, err := client.PutObject(ctx, in)
		return err
	}
	require.NoError(t, put(e.client, "pub", "class=public"))
	require.NoError(t, put(e.client, "priv", "class=private"))
	require.NoError(t, put(e.client, "none", ""))

	cases := []struct {
		name string
		do   func() error
		ok   bool
	}{
		{"get tagged public", func() error {
			_, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("locked"), Key: aws.String("pub")})
			return err
		}, true},
		{"get tagged private", func() error {
			_, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("locked"), Key: aws.String("priv")})
			return err
		}, false},
		{"get untagged", func() error {
			_, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("locked"), Key: aws.String("none")})
			return err
		}, false},
		{"put with team=blue", func() error { return put(bob, "b1", "team=blue") }, true},
		{"put with team=red", func() error { return put(bob, "b2", "team=red") }, false},
		{"put without tags", func() error { return put(bob, "b3", "") }, false},
		{"put with a denied tag key", func() error { return put(bob, "b4", "team=blue&secret=1") }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.ok {
				require.NoError(t, err)
				return
			}
			requireS3Error(t, err, "AccessDenied", 403)
		})
	}
}
