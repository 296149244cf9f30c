package metadata

import (
	"bytes"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Master key rotation. The FSM never sees a key: it records check values
// (StartKeyRotation, FinishKeyRotation) and swaps sealed bytes the
// rotating admin re-encrypted, each only where the record still holds the
// bytes the admin read (RewrapSealed), so a record changed meanwhile (a
// user deleted, an object overwritten) is left alone and picked up, if
// still there, by the next pass.

// maxSwaps bounds one RewrapSealed command.
const maxSwaps = 1000

// startKeyRotation makes new_check the recorded value and keeps old_check
// accepted as the previous key's.
func (t *txn) startKeyRotation(c *metapb.StartKeyRotation) (*metapb.CommandResult, error) {
	oldCheck, newCheck := c.GetOldCheck(), c.GetNewCheck()
	for _, v := range [][]byte{oldCheck, newCheck} {
		if len(v) == 0 || len(v) > maxKeyCheckLen {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "master key check value is %d bytes", len(v)), nil
		}
	}
	if bytes.Equal(oldCheck, newCheck) {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "the new master key is the current one"), nil
	}
	curKey, prevKey := keys.SystemKey(keys.SysMasterKeyCheck), keys.SystemKey(keys.SysMasterKeyPrevious)
	cur, found, err := getRaw(t.b, curKey)
	if err != nil {
		return nil, err
	}
	prev, rotating, err := getRaw(t.b, prevKey)
	if err != nil {
		return nil, err
	}
	switch {
	case rotating && bytes.Equal(cur, newCheck) && bytes.Equal(prev, oldCheck):
		return &metapb.CommandResult{KeyRotating: true}, nil // resumed
	case rotating:
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "another master key rotation is in progress: finish it first, with its keys"), nil
	case found && !bytes.Equal(cur, oldCheck):
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "the current master key given does not match the cluster's master key"), nil
	}
	if err := t.b.Set(prevKey, oldCheck, nil); err != nil {
		return nil, err
	}
	return &metapb.CommandResult{KeyRotating: true}, t.b.Set(curKey, newCheck, nil)
}

// finishKeyRotation stops accepting the previous key.
func (t *txn) finishKeyRotation(c *metapb.FinishKeyRotation) (*metapb.CommandResult, error) {
	cur, found, err := getRaw(t.b, keys.SystemKey(keys.SysMasterKeyCheck))
	if err != nil {
		return nil, err
	}
	if !found || !bytes.Equal(cur, c.GetNewCheck()) {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "the new master key given is not the cluster's current master key"), nil
	}
	return okResult(), t.b.Delete(keys.SystemKey(keys.SysMasterKeyPrevious), nil)
}

// rewrapSealed applies the swaps whose records still hold the old bytes.
func (t *txn) rewrapSealed(c *metapb.RewrapSealed) (*metapb.CommandResult, error) {
	if len(c.GetSwaps()) > maxSwaps {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "rewrap: %d swaps, at most %d", len(c.GetSwaps()), maxSwaps), nil
	}
	var n uint32
	for _, s := range c.GetSwaps() {
		if len(s.GetOld()) == 0 || len(s.GetNew()) == 0 {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "rewrap: empty sealed value"), nil
		}
		ok, err := t.swap(s)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	return &metapb.CommandResult{Rewrapped: n}, nil
}

func (t *txn) swap(s *metapb.SealedSwap) (bool, error) {
	switch s.GetKind() {
	case metapb.SealedKind_SEALED_USER_SECRET:
		k := keys.UserKey(s.GetAccessKey())
		var u metapb.User
		found, err := getProto(t.b, k, &u)
		if err != nil || !found || !bytes.Equal(u.SecretCiphertext, s.Old) {
			return false, err
		}
		u.SecretCiphertext = s.New
		return true, t.set(k, &u)
	case metapb.SealedKind_SEALED_OBJECT_VERSION:
		if s.GetVersionId() == "" {
			return false, nil
		}
		v, vk, res, err := t.lookupVersion(s.GetBucket(), s.GetKey(), s.GetVersionId())
		if err != nil || res != nil {
			return false, err
		}
		changed := swapEncryption(v.Encryption, s)
		for _, p := range v.Parts {
			changed = swapEncryption(p.Encryption, s) || changed
		}
		if !changed {
			return false, nil
		}
		if err := t.set(vk, v); err != nil {
			return false, err
		}
		return true, t.refreshCurrent(s.GetBucket(), s.GetKey())
	case metapb.SealedKind_SEALED_UPLOAD:
		k := keys.UploadKey(s.GetBucket(), s.GetKey(), s.GetUploadId())
		var u metapb.MultipartUpload
		found, err := getProto(t.b, k, &u)
		if err != nil || !found || !swapEncryption(u.GetTemplate().GetEncryption(), s) {
			return false, err
		}
		return true, t.set(k, &u)
	case metapb.SealedKind_SEALED_UPLOAD_PART:
		k := keys.PartKey(s.GetBucket(), s.GetKey(), s.GetUploadId(), s.GetPartNumber())
		var p metapb.PartInfo
		found, err := getProto(t.b, k, &p)
		if err != nil || !found || !swapEncryption(p.Encryption, s) {
			return false, err
		}
		return true, t.set(k, &p)
	default:
		return false, nil
	}
}

// swapEncryption replaces an SSE-S3 wrapped key equal to s.Old.
func swapEncryption(e *metapb.Encryption, s *metapb.SealedSwap) bool {
	if e == nil || e.Algorithm != "AES256" || !bytes.Equal(e.WrappedKey, s.Old) {
		return false
	}
	e.WrappedKey = s.New
	return true
}
