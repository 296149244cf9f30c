package metadata

import (
	"errors"
	"fmt"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ErrNoSuchUser is returned by GetUser for an unknown access key.
var ErrNoSuchUser = errors.New("metadata: no such user")

// putUser adds a user. Access keys, canonical IDs and display names are
// each unique: a bucket policy may name a user by any of them. The user
// table is small (people, not objects), so uniqueness is checked by a scan.
func (t *txn) putUser(c *metapb.PutUser) (*metapb.CommandResult, error) {
	u := c.GetUser()
	if u.GetAccessKey() == "" || u.GetCanonicalId() == "" || u.GetDisplayName() == "" || len(u.GetSecretCiphertext()) == 0 {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put user: access key, canonical ID, display name and sealed secret are required"), nil
	}
	var clash *metapb.CommandResult
	err := scan(t.b, keys.TablePrefix(keys.TableUser), 0, func(k, v []byte) error {
		var old metapb.User
		if err := decodeValue(k, v, &old); err != nil {
			return err
		}
		switch {
		case old.AccessKey == u.AccessKey:
			clash = result(metapb.ErrorCode_USER_ALREADY_EXISTS, "access key %q exists", u.AccessKey)
		case old.CanonicalId == u.CanonicalId:
			clash = result(metapb.ErrorCode_USER_ALREADY_EXISTS, "canonical ID %q exists", u.CanonicalId)
		case old.DisplayName == u.DisplayName:
			clash = result(metapb.ErrorCode_USER_ALREADY_EXISTS, "a user named %q exists", u.DisplayName)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put user: %w", err)
	}
	if clash != nil {
		return clash, nil
	}
	return okResult(), t.set(keys.UserKey(u.AccessKey), u)
}

func (t *txn) deleteUser(c *metapb.DeleteUser) (*metapb.CommandResult, error) {
	k := keys.UserKey(c.GetAccessKey())
	found, err := getProto(t.b, k, &metapb.User{})
	if err != nil {
		return nil, err
	}
	if !found {
		return result(metapb.ErrorCode_NO_SUCH_USER, "access key %q", c.GetAccessKey()), nil
	}
	return okResult(), t.b.Delete(k, nil)
}

// GetUser returns the user of accessKey or ErrNoSuchUser. The secret stays
// sealed.
func (f *FSM) GetUser(accessKey string) (*metapb.User, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	var u metapb.User
	found, err := getProto(db, keys.UserKey(accessKey), &u)
	if err != nil {
		return nil, fmt.Errorf("metadata: get user %q: %w", accessKey, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchUser, accessKey)
	}
	return &u, nil
}

// ListUsers returns every user in access key order.
func (f *FSM) ListUsers() ([]*metapb.User, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	var out []*metapb.User
	err = scan(db, keys.TablePrefix(keys.TableUser), 0, func(k, v []byte) error {
		u := &metapb.User{}
		out = append(out, u)
		return decodeValue(k, v, u)
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: list users: %w", err)
	}
	return out, nil
}
