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

// listModel is ListObjects over a sorted slice, written for clarity.
func listModel(sorted []string, prefix, delim, after string, maxKeys int) (objs, cps []string, truncated bool, next string) {
	limit := maxKeys
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	rollup := func(k string) (string, bool) {
		if delim == "" {
			return "", false
		}
		rem := k[len(prefix):]
		if i := strings.Index(rem, delim); i >= 0 {
			return prefix + rem[:i+len(delim)], true
		}
		return "", false
	}
	skip := ""
	if strings.HasPrefix(after, prefix) {
		if cp, ok := rollup(after); ok && cp == after {
			skip = after
		}
	}
	type entry struct {
		name string
		cp   bool
	}
	var entries []entry
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) || k <= after || (skip != "" && strings.HasPrefix(k, skip)) {
			continue
		}
		if cp, ok := rollup(k); ok {
			if len(entries) > 0 && entries[len(entries)-1] == (entry{cp, true}) {
				continue
			}
			entries = append(entries, entry{cp, true})
			continue
		}
		entries = append(entries, entry{k, false})
	}
	if len(entries) > limit {
		truncated = true
		entries = entries[:limit]
		next = entries[limit-1].name
	}
	for _, e := range entries {
		if e.cp {
			cps = append(cps, e.name)
		} else {
			objs = append(objs, e.name)
		}
	}
	return objs, cps, truncated, next
}

var listAlphabet = []string{"a", "b", "/", "//", "\x00", "é", "日", "-", "~", "a/"}

func randKey(r *rand.Rand, maxParts int) string {
	var sb strings.Builder
	for n := 1 + r.IntN(maxParts); n > 0; n-- {
		sb.WriteString(listAlphabet[r.IntN(len(listAlphabet))])
	}
	return sb.String()
}

func TestListObjectsModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))

	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	// Neighbouring buckets whose encodings are close to "b"'s must not leak in.
	h.mustApply(createBucket("b\x00", "o", unversioned))
	h.mustApply(createBucket("ba", "o", unversioned))
	h.mustApply(putObject("b\x00", "a", "null", "x0"))
	h.mustApply(putObject("ba", "a", "null", "x"))

	set := map[string]bool{}
	for range 400 {
		k := randKey(r, 5)
		set[k] = true
		h.mustApply(putObject("b", k, "null", "d-"+k))
	}
	// Some deletions, so the model set differs from everything ever written.
	for k := range set {
		if r.IntN(5) == 0 {
			delete(set, k)
			h.mustApply(deleteObject("b", k, "", ""))
		}
	}
	sorted := make([]string, 0, len(set))
	for k := range set {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)

	delims := []string{"", "/", "a", "//", "\x00", "é"}
	for i := range 300 {
		prefix := ""
		if r.IntN(2) == 0 {
			prefix = randKey(r, 2)
		}
		delim := delims[r.IntN(len(delims))]
		after := ""
		switch r.IntN(4) {
		case 0:
			after = randKey(r, 3)
		case 1:
			after = sorted[r.IntN(len(sorted))]
		case 2:
			if cp, ok := commonPrefix(sorted[r.IntN(len(sorted))], prefix, delim); ok {
				after = cp
			}
		}
		maxKeys := []int{0, 1, 2, 3, 7, 50, 2000}[r.IntN(7)]
		name := fmt.Sprintf("%d prefix=%q delim=%q after=%q max=%d", i, prefix, delim, after, maxKeys)

		wantAllObjs, wantAllCPs, _, _ := listModel(sorted, prefix, delim, after, 1<<30)
		var gotAllObjs, gotAllCPs []string
		for page := 0; ; page++ {
			require.Less(t, page, 1000, name)
			resp, err := h.f.ListObjects(&metapb.ListObjectsRequest{
				Bucket: "b", Prefix: prefix, Delimiter: delim, StartAfter: after, MaxKeys: uint32(maxKeys),
			})
			require.NoError(t, err, name)
			objs, cps, truncated, next := listModel(sorted, prefix, delim, after, maxKeys)
			var gotObjs []string
			for _, o := range resp.Objects {
				require.Equal(t, "b", o.Bucket)
				require.Equal(t, "d-"+o.Key, o.DataId)
				gotObjs = append(gotObjs, o.Key)
			}
			require.Equal(t, objs, gotObjs, "%s page %d", name, page)
			require.Equal(t, cps, resp.CommonPrefixes, "%s page %d", name, page)
			require.Equal(t, truncated, resp.Truncated, "%s page %d", name, page)
			require.Equal(t, next, resp.NextStartAfter, "%s page %d", name, page)
			gotAllObjs = append(gotAllObjs, gotObjs...)
			gotAllCPs = append(gotAllCPs, resp.CommonPrefixes...)
			if !resp.Truncated {
				break
			}
			after = resp.NextStartAfter
		}
		require.Equal(t, wantAllObjs, gotAllObjs, "%s: pages joined", name)
		require.Equal(t, wantAllCPs, gotAllCPs, "%s: pages joined", name)
	}
}

