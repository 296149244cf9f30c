package metadata

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// timedID is a version ID as the gateway makes them: the creation time
// first, then random bytes (here a fixed tail).
func timedID(nanos int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(nanos))
	b[15] = 7
	return hex.EncodeToString(b[:])
}

func putTimed(bucket, key string, nanos int64) *metapb.Command {
	c := putObject(bucket, key, timedID(nanos), "d-"+timedID(nanos))
	c.GetPutObject().Version.MtimeUnixNano = nanos
	return c
}

// TestListObjectVersionsDeletedMarker: a version-id marker whose version
// was deleted since the previous page continues from where it stood, as
// list-then-delete loops need.
func TestListObjectVersionsDeletedMarker(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", enabled))
	for _, n := range []int64{100, 200, 300, 400} {
		h.mustApply(putTimed("b", "k", n))
	}
	h.mustApply(putTimed("b", "z", 500))

	cases := []struct {
		name    string
		deleted int64 // the marker's version, deleted before the next page
		want    []string
	}{
		{"middle", 300, []string{"k@" + timedID(200), "k@" + timedID(100), "z@" + timedID(500) + "(latest)"}},
		{"newest", 400, []string{"k@" + timedID(300) + "(latest)", "k@" + timedID(200), "k@" + timedID(100), "z@" + timedID(500) + "(latest)"}},
		{"oldest", 100, []string{"z@" + timedID(500) + "(latest)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createBucket("b", "o", enabled))
			for _, n := range []int64{100, 200, 300, 400} {
				h.mustApply(putTimed("b", "k", n))
			}
			h.mustApply(putTimed("b", "z", 500))
			h.mustApply(deleteObject("b", "k", timedID(tc.deleted), ""))
			resp, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b", KeyMarker: "k", VersionIdMarker: timedID(tc.deleted)})
			require.NoError(t, err)
			require.Equal(t, tc.want, versionNames(resp.Versions))
		})
	}

	t.Run("deleted null version lists the key again", func(t *testing.T) {
		resp, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b", KeyMarker: "z", VersionIdMarker: "null"})
		require.NoError(t, err)
		require.Equal(t, []string{"z@" + timedID(500) + "(latest)"}, versionNames(resp.Versions))
	})
}
