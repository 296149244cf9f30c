package metadata

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func sp(node string) *metapb.ShardPlacement {
	return &metapb.ShardPlacement{NodeId: node, DriveId: "d1"}
}

func move(i uint32, from, to *metapb.ShardPlacement, digest string) *metapb.ShardMove {
	return &metapb.ShardMove{Index: i, From: from, To: to, Digest: []byte(digest)}
}

func repair(bucket, key, versionID, uploadID string, part uint32, dataID string, underSpread bool, moves ...*metapb.ShardMove) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_RepairShards{RepairShards: &metapb.RepairShards{
		Bucket: bucket, Key: key, VersionId: versionID, UploadId: uploadID, PartNumber: part,
		DataId: dataID, Moves: moves, UnderSpread: underSpread, UnixNano: 300,
	}}}
}

// gcShards renders the pending GC entries as "data_id:i=node,... [shards_only]".
func gcShards(t *testing.T, f *FSM) []string {
	t.Helper()
	gc, err := f.PendingGC(0)
	require.NoError(t, err)
	var out []string
	for _, e := range gc {
		s := e.DataId + ":"
		for i, sh := range e.Shards {
			if sh.GetNodeId() != "" {
				s += fmt.Sprintf("%d=%s,", i, sh.NodeId)
			}
		}
		if e.ShardsOnly {
			s += " shards_only"
		}
		out = append(out, s)
	}
	return out
}

func placementOf(shards []*metapb.ShardPlacement) []string {
	var out []string
	for _, s := range shards {
		out = append(out, s.GetNodeId())
	}
	return out
}

