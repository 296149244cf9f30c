package s3err

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/sse"
)

func TestSSEErrors(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		code   string
		status int
	}{
		{"sse.ErrNoSuchKMSKey", fmt.Errorf("put: %w", sse.ErrNoSuchKMSKey), "KMS.NotFoundException", 400},
		{"InvalidEncryptionAlgorithmError", InvalidEncryptionAlgorithmError, "InvalidEncryptionAlgorithmError", 400},
		{"ServerSideEncryptionConfigurationNotFound", ServerSideEncryptionConfigurationNotFound, "ServerSideEncryptionConfigurationNotFoundError", 404},
		// Damaged ciphertext is a server fault, never the client's.
		{"sse.ErrAuthentication", sse.ErrAuthentication, "InternalError", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := FromError(tc.err)
			require.Equal(t, tc.code, e.Code)
			require.Equal(t, tc.status, e.Status)
		})
	}
}
