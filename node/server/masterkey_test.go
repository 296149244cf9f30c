package server

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeCheck keeps a check value the way the FSM does.
type fakeCheck struct {
	stored []byte
	err    error
}

func (f *fakeCheck) Propose(_ context.Context, in *metapb.ProposeRequest, _ ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	cv := in.GetCommand().GetSetMasterKeyCheck().GetCheck()
	switch {
	case f.stored == nil:
		f.stored = cv
	case !bytes.Equal(f.stored, cv):
		return &metapb.ProposeResponse{Result: &metapb.CommandResult{Code: metapb.ErrorCode_PRECONDITION_FAILED}}, nil
	}
	return &metapb.ProposeResponse{Result: &metapb.CommandResult{}}, nil
}

func TestCheckMasterKey(t *testing.T) {
	k1, k2 := identity.NewMasterKey(), identity.NewMasterKey()
	f := &fakeCheck{}
	require.NoError(t, CheckMasterKey(t.Context(), f, k1), "first use records")
	require.NoError(t, CheckMasterKey(t.Context(), f, k1), "same key")
	err := CheckMasterKey(t.Context(), f, k2)
	require.ErrorIs(t, err, ErrMasterKeyMismatch)
	require.NotContains(t, err.Error(), string(k2))

	down := errors.New("no leader")
	err = CheckMasterKey(t.Context(), &fakeCheck{err: down}, k1)
	require.ErrorIs(t, err, down)
	require.NotErrorIs(t, err, ErrMasterKeyMismatch)

	_, err = identity.KeyCheckValue(k1[:5])
	require.Error(t, err)
	require.Error(t, CheckMasterKey(t.Context(), f, k1[:5]))
}