// TestRepairShards walks RepairShards through its outcomes on a version's
// own body, a part of an upload in progress and a part of a completed
// multipart version.
func TestRepairShards(t *testing.T) {
	type body struct {
		shards  []string
		digests []string
	}
	cases := []struct {
		name string
		// setup runs after bucket "b" (unversioned) holds b/k = d1 on
		// n1,n2,n3, upload u of b/m has part 1 = p1 and b/c is a
		// completed upload whose part 1 is c1.
		setup   []*metapb.Command
		cmd     *metapb.Command
		code    metapb.ErrorCode
		replays int // extra applies of cmd, each answering OK
		// where to read the body after: "version", "upload", "completed"
		read     string
		want     body
		wantUS   bool
		wantGC   []string
		gcBefore int // GC entries made by setup
	}{
		{
			name:   "version body moves",
			cmd:    repair("b", "k", "null", "", 0, "d1", false, move(2, sp("n3"), sp("n4"), "dg")),
			read:   "version",
			want:   body{shards: []string{"n1", "n2", "n4"}, digests: []string{"", "", "dg"}},
			wantGC: []string{"d1:2=n3, shards_only"},
		},
		{
			name:    "replay changes nothing more",
			cmd:     repair("b", "k", "null", "", 0, "d1", false, move(0, sp("n1"), sp("n5"), ""), move(2, sp("n3"), sp("n4"), "")),
			replays: 2,
			read:    "version",
			want:    body{shards: []string{"n5", "n2", "n4"}},
			wantGC:  []string{"d1:0=n1,2=n3, shards_only"},
		},
		{
			name:   "under-spread recorded",
			cmd:    repair("b", "k", "null", "", 0, "d1", true, move(2, sp("n3"), sp("n1"), "")),
			read:   "version",
			want:   body{shards: []string{"n1", "n2", "n1"}},
			wantUS: true,
			wantGC: []string{"d1:2=n3, shards_only"},
		},
		{
			name:   "in place rewrite collects nothing",
			cmd:    repair("b", "k", "null", "", 0, "d1", false, move(1, sp("n2"), sp("n2"), "fresh")),
			read:   "version",
			want:   body{shards: []string{"n1", "n2", "n3"}, digests: []string{"", "fresh", ""}},
			wantGC: nil,
		},
		{
			name:   "placement changed is stale",
			cmd:    repair("b", "k", "null", "", 0, "d1", false, move(2, sp("n9"), sp("n4"), "")),
			code:   metapb.ErrorCode_STALE,
			read:   "version",
			want:   body{shards: []string{"n1", "n2", "n3"}},
			wantGC: []string{"d1:2=n4, shards_only"},
		},
		{
			name:     "overwritten is stale",
			setup:    []*metapb.Command{putObject("b", "k", "", "d2")},
			cmd:      repair("b", "k", "null", "", 0, "d1", false, move(2, sp("n3"), sp("n4"), "")),
			code:     metapb.ErrorCode_STALE,
			gcBefore: 1,
			wantGC:   []string{"d1:0=n1,1=n2,2=n3,", "d1:2=n4, shards_only"},
		},
		{
			name:     "deleted is stale",
			setup:    []*metapb.Command{deleteObject("b", "k", "", "")},
			cmd:      repair("b", "k", "null", "", 0, "d1", false, move(0, sp("n1"), sp("n4"), "")),
			code:     metapb.ErrorCode_STALE,
			gcBefore: 1,
			wantGC:   []string{"d1:0=n1,1=n2,2=n3,", "d1:0=n4, shards_only"},
		},
		{
			name:   "part of an upload in progress",
			cmd:    repair("b", "m", "", "u", 1, "p1", false, move(1, sp("n2"), sp("n6"), "x")),
			read:   "upload",
			want:   body{shards: []string{"n1", "n6", "n3"}, digests: []string{"", "x", ""}},
			wantGC: []string{"p1:1=n2, shards_only"},
		},
		{
			name:   "part of an aborted upload is stale",
			setup:  []*metapb.Command{abort("b", "m", "u")},
			cmd:    repair("b", "m", "", "u", 1, "p1", false, move(1, sp("n2"), sp("n6"), "x")),
			code:   metapb.ErrorCode_STALE,
			wantGC: []string{"p1:0=n1,1=n2,2=n3,", "p1:1=n6, shards_only"},
			// abort's entry
			gcBefore: 1,
		},
		{
			name:   "part of a completed version",
			cmd:    repair("b", "c", "null", "", 1, "c1", false, move(0, sp("n1"), sp("n7"), "")),
			read:   "completed",
			want:   body{shards: []string{"n7", "n2", "n3"}},
			wantGC: []string{"c1:0=n1, shards_only"},
		},
		{
			name:   "wrong part data ID is stale",
			cmd:    repair("b", "c", "null", "", 1, "zz", false, move(0, sp("n1"), sp("n7"), "")),
			code:   metapb.ErrorCode_STALE,
			read:   "completed",
			want:   body{shards: []string{"n1", "n2", "n3"}},
			wantGC: []string{"zz:0=n7, shards_only"},
		},
		{
			name: "index out of range",
			cmd:  repair("b", "k", "null", "", 0, "d1", false, move(3, sp("n3"), sp("n4"), "")),
			code: metapb.ErrorCode_INVALID_ARGUMENT,
			read: "version",
			want: body{shards: []string{"n1", "n2", "n3"}},
		},
		{
			name: "no moves",
			cmd:  repair("b", "k", "null", "", 0, "d1", false),
			code: metapb.ErrorCode_INVALID_ARGUMENT,
		},
		{
			name: "move without target",
			cmd:  repair("b", "k", "null", "", 0, "d1", false, move(0, sp("n1"), &metapb.ShardPlacement{}, "")),
			code: metapb.ErrorCode_INVALID_ARGUMENT,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_UNVERSIONED))
			h.mustApply(putObject("b", "k", "", "d1"))
			h.mustApply(createUpload("b", "m", "u", 1))
			h.mustApply(putPart("b", "m", "u", 1, "p1", 10))
			h.mustApply(createUpload("b", "c", "cu", 1))
			h.mustApply(putPart("b", "c", "cu", 1, "c1", 10))
			h.mustApply(complete("b", "c", "cu", "", 0, listedPart{1, "c1"}))
			for _, c := range tc.setup {
				h.mustApply(c)
			}
			require.Len(t, gcShards(t, h.f), tc.gcBefore)
			res := h.apply(tc.cmd)
			require.Equal(t, tc.code, res.Code, "result %v", res)
			for range tc.replays {
				require.Equal(t, metapb.ErrorCode_OK, h.apply(tc.cmd).Code)
			}
			if tc.code != metapb.ErrorCode_INVALID_ARGUMENT {
				require.Equal(t, tc.wantGC, gcShards(t, h.f))
			} else {
				require.Empty(t, gcShards(t, h.f))
			}
			var shards []*metapb.ShardPlacement
			var digests [][]byte
			var us bool
			switch tc.read {
			case "version":
				v, err := h.f.GetObject("b", "k", "null")
				require.NoError(t, err)
				cur, err := h.f.GetObject("b", "k", "")
				require.NoError(t, err)
				require.Equal(t, placementOf(v.Shards), placementOf(cur.Shards), "the current row follows the version")
				shards, digests, us = v.Shards, v.ShardDigests, v.UnderSpread
			case "upload":
				resp, err := h.f.GetMultipartUpload(&metapb.GetMultipartUploadRequest{Bucket: "b", Key: "m", UploadId: "u"})
				require.NoError(t, err)
				shards, digests = resp.Parts[0].Shards, resp.Parts[0].ShardDigests
			case "completed":
				v, err := h.f.GetObject("b", "c", "")
				require.NoError(t, err)
				shards, digests = v.Parts[0].Shards, v.Parts[0].ShardDigests
			default:
				return
			}
			require.Equal(t, tc.want.shards, placementOf(shards))
			var gotDigests []string
			for _, d := range digests {
				gotDigests = append(gotDigests, string(d))
			}
			require.Equal(t, tc.want.digests, gotDigests)
			require.Equal(t, tc.wantUS, us)
		})
	}
}

