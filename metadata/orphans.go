package metadata

import (
	"errors"
	"fmt"

	"github.com/cairn-io/cairn/metadata/keys"
)

// MaxUnknownDataIDs caps the data IDs of one UnknownData call.
const MaxUnknownDataIDs = 1000

// ErrTooManyDataIDs is returned by UnknownData for more than
// MaxUnknownDataIDs IDs.
var ErrTooManyDataIDs = errors.New("metadata: too many data IDs")

// UnknownData returns, in the order given and once each, the data IDs that
// have no commit record (keys.BodyKey). A body has one from the commit of
// its version or part until its GC entry is acknowledged, that is, until
// after its shards were deleted; so the shards of an unknown data ID belong
// to no version, no part and no pending GC entry: they are orphans of a
// write that never committed. The empty ID is never unknown: it names no
// body.
//
// The answer reflects the state machine as applied; callers that act on it
// read it linearizably (on the leader, after confirming leadership).
func (f *FSM) UnknownData(dataIDs []string) ([]string, error) {
	if len(dataIDs) > MaxUnknownDataIDs {
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyDataIDs, len(dataIDs), MaxUnknownDataIDs)
	}
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	seen := make(map[string]bool, len(dataIDs))
	var unknown []string
	for _, id := range dataIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		_, found, err := getRaw(snap, keys.BodyKey(id))
		if err != nil {
			return nil, fmt.Errorf("metadata: unknown data: body %q: %w", id, err)
		}
		if !found {
			unknown = append(unknown, id)
		}
	}
	return unknown, nil
}
