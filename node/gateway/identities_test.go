package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/sigv4"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeUsers is a user table with a call counter.
type fakeUsers struct {
	mu    sync.Mutex
	users map[string]*metapb.User
	gets  int
	err   error
}

func (f *fakeUsers) GetUser(_ context.Context, ak string) (*metapb.User, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.err != nil {
		return nil, false, f.err
	}
	u, ok := f.users[ak]
	return u, ok, nil
}

func (f *fakeUsers) ListUsers(context.Context) ([]*metapb.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*metapb.User
	for _, u := range f.users {
		out = append(out, u)
	}
	return out, f.err
}

func TestIdentities(t *testing.T) {
	sealer, err := identity.NewSealer(identity.NewMasterKey())
	require.NoError(t, err)
	bobID := identity.NewCanonicalID()
	users := &fakeUsers{users: map[string]*metapb.User{
		"AKBOB": {AccessKey: "AKBOB", CanonicalId: bobID, DisplayName: "bob", SecretCiphertext: sealer.Seal("AKBOB", "bob-secret")},
		"AKBAD": {AccessKey: "AKBAD", CanonicalId: identity.NewCanonicalID(), DisplayName: "bad", SecretCiphertext: sealer.Seal("AKOTHER", "x")},
	}}
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	ids := newIdentities("AKROOT", "root-secret", users, sealer, 2*time.Second, clock)
	ctx := context.Background()

	c, secret, err := ids.lookup(ctx, "AKROOT")
	require.NoError(t, err)
	require.True(t, c.Root)
	require.Equal(t, "root-secret", secret)
	require.Equal(t, identity.RootCanonicalID("AKROOT"), c.ID)

	c, secret, err = ids.lookup(ctx, "AKBOB")
	require.NoError(t, err)
	require.Equal(t, "bob-secret", secret)
	require.Equal(t, bobID, c.ID)
	require.Equal(t, "bob", c.Name)
	require.False(t, c.Root)

	_, err = ids.SecretKey(ctx, "AKNOBODY")
	require.ErrorIs(t, err, sigv4.ErrInvalidAccessKeyID)
	_, err = ids.SecretKey(ctx, "AKBAD")
	require.ErrorIs(t, err, identity.ErrUnseal, "a secret sealed for another user does not open")

	require.Equal(t, "bob", ids.displayName(ctx, bobID))
	require.Equal(t, "root", ids.displayName(ctx, identity.RootCanonicalID("AKROOT")))
	require.Empty(t, ids.displayName(ctx, identity.NewCanonicalID()))

	// Cached within the TTL, even after deletion...
	gets := users.gets
	users.mu.Lock()
	delete(users.users, "AKBOB")
	users.mu.Unlock()
	_, err = ids.SecretKey(ctx, "AKBOB")
	require.NoError(t, err)
	require.Equal(t, gets, users.gets, "served from the cache")
	// ... and refused once it expires.
	now = now.Add(2 * time.Second)
	_, err = ids.SecretKey(ctx, "AKBOB")
	require.ErrorIs(t, err, sigv4.ErrInvalidAccessKeyID)

	// A meta failure is not an unknown key.
	users.err = errors.New("meta down")
	now = now.Add(time.Minute)
	_, err = ids.SecretKey(ctx, "AKBOB")
	require.Error(t, err)
	require.NotErrorIs(t, err, sigv4.ErrInvalidAccessKeyID)

	// Without a master key only root exists.
	noUsers := newIdentities("AKROOT", "root-secret", users, nil, time.Second, clock)
	_, err = noUsers.SecretKey(ctx, "AKBOB")
	require.ErrorIs(t, err, sigv4.ErrInvalidAccessKeyID)
}