// TestRepairGCKeepsBody checks that acknowledging the GC entry of replaced
// shards keeps the body's commit record: the body is still live, and the
// orphan sweep must go on treating its shards as referenced.
func TestRepairGCKeepsBody(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_UNVERSIONED))
	h.mustApply(putObject("b", "k", "", "d1"))
	h.mustApply(repair("b", "k", "null", "", 0, "d1", false, move(0, sp("n1"), sp("n4"), "")))
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	h.mustApply(ackGC(gc[0].Seq))
	unknown, err := h.f.UnknownData([]string{"d1"})
	require.NoError(t, err)
	require.Empty(t, unknown, "a repaired body keeps its commit record")
	// The body's own GC entry, once it is deleted, still forgets it.
	h.mustApply(deleteObject("b", "k", "", ""))
	gc, err = h.f.PendingGC(0)
	require.NoError(t, err)
	require.Len(t, gc, 1)
	require.Equal(t, "n4", gc[0].Shards[0].NodeId, "GC deletes the repaired placement")
	h.mustApply(ackGC(gc[0].Seq))
	unknown, err = h.f.UnknownData([]string{"d1"})
	require.NoError(t, err)
	require.Equal(t, []string{"d1"}, unknown)
}

func TestSetHealPaused(t *testing.T) {
	h := newHarness(t)
	paused, err := h.f.HealPaused()
	require.NoError(t, err)
	require.False(t, paused)
	for _, want := range []bool{true, true, false, true} {
		h.mustApply(&metapb.Command{Op: &metapb.Command_SetHealPaused{SetHealPaused: &metapb.SetHealPaused{Paused: want}}})
		paused, err := h.f.HealPaused()
		require.NoError(t, err)
		require.Equal(t, want, paused)
	}
	h.reopen()
	paused, err = h.f.HealPaused()
	require.NoError(t, err)
	require.True(t, paused, "the pause survives a restart")
}