func TestListObjectsCases(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	for _, k := range []string{"a", "a/1", "a/2", "a/b/1", "b", "c/1", "c/2", "d"} {
		h.mustApply(putObject("b", k, "null", "d-"+k))
	}
	tests := []struct {
		name      string
		req       *metapb.ListObjectsRequest
		objs, cps []string
		truncated bool
		next      string
	}{
		{"all", &metapb.ListObjectsRequest{}, []string{"a", "a/1", "a/2", "a/b/1", "b", "c/1", "c/2", "d"}, nil, false, ""},
		{"delimiter", &metapb.ListObjectsRequest{Delimiter: "/"}, []string{"a", "b", "d"}, []string{"a/", "c/"}, false, ""},
		{"prefix and delimiter", &metapb.ListObjectsRequest{Prefix: "a/", Delimiter: "/"}, []string{"a/1", "a/2"}, []string{"a/b/"}, false, ""},
		{"page of two", &metapb.ListObjectsRequest{Delimiter: "/", MaxKeys: 2}, []string{"a"}, []string{"a/"}, true, "a/"},
		{"after common prefix", &metapb.ListObjectsRequest{Delimiter: "/", StartAfter: "a/", MaxKeys: 2}, []string{"b"}, []string{"c/"}, true, "c/"},
		{"after key inside prefix", &metapb.ListObjectsRequest{Delimiter: "/", StartAfter: "a/1"}, []string{"b", "d"}, []string{"a/", "c/"}, false, ""},
		{"after before prefix", &metapb.ListObjectsRequest{Prefix: "c/", StartAfter: "a"}, []string{"c/1", "c/2"}, nil, false, ""},
		{"after past prefix", &metapb.ListObjectsRequest{Prefix: "c/", StartAfter: "c/9"}, nil, nil, false, ""},
		{"exact last page", &metapb.ListObjectsRequest{Prefix: "c/", MaxKeys: 2}, []string{"c/1", "c/2"}, nil, false, ""},
		{"no match", &metapb.ListObjectsRequest{Prefix: "zz"}, nil, nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Bucket = "b"
			resp, err := h.f.ListObjects(tc.req)
			require.NoError(t, err)
			var objs []string
			for _, o := range resp.Objects {
				objs = append(objs, o.Key)
			}
			require.Equal(t, tc.objs, objs)
			require.Equal(t, tc.cps, resp.CommonPrefixes)
			require.Equal(t, tc.truncated, resp.Truncated)
			require.Equal(t, tc.next, resp.NextStartAfter)
		})
	}
}

// TestListObjectsCostFollowsPage checks that keys under a common prefix are
// skipped by seeking, not visited.
func TestListObjectsCostFollowsPage(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	const n = 3000
	for i := 0; i < n; i += 500 {
		var logs []*raft.Log
		for j := i; j < i+500; j++ {
			logs = append(logs, h.log(putObject("b", fmt.Sprintf("big/%05d", j), "null", fmt.Sprintf("db%d", j))))
			logs = append(logs, h.log(putObject("b", fmt.Sprintf("huge/%05d", j), "null", fmt.Sprintf("dh%d", j))))
		}
		for _, res := range h.f.ApplyBatch(logs) {
			require.Equal(t, metapb.ErrorCode_OK, res.(*metapb.CommandResult).Code)
		}
	}
	h.mustApply(putObject("b", "top", "null", "dt"))

	db, err := h.f.acquire()
	require.NoError(t, err)
	defer h.f.mu.RUnlock()
	resp, visited, err := listObjects(db, &metapb.ListObjectsRequest{Bucket: "b", Delimiter: "/"})
	require.NoError(t, err)
	require.Equal(t, []string{"big/", "huge/"}, resp.CommonPrefixes)
	require.Len(t, resp.Objects, 1)
	require.Equal(t, 3, visited)

	resp, visited, err = listObjects(db, &metapb.ListObjectsRequest{Bucket: "b", Prefix: "big/", MaxKeys: 10})
	require.NoError(t, err)
	require.Len(t, resp.Objects, 10)
	require.True(t, resp.Truncated)
	require.Equal(t, 11, visited, "one row past the page tells that more remain")
}
