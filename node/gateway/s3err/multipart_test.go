package s3err

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMultipartTable(t *testing.T) {
	cases := []struct {
		e      *Error
		code   string
		status int
	}{
		{EntityTooSmall, "EntityTooSmall", 400},
		{InvalidPart, "InvalidPart", 400},
		{InvalidPartOrder, "InvalidPartOrder", 400},
		{InvalidPartNumber, "InvalidPartNumber", 416},
		{NoSuchUpload, "NoSuchUpload", 404},
		{NoSuchLifecycleConfiguration, "NoSuchLifecycleConfiguration", 404},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			require.Equal(t, tc.code, tc.e.Code)
			require.Equal(t, tc.status, tc.e.Status)
			require.NotEmpty(t, tc.e.Message)
		})
	}
}
