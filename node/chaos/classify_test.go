package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"
)

func responseError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}}
}

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	cases := []struct {
		name string
		err  error
		want Outcome
	}{
		{"success", nil, OK},
		{"412", responseError(412, errors.New("PreconditionFailed")), PreconditionFailed},
		{"404", responseError(404, errors.New("NoSuchKey")), NoSuchKey},
		{"503", responseError(503, errors.New("SlowDown")), Unknown},
		{"500", responseError(500, errors.New("InternalError")), Unknown},
		{"refused connection is never sent", responseError(0, &smithyhttp.RequestSendError{Err: refused}), NotSent},
		{"reset after sending", responseError(0, &smithyhttp.RequestSendError{Err: reset}), Unknown},
		{"timeout", fmt.Errorf("operation error: %w", context.DeadlineExceeded), Unknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Classify(tc.err))
		})
	}
}
