package metadata

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func conditionalPut(bucket, key, versionID, dataID, ifMatch string, ifNoneMatch bool) *metapb.Command {
	cmd := putObject(bucket, key, versionID, dataID)
	cmd.GetPutObject().IfMatch = ifMatch
	cmd.GetPutObject().IfNoneMatch = ifNoneMatch
	return cmd
}

func conditionalDelete(bucket, key, versionID, markerID, ifMatch string) *metapb.Command {
	cmd := deleteObject(bucket, key, versionID, markerID)
	cmd.GetDeleteObject().IfMatch = ifMatch
	return cmd
}

func TestConditionalWrites(t *testing.T) {
	type step struct {
		cmd  *metapb.Command
		code metapb.ErrorCode
		// current is the data ID the key's current version must have after
		// the step; "-" means no current version.
		current string
	}
	tests := []struct {
		name       string
		versioning metapb.VersioningState
		steps      []step
	}{
		{"if-none-match creates a new key", unversioned, []step{
			{cmd: conditionalPut("b", "k", "null", "d1", "", true), current: "d1"},
		}},
		{"if-none-match refuses an existing key", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1"), current: "d1"},
			{cmd: conditionalPut("b", "k", "null", "d2", "", true), code: metapb.ErrorCode_PRECONDITION_FAILED, current: "d1"},
		}},
		{"if-none-match after delete succeeds", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1")},
			{cmd: deleteObject("b", "k", "", ""), current: "-"},
			{cmd: conditionalPut("b", "k", "null", "d2", "", true), current: "d2"},
		}},
		{"if-none-match over a delete marker succeeds", enabled, []step{
			{cmd: putObject("b", "k", "v1", "d1")},
			{cmd: deleteObject("b", "k", "", "m1"), current: "-"},
			{cmd: conditionalPut("b", "k", "v2", "d2", "", true), current: "d2"},
		}},
		{"if-none-match refuses a versioned key", enabled, []step{
			{cmd: putObject("b", "k", "v1", "d1")},
			{cmd: conditionalPut("b", "k", "v2", "d2", "", true), code: metapb.ErrorCode_PRECONDITION_FAILED, current: "d1"},
		}},
		{"if-none-match replay of the winning command succeeds", unversioned, []step{
			{cmd: conditionalPut("b", "k", "null", "d1", "", true), current: "d1"},
			{cmd: conditionalPut("b", "k", "null", "d1", "", true), current: "d1"},
		}},
		{"if-match with the current etag replaces", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1")},
			{cmd: conditionalPut("b", "k", "null", "d2", "e-d1", false), current: "d2"},
		}},
		{"if-match with another etag fails", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1")},
			{cmd: conditionalPut("b", "k", "null", "d2", "e-other", false), code: metapb.ErrorCode_PRECONDITION_FAILED, current: "d1"},
		}},
		{"if-match on a missing key is NoSuchKey", unversioned, []step{
			{cmd: conditionalPut("b", "k", "null", "d2", "e-d1", false), code: metapb.ErrorCode_NO_SUCH_KEY, current: "-"},
		}},
		{"if-match on a delete marker is NoSuchKey", enabled, []step{
			{cmd: putObject("b", "k", "v1", "d1")},
			{cmd: deleteObject("b", "k", "", "m1")},
			{cmd: conditionalPut("b", "k", "v2", "d2", "e-d1", false), code: metapb.ErrorCode_NO_SUCH_KEY, current: "-"},
		}},
		{"if-match and if-none-match together on an existing key", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1")},
			{cmd: conditionalPut("b", "k", "null", "d2", "e-d1", true), code: metapb.ErrorCode_PRECONDITION_FAILED, current: "d1"},
		}},
		{"delete if-match with the current etag", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1")},
			{cmd: conditionalDelete("b", "k", "", "", "e-d1"), current: "-"},
		}},
		{"delete if-match with another etag", unversioned, []step{
			{cmd: putObject("b", "k", "null", "d1")},
			{cmd: conditionalDelete("b", "k", "", "", "e-d2"), code: metapb.ErrorCode_PRECONDITION_FAILED, current: "d1"},
		}},
		{"delete if-match on a missing key is a no-op", enabled, []step{
			{cmd: conditionalDelete("b", "k", "", "m1", "e-d1"), current: "-"},
		}},
		{"delete if-match of a named version", enabled, []step{
			{cmd: putObject("b", "k", "v1", "d1")},
			{cmd: putObject("b", "k", "v2", "d2")},
			{cmd: conditionalDelete("b", "k", "v1", "", "e-d2"), code: metapb.ErrorCode_PRECONDITION_FAILED, current: "d2"},
			{cmd: conditionalDelete("b", "k", "v1", "", "e-d1"), current: "d2"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createBucket("b", "o", tc.versioning))
			for i, s := range tc.steps {
				res := h.apply(s.cmd)
				require.Equal(t, s.code, res.Code, "step %d: %v", i, res)
				switch s.current {
				case "":
				case "-":
					_, err := h.f.GetObject("b", "k", "")
					require.ErrorIs(t, err, ErrNoSuchKey, "step %d", i)
				default:
					cur, err := h.f.GetObject("b", "k", "")
					require.NoError(t, err, "step %d", i)
					require.Equal(t, s.current, cur.DataId, "step %d", i)
				}
			}
		})
	}
}

// TestIfNoneMatchRaceInOneBatch applies many If-None-Match PUTs of one new
// key in a single Raft batch, as concurrent gateways would have them
// committed: exactly the first wins.
func TestIfNoneMatchRaceInOneBatch(t *testing.T) {
	for _, vs := range []metapb.VersioningState{unversioned, enabled} {
		t.Run(vs.String(), func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createBucket("b", "o", vs))
			var logs []*raft.Log
			for i := range 16 {
				id := string(rune('a' + i))
				logs = append(logs, h.log(conditionalPut("b", "k", "v"+id, "d"+id, "", true)))
			}
			wins := 0
			for i, out := range h.f.ApplyBatch(logs) {
				res := out.(*metapb.CommandResult)
				if res.Code == metapb.ErrorCode_OK {
					wins++
					require.Equal(t, 0, i, "the first committed command wins")
					continue
				}
				require.Equal(t, metapb.ErrorCode_PRECONDITION_FAILED, res.Code)
			}
			require.Equal(t, 1, wins)
			cur, err := h.f.GetObject("b", "k", "")
			require.NoError(t, err)
			require.Equal(t, "da", cur.DataId)
			resp, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b"})
			require.NoError(t, err)
			require.Len(t, resp.Versions, 1, "losers store nothing")
			gc, err := h.f.PendingGC(0)
			require.NoError(t, err)
			require.Empty(t, gc)
		})
	}
}
