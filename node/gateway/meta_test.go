package gateway

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// answerMeta answers every object read and proposal with one code or one
// call error.
type answerMeta struct {
	metapb.MetaClient // nil: only the methods below are called
	code              metapb.ErrorCode
	err               error
}

func (m answerMeta) GetObject(context.Context, *metapb.GetObjectRequest, ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	if m.err != nil {
		return nil, m.err
	}
	return &metapb.GetObjectResponse{Code: m.code, Version: &metapb.ObjectVersion{Key: "k"}}, nil
}

func (m answerMeta) Propose(context.Context, *metapb.ProposeRequest, ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	if m.err != nil {
		return nil, m.err
	}
	return &metapb.ProposeResponse{Result: &metapb.CommandResult{Code: m.code, Message: "why"}}, nil
}

// TestMetaClientErrors checks the adapter's one translation of answer
// codes and failed calls into the errors S3 clients see.
func TestMetaClientErrors(t *testing.T) {
	tests := []struct {
		name string
		code metapb.ErrorCode
		err  error
		want *s3err.Error // nil: no error
	}{
		{"ok", metapb.ErrorCode_OK, nil, nil},
		{"no such key", metapb.ErrorCode_NO_SUCH_KEY, nil, s3err.NoSuchKey},
		{"no such bucket", metapb.ErrorCode_NO_SUCH_BUCKET, nil, s3err.NoSuchBucket},
		{"precondition", metapb.ErrorCode_PRECONDITION_FAILED, nil, s3err.PreconditionFailed},
		{"unavailable", 0, status.Error(codes.Unavailable, "no leader"), s3err.ServiceUnavailable},
		{"timed out", 0, status.Error(codes.DeadlineExceeded, "slow"), s3err.ServiceUnavailable},
		{"aborted", 0, status.Error(codes.Aborted, "leadership lost"), s3err.ServiceUnavailable},
		{"shedding load", 0, status.Error(codes.ResourceExhausted, "busy"), s3err.SlowDown},
		{"internal", 0, status.Error(codes.Internal, "bug"), s3err.InternalError},
		{"not a status", 0, errors.New("broken"), s3err.InternalError},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetaClient(answerMeta{code: tc.code, err: tc.err})
			v, err := m.Object(ctx, "b", "k", "")
			res, perr := m.Propose(ctx, &metapb.Command{})
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, "k", v.GetKey())
				require.NoError(t, perr)
				return
			}
			require.Equal(t, tc.want, s3err.FromError(err))
			require.Equal(t, tc.want, s3err.FromError(perr))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "the call's error stays in the chain")
				return
			}
			require.True(t, isMetaCode(err, tc.code))
			require.Equal(t, tc.code, res.GetCode(), "a refused proposal keeps its result")
			var me *s3err.MetaError
			require.ErrorAs(t, perr, &me)
			require.Equal(t, "why", me.Message)
		})
	}
}
