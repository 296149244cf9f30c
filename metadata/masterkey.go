package metadata

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxKeyCheckLen bounds a master key check value (an HMAC-SHA256 is 32
// bytes).
const maxKeyCheckLen = 64

// setMasterKeyCheck records the master key check value once; later
// commands succeed only with the same value or, while a rotation is in
// progress, the previous key's. The result says whether one is.
func (t *txn) setMasterKeyCheck(c *metapb.SetMasterKeyCheck) (*metapb.CommandResult, error) {
	check := c.GetCheck()
	if len(check) == 0 || len(check) > maxKeyCheckLen {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "master key check value is %d bytes", len(check)), nil
	}
	key := keys.SystemKey(keys.SysMasterKeyCheck)
	stored, found, err := getRaw(t.b, key)
	if err != nil {
		return nil, err
	}
	if !found {
		return okResult(), t.b.Set(key, check, nil)
	}
	prev, rotating, err := getRaw(t.b, keys.SystemKey(keys.SysMasterKeyPrevious))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(stored, check) && !(rotating && bytes.Equal(prev, check)) {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "the master key does not match the cluster's master key (its check value differs from the one recorded)"), nil
	}
	return &metapb.CommandResult{KeyRotating: rotating}, nil
}

// MasterKeyCheck returns the recorded master key check value, or nil when
// none is recorded yet.
func (f *FSM) MasterKeyCheck() ([]byte, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	v, _, err := getRaw(db, keys.SystemKey(keys.SysMasterKeyCheck))
	if err != nil {
		return nil, fmt.Errorf("metadata: read master key check: %w", err)
	}
	return v, nil
}

// CountGC counts the queued GC entries, stopping at limit (then more is
// true). It reads keys only.
func (f *FSM) CountGC(limit uint64) (n uint64, more bool, err error) {
	db, err := f.acquire()
	if err != nil {
		return 0, false, err
	}
	defer f.mu.RUnlock()
	prefix := keys.TablePrefix(keys.TableGC)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return 0, false, fmt.Errorf("metadata: count gc queue: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if n == limit {
			more = true
			break
		}
		n++
	}
	if err := it.Close(); err != nil {
		return 0, false, fmt.Errorf("metadata: count gc queue: %w", err)
	}
	return n, more, nil
}
