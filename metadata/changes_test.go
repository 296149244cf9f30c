package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestBucketChanges: every command that writes a bucket or a user key wakes
// the watchers and moves the change index to its entry; object commands,
// rejected commands and heartbeats do not.
func TestBucketChanges(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_UNVERSIONED))
	tests := []struct {
		name    string
		cmd     *metapb.Command
		changed bool
	}{
		{"create bucket", createBucket("c", "o", metapb.VersioningState_VERSIONING_UNVERSIONED), true},
		{"put object", putObject("b", "k", "v1", "d1"), false},
		{"delete object", deleteObject("b", "k", "v1", ""), false},
		{"create existing bucket (rejected)", createBucket("c", "o", metapb.VersioningState_VERSIONING_UNVERSIONED), false},
		{"heartbeat", heartbeat("n1", "a:1", "z1", 5), false},
		{"update bucket", updateBucket(&metapb.Bucket{Name: "c", Policy: `{"Version":"2012-10-17"}`}, "policy"), true},
		{"update missing bucket (rejected)", updateBucket(&metapb.Bucket{Name: "nope", Policy: "x"}, "policy"), false},
		{"put user", putUser("AK1", "id-1", "one"), true},
		{"delete user", deleteUser("AK1"), true},
		{"delete bucket", deleteBucket("c"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, next := h.f.BucketChanges()
			h.apply(tt.cmd)
			after, _ := h.f.BucketChanges()
			require.Equal(t, tt.changed, closed(next))
			if tt.changed {
				require.Equal(t, h.index, after)
			} else {
				require.Equal(t, before, after)
			}
		})
	}
}

func TestTouchesBucketsRangeDelete(t *testing.T) {
	h := newHarness(t)
	db, err := h.f.acquire()
	require.NoError(t, err)
	defer h.f.mu.RUnlock()
	tests := []struct {
		name       string
		start, end []byte
		want       bool
	}{
		{"covers the bucket table", []byte{0x00}, []byte{0xFF}, true},
		{"inside the user table", keys.UserKey("a"), keys.UserKey("z"), true},
		{"parts table only", []byte{keys.TablePart}, []byte{keys.TablePart + 1}, false},
		{"ends where the bucket table starts", []byte{0x00}, []byte{keys.TableBucket}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := db.NewBatch()
			defer b.Close()
			require.NoError(t, b.DeleteRange(tt.start, tt.end, nil))
			require.Equal(t, tt.want, touchesBuckets(b))
		})
	}
}
