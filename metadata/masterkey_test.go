package metadata

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestSetMasterKeyCheck(t *testing.T) {
	h := newHarness(t)
	set := func(check []byte) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_SetMasterKeyCheck{SetMasterKeyCheck: &metapb.SetMasterKeyCheck{Check: check}}}
	}
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	got, err := h.f.MasterKeyCheck()
	require.NoError(t, err)
	require.Nil(t, got)

	steps := []struct {
		name  string
		check []byte
		code  metapb.ErrorCode
	}{
		{"empty refused", nil, metapb.ErrorCode_INVALID_ARGUMENT},
		{"too long refused", bytes.Repeat([]byte{1}, maxKeyCheckLen+1), metapb.ErrorCode_INVALID_ARGUMENT},
		{"first recorded", a, metapb.ErrorCode_OK},
		{"same again", a, metapb.ErrorCode_OK},
		{"another key", b, metapb.ErrorCode_PRECONDITION_FAILED},
	}
	for _, st := range steps {
		res := h.apply(set(st.check))
		require.Equal(t, st.code, res.GetCode(), "%s: %v", st.name, res)
	}
	h.reopen()
	got, err = h.f.MasterKeyCheck()
	require.NoError(t, err)
	require.Equal(t, a, got, "the first value stays, across a restart")
	require.Equal(t, metapb.ErrorCode_PRECONDITION_FAILED, h.apply(set(b)).GetCode())
}
