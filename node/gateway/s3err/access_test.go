package s3err

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/access"
)

func TestFromErrorAccess(t *testing.T) {
	cases := []struct {
		err    error
		code   string
		status int
	}{
		{access.ErrMalformedPolicy, "MalformedPolicy", 400},
		{access.ErrCannedAndGrants, "InvalidRequest", 400},
		{access.ErrInvalidCannedACL, "InvalidArgument", 400},
		{access.ErrEmailGrant, "UnresolvableGrantByEmailAddress", 400},
		{access.ErrInvalidGrant, "InvalidArgument", 400},
		{AccessControlListNotSupported, "AccessControlListNotSupported", 400},
		{InvalidBucketAclWithObjectOwnership, "InvalidBucketAclWithObjectOwnership", 400},
		{MalformedACLError, "MalformedACLError", 400},
		{NoSuchBucketPolicy, "NoSuchBucketPolicy", 404},
		{OwnershipControlsNotFoundError, "OwnershipControlsNotFoundError", 404},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			e := FromError(fmt.Errorf("wrapped: %w", tc.err))
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.status, e.Status)
		})
	}
}
