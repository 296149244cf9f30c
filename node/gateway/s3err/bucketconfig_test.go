package s3err

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromErrorBucketConfig(t *testing.T) {
	cases := []struct {
		err    *Error
		code   string
		status int
	}{
		{NoSuchCORSConfiguration, "NoSuchCORSConfiguration", 404},
		{CORSForbidden, "AccessForbidden", 403},
		{NoSuchTagSet, "NoSuchTagSet", 404},
		{NoSuchPublicAccessBlockConfiguration, "NoSuchPublicAccessBlockConfiguration", 404},
		{RequestHeaderSectionTooLarge, "RequestHeaderSectionTooLarge", 400},
		{InvalidObjectAttributes, "InvalidArgument", 400},
		{InvalidRetentionPeriod, "InvalidRetentionPeriod", 400},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			e := FromError(fmt.Errorf("wrapped: %w", tc.err))
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.status, e.Status)
		})
	}
}
