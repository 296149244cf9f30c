package metadata

import (
	"bytes"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/cairn-io/cairn/metadata/keys"
)

// changeFeed tells watchers that buckets or users changed. It is fed from
// the keys a committed batch wrote, not from the commands that wrote them,
// so that a new command that touches a bucket or a user is covered without
// being listed here. The zero value is ready to use.
type changeFeed struct {
	mu    sync.Mutex
	index uint64        // last applied index that changed a bucket or user
	ch    chan struct{} // closed at the next change
}

// BucketChanges returns the applied index of the last entry that changed
// a bucket or a user (0 if none since the FSM was opened: the caller
// starts from a full read anyway) and a channel closed at the next such
// change.
func (f *FSM) BucketChanges() (index uint64, next <-chan struct{}) {
	c := &f.changes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.index, c.ch
}

// noteChange records a change at index and wakes every watcher.
func (c *changeFeed) noteChange(index uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index = index
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// touchesBuckets reports whether b sets or deletes a bucket or user key.
// A batch of a few object commits holds a handful of keys, so the scan
// costs little next to the synced commit it follows.
func touchesBuckets(b *pebble.Batch) bool {
	r := b.Reader()
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil || !ok {
			// An unreadable batch is reported as a change: a spurious
			// invalidation is harmless, a missed one is not.
			return err != nil
		}
		for _, t := range []byte{keys.TableBucket, keys.TableUser} {
			if kind == pebble.InternalKeyKindRangeDelete {
				// [k, v) deletes a range: does it overlap table t?
				if bytes.Compare(k, []byte{t + 1}) < 0 && bytes.Compare(v, []byte{t}) > 0 {
					return true
				}
			} else if len(k) > 0 && k[0] == t {
				return true
			}
		}
	}
}
