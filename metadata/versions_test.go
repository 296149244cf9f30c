package metadata

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// modelVersion is one row of the version listing model.
type modelVersion struct {
	key, id string
	marker  bool
}

// versionsModel is ListObjectVersions over rows sorted by key, newest
// first within a key, written for clarity.
func versionsModel(rows []modelVersion, prefix, delim, keyMarker, vidMarker string, maxKeys int) (out []string, cps []string, truncated bool, nextKey, nextVID string) {
	limit := maxKeys
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	skipCP := ""
	if cp, ok := commonPrefix(keyMarker, prefix, delim); ok && cp == keyMarker {
		skipCP = keyMarker
	}
	type entry struct {
		name, id string
		cp       bool
	}
	var entries []entry
	pastMarker := keyMarker == "" || skipCP != "" || vidMarker == ""
	for i, r := range rows {
		if !strings.HasPrefix(r.key, prefix) {
			continue
		}
		switch {
		case skipCP != "":
			if r.key <= keyMarker || strings.HasPrefix(r.key, skipCP) {
				continue
			}
		case keyMarker != "" && vidMarker != "":
			if r.key < keyMarker {
				continue
			}
			if r.key == keyMarker {
				if !pastMarker {
					pastMarker = r.id == vidMarker
					continue
				}
			}
		case keyMarker != "":
			if r.key <= keyMarker {
				continue
			}
		}
		latest := i == 0 || rows[i-1].key != r.key
		if cp, ok := commonPrefix(r.key, prefix, delim); ok {
			if len(entries) > 0 && entries[len(entries)-1].cp && entries[len(entries)-1].name == cp {
				continue
			}
			entries = append(entries, entry{name: cp, cp: true})
			continue
		}
		name := fmt.Sprintf("%s@%s", r.key, r.id)
		if r.marker {
			name += "(marker)"
		}
		if latest {
			name += "(latest)"
		}
		entries = append(entries, entry{name: name, id: r.id})
	}
	if len(entries) > limit {
		truncated = true
		entries = entries[:limit]
		last := entries[limit-1]
		if last.cp {
			nextKey = last.name
		} else {
			nextKey, nextVID = strings.SplitN(last.name, "@", 2)[0], last.id
		}
	}
	for _, e := range entries {
		if e.cp {
			cps = append(cps, e.name)
		} else {
			out = append(out, e.name)
		}
	}
	return out, cps, truncated, nextKey, nextVID
}

func versionNames(vs []*metapb.ObjectVersion) []string {
	var out []string
	for _, v := range vs {
		name := fmt.Sprintf("%s@%s", v.Key, v.VersionId)
		if v.DeleteMarker {
			name += "(marker)"
		}
		if v.IsLatest {
			name += "(latest)"
		}
		out = append(out, name)
	}
	return out
}