// TestScanBodies pages through every body: versions' own bodies, parts of
// completed versions and of uploads in progress; delete markers and empty
// bodies are skipped, and every page is bounded.
func TestScanBodies(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("a", "o", metapb.VersioningState_VERSIONING_ENABLED))
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_UNVERSIONED))
	want := map[string]string{}
	for i := range 7 {
		id := fmt.Sprintf("a%d", i)
		h.mustApply(putObject("a", fmt.Sprintf("k%d", i%3), fmt.Sprintf("v%d", i), id))
		want[id] = fmt.Sprintf("a/k%d v%d part 0", i%3, i)
	}
	h.mustApply(deleteObject("a", "k0", "", "marker"))
	h.mustApply(putObject("b", "x", "", "bx"))
	want["bx"] = "b/x null part 0"
	h.mustApply(createUpload("b", "m", "u", 1))
	h.mustApply(putPart("b", "m", "u", 1, "p1", 10))
	h.mustApply(putPart("b", "m", "u", 2, "p2", 10))
	want["p1"], want["p2"] = "b/m upload u part 1", "b/m upload u part 2"
	h.mustApply(createUpload("b", "c", "cu", 1))
	h.mustApply(putPart("b", "c", "cu", 1, "c1", 10))
	h.mustApply(putPart("b", "c", "cu", 2, "c2", 10))
	h.mustApply(complete("b", "c", "cu", "", 0, listedPart{1, "c1"}, listedPart{2, "c2"}))
	want["c1"], want["c2"] = "b/c null part 1", "b/c null part 2"

	for _, page := range []int{1, 2, 3, 1000} {
		t.Run(fmt.Sprint(page), func(t *testing.T) {
			got := map[string]string{}
			var cursor []byte
			for calls := 0; ; calls++ {
				require.Less(t, calls, 100)
				bodies, next, err := h.f.ScanBodies(cursor, page)
				require.NoError(t, err)
				for _, b := range bodies {
					_, dup := got[b.DataID]
					require.False(t, dup, "body %s twice", b.DataID)
					where := fmt.Sprintf("%s/%s %s part %d", b.Bucket, b.Key, b.VersionID, b.PartNumber)
					if b.UploadID != "" {
						where = fmt.Sprintf("%s/%s upload %s part %d", b.Bucket, b.Key, b.UploadID, b.PartNumber)
					}
					got[b.DataID] = where
					require.Len(t, b.Shards, 3)
					require.EqualValues(t, 2, b.Profile.GetDataShards())
				}
				if next == nil {
					break
				}
				cursor = next
			}
			require.Equal(t, want, got)
		})
	}
}

func TestLocateBody(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
	h.mustApply(putObject("b", "k", "v1", "d1"))
	h.mustApply(putObject("b", "k", "v2", "d2"))
	h.mustApply(createUpload("b", "m", "u", 1))
	h.mustApply(putPart("b", "m", "u", 1, "p1", 10))
	h.mustApply(createUpload("b", "c", "cu", 1))
	h.mustApply(putPart("b", "c", "cu", 3, "c3", 10))
	h.mustApply(complete("b", "c", "cu", "vc", 0, listedPart{3, "c3"}))
	h.mustApply(deleteObject("b", "k", "v1", ""))
	cases := []struct {
		id    string
		found bool
		where string
	}{
		{"d1", false, ""},
		{"d2", true, "b/k v2  0"},
		{"p1", true, "b/m  u 1"},
		{"c3", true, "b/c vc  3"},
		{"never", false, ""},
		{"", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			b, found, err := h.f.LocateBody(tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.found, found)
			if found {
				require.Equal(t, tc.id, b.DataID)
				require.Equal(t, tc.where, fmt.Sprintf("%s/%s %s %s %d", b.Bucket, b.Key, b.VersionID, b.UploadID, b.PartNumber))
			}
		})
	}
}
