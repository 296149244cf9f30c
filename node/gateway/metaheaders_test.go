package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestUserMetadataHeadersLowerCase checks that x-amz-meta-* go out in lower
// case, as S3 sends them. boto3 and the AWS CLI strip the prefix and keep
// the rest as sent, so X-Amz-Meta-Color would reach users as "Color".
func TestUserMetadataHeadersLowerCase(t *testing.T) {
	h := objectHeaders(&metapb.ObjectVersion{
		Etag:         "0123",
		UserMetadata: map[string]string{"color": "blue", "owner-team": "storage"},
	})
	require.Equal(t, []string{"blue"}, h["x-amz-meta-color"])
	require.Equal(t, []string{"storage"}, h["x-amz-meta-owner-team"])
	require.NotContains(t, h, "X-Amz-Meta-Color")
}
