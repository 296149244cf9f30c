package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

func putUser(ak, id, name string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_PutUser{PutUser: &metapb.PutUser{User: &metapb.User{
		AccessKey: ak, CanonicalId: id, DisplayName: name, SecretCiphertext: []byte("sealed-" + ak), CreatedUnixNano: 7,
	}}}}
}

func deleteUser(ak string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_DeleteUser{DeleteUser: &metapb.DeleteUser{AccessKey: ak}}}
}

func TestUsers(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("AKBOB", "id-bob", "bob"))
	h.mustApply(putUser("AKALICE", "id-alice", "alice"))

	cases := []struct {
		name string
		cmd  *metapb.Command
		code metapb.ErrorCode
	}{
		{"same access key", putUser("AKBOB", "id-other", "other"), metapb.ErrorCode_USER_ALREADY_EXISTS},
		{"same canonical ID", putUser("AKOTHER", "id-bob", "other"), metapb.ErrorCode_USER_ALREADY_EXISTS},
		{"same name", putUser("AKOTHER", "id-other", "bob"), metapb.ErrorCode_USER_ALREADY_EXISTS},
		{"no access key", putUser("", "id-x", "x"), metapb.ErrorCode_INVALID_ARGUMENT},
		{"no canonical ID", putUser("AKX", "", "x"), metapb.ErrorCode_INVALID_ARGUMENT},
		{"no name", putUser("AKX", "id-x", ""), metapb.ErrorCode_INVALID_ARGUMENT},
		{"no secret", &metapb.Command{Op: &metapb.Command_PutUser{PutUser: &metapb.PutUser{User: &metapb.User{AccessKey: "AKX", CanonicalId: "id-x", DisplayName: "x"}}}}, metapb.ErrorCode_INVALID_ARGUMENT},
		{"delete unknown", deleteUser("AKNOBODY"), metapb.ErrorCode_NO_SUCH_USER},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, h.apply(tc.cmd).Code)
		})
	}

	u, err := h.f.GetUser("AKBOB")
	require.NoError(t, err)
	require.True(t, proto.Equal(putUser("AKBOB", "id-bob", "bob").GetPutUser().GetUser(), u), "got %v", u)
	_, err = h.f.GetUser("AKNOBODY")
	require.ErrorIs(t, err, ErrNoSuchUser)

	all, err := h.f.ListUsers()
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "AKALICE", all[0].AccessKey, "listed in access key order")

	// Users survive a restart.
	h.reopen()
	h.mustApply(deleteUser("AKBOB"))
	_, err = h.f.GetUser("AKBOB")
	require.ErrorIs(t, err, ErrNoSuchUser)
	// The name is free again.
	h.mustApply(putUser("AKBOB2", "id-bob2", "bob"))
	all, err = h.f.ListUsers()
	require.NoError(t, err)
	require.Len(t, all, 2)
}
