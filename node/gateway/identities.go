package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/proto/metapb"
)

// DefaultUserCacheTTL is how long a gateway trusts what it learnt about a
// user (or the absence of one): a deleted user is refused at most this
// long after the deletion committed.
const DefaultUserCacheTTL = 2 * time.Second

// rootDisplayName is the display name of the root identity.
const rootDisplayName = "root"

// maxCachedUsers bounds the user cache; beyond it the cache restarts.
const maxCachedUsers = 10000

// userSource is what identities needs of the meta service.
type userSource interface {
	GetUser(ctx context.Context, accessKey string) (*metapb.User, bool, error)
	ListUsers(ctx context.Context) ([]*metapb.User, error)
}

// identities resolves access keys to callers and secrets: the root
// identity from configuration, users from the meta group, whose sealed
// secrets it opens with the master key. It implements sigv4.Credentials.
// It is safe for concurrent use.
type identities struct {
	root       access.Caller
	rootSecret string
	users      userSource
	// sealer is nil without a master key: then only root exists.
	sealer *identity.Sealer
	ttl    time.Duration
	now    func() time.Time

	mu struct {
		sync.Mutex
		users   map[string]cachedUser
		names   map[string]string // canonical ID → display name
		namesAt time.Time
	}
}

type cachedUser struct {
	caller access.Caller
	secret string
	found  bool
	at     time.Time
}

func newIdentities(accessKey, secretKey string, users userSource, sealer *identity.Sealer, ttl time.Duration, now func() time.Time) *identities {
	ids := &identities{
		root:       access.Caller{ID: identity.RootCanonicalID(accessKey), AccessKey: accessKey, Name: rootDisplayName, Root: true},
		rootSecret: secretKey,
		users:      users,
		sealer:     sealer,
		ttl:        ttl,
		now:        now,
	}
	ids.mu.users = map[string]cachedUser{}
	return ids
}

// forget drops the cached users: the meta group reported a change.
func (ids *identities) forget() {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	clear(ids.mu.users)
}

// lookup returns the caller and secret of accessKey. An unknown key wraps
// sigv4.ErrInvalidAccessKeyID.
func (ids *identities) lookup(ctx context.Context, accessKey string) (access.Caller, string, error) {
	if accessKey == ids.root.AccessKey {
		return ids.root, ids.rootSecret, nil
	}
	unknown := fmt.Errorf("gateway: access key unknown: %w", sigv4.ErrInvalidAccessKeyID)
	if ids.sealer == nil || accessKey == "" {
		return access.Caller{}, "", unknown
	}
	now := ids.now()
	ids.mu.Lock()
	e, ok := ids.mu.users[accessKey]
	ids.mu.Unlock()
	if !ok || now.Sub(e.at) >= ids.ttl || now.Before(e.at) {
		u, found, err := ids.users.GetUser(ctx, accessKey)
		if err != nil {
			return access.Caller{}, "", err
		}
		e = cachedUser{found: found, at: now}
		if found {
			secret, err := ids.sealer.Open(accessKey, u.GetSecretCiphertext())
			if err != nil {
				return access.Caller{}, "", fmt.Errorf("gateway: user %q: %w", accessKey, err)
			}
			e.secret = secret
			e.caller = access.Caller{ID: u.GetCanonicalId(), AccessKey: accessKey, Name: u.GetDisplayName()}
		}
		ids.mu.Lock()
		if len(ids.mu.users) >= maxCachedUsers {
			ids.mu.users = map[string]cachedUser{}
		}
		ids.mu.users[accessKey] = e
		ids.mu.Unlock()
	}
	if !e.found {
		return access.Caller{}, "", unknown
	}
	return e.caller, e.secret, nil
}

// SecretKey implements sigv4.Credentials.
func (ids *identities) SecretKey(ctx context.Context, accessKey string) (string, error) {
	_, secret, err := ids.lookup(ctx, accessKey)
	return secret, err
}

// caller returns the caller that signed with accessKey.
func (ids *identities) caller(ctx context.Context, accessKey string) (access.Caller, error) {
	c, _, err := ids.lookup(ctx, accessKey)
	return c, err
}

// displayName returns the display name of a canonical ID, or "" when it is
// unknown (a deleted user) or the users cannot be listed right now.
func (ids *identities) displayName(ctx context.Context, id string) string {
	if id == ids.root.ID {
		return ids.root.Name
	}
	if ids.sealer == nil || id == "" {
		return ""
	}
	now := ids.now()
	ids.mu.Lock()
	name, ok := ids.mu.names[id]
	fresh := ids.mu.names != nil && now.Sub(ids.mu.namesAt) < ids.ttl && !now.Before(ids.mu.namesAt)
	ids.mu.Unlock()
	if ok || fresh {
		return name
	}
	users, err := ids.users.ListUsers(ctx)
	if err != nil {
		return ""
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names[u.GetCanonicalId()] = u.GetDisplayName()
	}
	ids.mu.Lock()
	ids.mu.names, ids.mu.namesAt = names, now
	ids.mu.Unlock()
	return names[id]
}
