package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestUpdateBucketS3aFields: the CORS document and the public access block
// are bucket fields of their own, replaced without touching the others.
func TestUpdateBucketS3aFields(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", enabled))
	pab := &metapb.PublicAccessBlock{BlockPublicAcls: true, RestrictPublicBuckets: true}
	h.mustApply(updateBucket(&metapb.Bucket{Name: "b", CorsXml: "<CORSConfiguration/>", PublicAccessBlock: pab, Policy: "ignored"}, "cors", "public_access_block"))
	bk, err := h.f.GetBucket("b")
	require.NoError(t, err)
	require.Equal(t, "<CORSConfiguration/>", bk.CorsXml)
	require.True(t, bk.GetPublicAccessBlock().GetRestrictPublicBuckets())
	require.Empty(t, bk.Policy, "only the named fields change")
	h.mustApply(updateBucket(&metapb.Bucket{Name: "b"}, "public_access_block"))
	bk, err = h.f.GetBucket("b")
	require.NoError(t, err)
	require.Nil(t, bk.PublicAccessBlock)
	require.Equal(t, "<CORSConfiguration/>", bk.CorsXml)
}