func TestListObjectVersionsCases(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", enabled))
	h.mustApply(putObject("b", "a", "a1", "d-a1"))
	h.mustApply(putObject("b", "a", "a2", "d-a2"))
	h.mustApply(deleteObject("b", "a", "", "a3"))
	h.mustApply(putObject("b", "d/1", "d1", "d-d1"))
	h.mustApply(putObject("b", "d/2", "d2", "d-d2"))
	h.mustApply(putObject("b", "e", "e1", "d-e1"))
	h.mustApply(updateVersioning("b", suspended))
	h.mustApply(putObject("b", "e", "ignored", "d-e2"))
	h.mustApply(putObject("b", "f", "ignored", "d-f"))

	tests := []struct {
		name             string
		req              *metapb.ListObjectVersionsRequest
		versions, cps    []string
		truncated        bool
		nextKey, nextVID string
	}{
		{"all", &metapb.ListObjectVersionsRequest{},
			[]string{"a@a3(marker)(latest)", "a@a2", "a@a1", "d/1@d1(latest)", "d/2@d2(latest)", "e@null(latest)", "e@e1", "f@null(latest)"}, nil, false, "", ""},
		{"delimiter", &metapb.ListObjectVersionsRequest{Delimiter: "/"},
			[]string{"a@a3(marker)(latest)", "a@a2", "a@a1", "e@null(latest)", "e@e1", "f@null(latest)"}, []string{"d/"}, false, "", ""},
		{"page ends inside a key", &metapb.ListObjectVersionsRequest{MaxKeys: 2},
			[]string{"a@a3(marker)(latest)", "a@a2"}, nil, true, "a", "a2"},
		{"continue inside a key", &metapb.ListObjectVersionsRequest{KeyMarker: "a", VersionIdMarker: "a2", MaxKeys: 2},
			[]string{"a@a1", "d/1@d1(latest)"}, nil, true, "d/1", "d1"},
		{"key marker skips all versions of the key", &metapb.ListObjectVersionsRequest{KeyMarker: "a", MaxKeys: 1},
			[]string{"d/1@d1(latest)"}, nil, true, "d/1", "d1"},
		{"page ends on a common prefix", &metapb.ListObjectVersionsRequest{Delimiter: "/", KeyMarker: "a", MaxKeys: 1},
			nil, []string{"d/"}, true, "d/", ""},
		{"continue after a common prefix", &metapb.ListObjectVersionsRequest{Delimiter: "/", KeyMarker: "d/"},
			[]string{"e@null(latest)", "e@e1", "f@null(latest)"}, nil, false, "", ""},
		{"null version marker", &metapb.ListObjectVersionsRequest{KeyMarker: "e", VersionIdMarker: "null"},
			[]string{"e@e1", "f@null(latest)"}, nil, false, "", ""},
		{"prefix", &metapb.ListObjectVersionsRequest{Prefix: "d/"},
			[]string{"d/1@d1(latest)", "d/2@d2(latest)"}, nil, false, "", ""},
		{"exact last page", &metapb.ListObjectVersionsRequest{Prefix: "d/", MaxKeys: 2},
			[]string{"d/1@d1(latest)", "d/2@d2(latest)"}, nil, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Bucket = "b"
			resp, err := h.f.ListObjectVersions(tc.req)
			require.NoError(t, err)
			require.Equal(t, tc.versions, versionNames(resp.Versions))
			require.Equal(t, tc.cps, resp.CommonPrefixes)
			require.Equal(t, tc.truncated, resp.Truncated)
			require.Equal(t, tc.nextKey, resp.NextKeyMarker)
			require.Equal(t, tc.nextVID, resp.NextVersionIdMarker)
		})
	}

	t.Run("unknown version marker", func(t *testing.T) {
		_, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b", KeyMarker: "a", VersionIdMarker: "nope"})
		require.ErrorIs(t, err, ErrBadVersionMarker)
	})
	t.Run("missing bucket", func(t *testing.T) {
		_, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "nope"})
		require.ErrorIs(t, err, ErrNoSuchBucket)
	})
}

func updateVersioning(bucket string, vs metapb.VersioningState) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: bucket, Versioning: vs}, Fields: []string{"versioning"},
	}}}
}

func TestListObjectVersionsModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))

	h := newHarness(t)
	h.mustApply(createBucket("b", "o", enabled))
	h.mustApply(createBucket("ba", "o", enabled))
	h.mustApply(putObject("ba", "a", "x", "x"))

	// versions[key] lists version IDs, oldest first.
	versions := map[string][]modelVersion{}
	for i := range 600 {
		k := randKey(r, 4)
		id := fmt.Sprintf("v%04d", i)
		if r.IntN(4) == 0 && len(versions[k]) > 0 {
			h.mustApply(deleteObject("b", k, "", id))
			versions[k] = append(versions[k], modelVersion{key: k, id: id, marker: true})
			continue
		}
		h.mustApply(putObject("b", k, id, "d-"+id))
		versions[k] = append(versions[k], modelVersion{key: k, id: id})
	}
	// Permanently delete some versions.
	for k, vs := range versions {
		if len(vs) > 1 && r.IntN(3) == 0 {
			j := r.IntN(len(vs))
			h.mustApply(deleteObject("b", k, vs[j].id, ""))
			versions[k] = slices.Delete(vs, j, j+1)
		}
	}
	var rows []modelVersion
	ks := make([]string, 0, len(versions))
	for k := range versions {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		vs := slices.Clone(versions[k])
		slices.Reverse(vs)
		rows = append(rows, vs...)
	}

	delims := []string{"", "/", "a", "//", "\x00", "é"}
	for i := range 300 {
		prefix := ""
		if r.IntN(2) == 0 {
			prefix = randKey(r, 2)
		}
		delim := delims[r.IntN(len(delims))]
		keyMarker, vidMarker := "", ""
		switch r.IntN(4) {
		case 0:
			keyMarker = randKey(r, 3)
		case 1:
			row := rows[r.IntN(len(rows))]
			keyMarker, vidMarker = row.key, row.id
		case 2:
			keyMarker = rows[r.IntN(len(rows))].key
		}
		maxKeys := []int{0, 1, 2, 3, 7, 50, 2000}[r.IntN(7)]
		name := fmt.Sprintf("%d prefix=%q delim=%q key-marker=%q vid-marker=%q max=%d", i, prefix, delim, keyMarker, vidMarker, maxKeys)

		wantAll, wantAllCPs, _, _, _ := versionsModel(rows, prefix, delim, keyMarker, vidMarker, 1<<30)
		var gotAll, gotAllCPs []string
		for page := 0; ; page++ {
			require.Less(t, page, 1000, name)
			resp, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{
				Bucket: "b", Prefix: prefix, Delimiter: delim, KeyMarker: keyMarker, VersionIdMarker: vidMarker, MaxKeys: uint32(maxKeys),
			})
			require.NoError(t, err, name)
			out, cps, truncated, nextKey, nextVID := versionsModel(rows, prefix, delim, keyMarker, vidMarker, maxKeys)
			got := versionNames(resp.Versions)
			require.Equal(t, out, got, "%s page %d", name, page)
			require.Equal(t, cps, resp.CommonPrefixes, "%s page %d", name, page)
			require.Equal(t, truncated, resp.Truncated, "%s page %d", name, page)
			require.Equal(t, nextKey, resp.NextKeyMarker, "%s page %d", name, page)
			require.Equal(t, nextVID, resp.NextVersionIdMarker, "%s page %d", name, page)
			gotAll = append(gotAll, got...)
			gotAllCPs = append(gotAllCPs, resp.CommonPrefixes...)
			if !resp.Truncated {
				break
			}
			keyMarker, vidMarker = resp.NextKeyMarker, resp.NextVersionIdMarker
		}
		// Paging never changes what is latest: the joined pages equal one
		// unbounded listing, except that a version continued into is
		// already known not to be the latest.
		require.Equal(t, wantAll, gotAll, "%s: pages joined", name)
		require.Equal(t, wantAllCPs, gotAllCPs, "%s: pages joined", name)
	}
}

// TestListObjectVersionsCostFollowsPage checks that a page costs its own
// size: rolled-up keys are skipped by seeking, and the markers are reached
// with a seek, not a walk.
func TestListObjectVersionsCostFollowsPage(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", enabled))
	var logs []*raft.Log
	for j := range 2000 {
		logs = append(logs, h.log(putObject("b", fmt.Sprintf("big/%05d", j), fmt.Sprintf("v%d", j), fmt.Sprintf("db%d", j))))
		logs = append(logs, h.log(putObject("b", "many", fmt.Sprintf("m%05d", j), fmt.Sprintf("dm%d", j))))
	}
	for _, res := range h.f.ApplyBatch(logs) {
		require.Equal(t, metapb.ErrorCode_OK, res.(*metapb.CommandResult).Code)
	}
	h.mustApply(putObject("b", "top", "t1", "dt"))

	db, err := h.f.acquire()
	require.NoError(t, err)
	defer h.f.mu.RUnlock()
	resp, visited, err := listVersions(db, &metapb.ListObjectVersionsRequest{Bucket: "b", Delimiter: "/", MaxKeys: 3})
	require.NoError(t, err)
	require.Equal(t, []string{"big/"}, resp.CommonPrefixes)
	require.Len(t, resp.Versions, 2)
	require.Equal(t, 4, visited, "one row per entry plus one past the page")

	resp, visited, err = listVersions(db, &metapb.ListObjectVersionsRequest{Bucket: "b", KeyMarker: "many", VersionIdMarker: "m01000", MaxKeys: 10})
	require.NoError(t, err)
	require.Equal(t, "m00999", resp.Versions[0].VersionId)
	require.False(t, resp.Versions[0].IsLatest)
	require.Equal(t, 11, visited)
}
