package metadata

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// scaleKey is the i-th key of a large test bucket: 100 top directories of
// 10 sub-directories of 100 keys each per 100,000, plus flat keys in
// between so that a delimiter listing mixes keys and common prefixes.
func scaleKey(i int) string {
	if i%50 == 0 {
		return fmt.Sprintf("d%03d.%05d", i/1000, i)
	}
	return fmt.Sprintf("d%03d/s%02d/k%05d", i/1000, (i/100)%10, i)
}

// scaleVersions is what fillBucket writes, in commit order: n keys of which
// every seventh gets a second version and every eleventh a delete marker
// on top. It also returns the keys whose current version is an object,
// sorted.
func scaleVersions(bucket string, n int) (vs []*metapb.ObjectVersion, current []string) {
	for i := range n {
		k := scaleKey(i)
		vs = append(vs, scaleVersion(bucket, k, "v1"))
		if i%7 == 0 {
			vs = append(vs, scaleVersion(bucket, k, "v2"))
		}
		if i%11 == 0 {
			vs = append(vs, &metapb.ObjectVersion{Bucket: bucket, Key: k, VersionId: "m", DeleteMarker: true, MtimeUnixNano: 200})
		} else {
			current = append(current, k)
		}
	}
	slices.Sort(current)
	return vs, current
}

func scaleVersion(bucket, key, id string) *metapb.ObjectVersion {
	return putObject(bucket, key, id, "d-"+key+"-"+id).GetPutObject().GetVersion()
}

// asCommand is the command that makes v through Apply.
func asCommand(v *metapb.ObjectVersion) *metapb.Command {
	if v.DeleteMarker {
		return deleteObject(v.Bucket, v.Key, "", v.VersionId)
	}
	return &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: proto.CloneOf(v)}}}
}

// fillBucket creates a versioning-enabled bucket holding scaleVersions(n),
// written with bulkLoad, and returns its current keys.
func fillBucket(tb testing.TB, h *harness, bucket string, n int) []string {
	tb.Helper()
	h.mustApply(createBucket(bucket, "o", enabled))
	vs, current := scaleVersions(bucket, n)
	bulkLoad(tb, h.f, vs)
	return current
}

// bulkLoad writes new versions (IDs not yet used by their key) in commit
// order straight into the FSM's database, with the rows and sequence
// numbers Apply would give them, in large unsynced batches. It builds
// large test buckets fast; TestBulkLoadMatchesApply keeps it honest.
func bulkLoad(tb testing.TB, f *FSM, vs []*metapb.ObjectVersion) {
	tb.Helper()
	db, err := f.acquire()
	require.NoError(tb, err)
	defer f.mu.RUnlock()
	seq, _, err := getUint64(db, keys.SystemKey(keys.SysSeq))
	require.NoError(tb, err)
	b := db.NewBatch()
	set := func(k []byte, m proto.Message) {
		v, err := encodeValue(m)
		require.NoError(tb, err)
		require.NoError(tb, b.Set(k, v, nil))
	}
	for i, v := range vs {
		seq++
		v.Seq = seq
		set(keys.VersionKey(v.Bucket, v.Key, seq), v)
		require.NoError(tb, b.Set(keys.VersionIndexKey(v.Bucket, v.Key, v.VersionId), uint64Value(seq), nil))
		if v.DataId != "" {
			set(keys.BodyKey(v.DataId), commitStub(v))
		}
		if v.DeleteMarker {
			require.NoError(tb, b.Delete(keys.ObjectKey(v.Bucket, v.Key), nil))
		} else {
			set(keys.ObjectKey(v.Bucket, v.Key), v)
		}
		if b.Len() > 16<<20 || i == len(vs)-1 {
			require.NoError(tb, b.Set(keys.SystemKey(keys.SysSeq), uint64Value(seq), nil))
			require.NoError(tb, b.Commit(pebble.NoSync))
			b = db.NewBatch()
		}
	}
	require.NoError(tb, b.Close())
}

// TestBulkLoadMatchesApply checks that bulkLoad leaves what Apply leaves:
// the same listings and reads.
func TestBulkLoadMatchesApply(t *testing.T) {
	const n = 3000
	applied, loaded := newHarness(t), newHarness(t)
	vs, _ := scaleVersions("b", n)
	applied.mustApply(createBucket("b", "o", enabled))
	for _, v := range vs {
		applied.mustApply(asCommand(v))
	}
	fillBucket(t, loaded, "b", n)

	view := func(f *FSM) string {
		var sb strings.Builder
		for _, delim := range []string{"", "/"} {
			after := ""
			for {
				resp, err := f.ListObjects(&metapb.ListObjectsRequest{Bucket: "b", Delimiter: delim, StartAfter: after})
				require.NoError(t, err)
				fmt.Fprintln(&sb, resp)
				if !resp.Truncated {
					break
				}
				after = resp.NextStartAfter
			}
			km, vm := "", ""
			for {
				resp, err := f.ListObjectVersions(&metapb.ListObjectVersionsRequest{Bucket: "b", Delimiter: delim, KeyMarker: km, VersionIdMarker: vm})
				require.NoError(t, err)
				fmt.Fprintln(&sb, resp)
				if !resp.Truncated {
					break
				}
				km, vm = resp.NextKeyMarker, resp.NextVersionIdMarker
			}
		}
		for i := 0; i < n; i += 97 {
			v, err := f.GetObject("b", scaleKey(i), "v1")
			fmt.Fprintln(&sb, v, err)
		}
		return sb.String()
	}
	require.Equal(t, view(applied.f), view(loaded.f))
}

// rollup is the entry key shows as in a listing: itself or its common
// prefix.
func rollup(key, prefix, delim string) (string, bool) {
	if cp, ok := commonPrefix(key, prefix, delim); ok {
		return cp, true
	}
	return key, false
}

// TestListingAtScale builds a bucket of 100,000 keys directly through the
// FSM and pages it with every combination of prefix, delimiter,
// start-after and page size, following the continuation each page gives.
// The pages joined must equal the sorted model, each page but the last
// must be full, and the same holds for the version listing.
func TestListingAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-key bucket")
	}
	const n = 100_000
	h := newHarness(t)
	start := time.Now()
	current := fillBucket(t, h, "b", n)
	t.Logf("filled in %v", time.Since(start))

	// allVersions is the model of the version table: every key, newest
	// version first.
	type row struct{ key, id string }
	var allVersions []row
	for i := range n {
		k := scaleKey(i)
		if i%11 == 0 {
			allVersions = append(allVersions, row{k, "m"})
		}
		if i%7 == 0 {
			allVersions = append(allVersions, row{k, "v2"})
		}
		allVersions = append(allVersions, row{k, "v1"})
	}
	slices.SortStableFunc(allVersions, func(a, b row) int { return strings.Compare(a.key, b.key) })

	prefixes := []string{"", "d042/", "d042/s07/", "d042/s07/k4270", "d09", "zzz"}
	delims := []string{"", "/", "s0"}
	afters := []string{"", "d042/s03/k42345", "d042/", "d042/s05/", "d050", "d099/s09/k99999"}
	pageSizes := []int{1000, 377}
	for _, prefix := range prefixes {
		for _, delim := range delims {
			for _, after := range afters {
				// The model: keys after start-after (a start-after that is
				// itself a common prefix also skips everything under it),
				// rolled up.
				skip := ""
				if cp, ok := commonPrefix(after, prefix, delim); ok && cp == after {
					skip = after
				}
				var want []string
				isCP := map[string]bool{}
				for _, k := range current {
					if !strings.HasPrefix(k, prefix) || k <= after || (skip != "" && strings.HasPrefix(k, skip)) {
						continue
					}
					e, cp := rollup(k, prefix, delim)
					if len(want) > 0 && want[len(want)-1] == e {
						continue
					}
					want = append(want, e)
					isCP[e] = cp
				}
				for _, size := range pageSizes {
					name := fmt.Sprintf("prefix=%q delim=%q after=%q max=%d", prefix, delim, after, size)
					var got []string
					start := after
					for page := 0; ; page++ {
						require.LessOrEqual(t, page, n/size+1, name)
						resp, err := h.f.ListObjects(&metapb.ListObjectsRequest{
							Bucket: "b", Prefix: prefix, Delimiter: delim, StartAfter: start, MaxKeys: uint32(size),
						})
						require.NoError(t, err, name)
						// Merge objects and prefixes back into listing order.
						pageEntries := make([]string, 0, len(resp.Objects)+len(resp.CommonPrefixes))
						for _, o := range resp.Objects {
							pageEntries = append(pageEntries, o.Key)
						}
						pageEntries = append(pageEntries, resp.CommonPrefixes...)
						slices.Sort(pageEntries)
						for _, e := range pageEntries {
							require.Equal(t, isCP[e], slices.Contains(resp.CommonPrefixes, e), "%s: %q", name, e)
						}
						got = append(got, pageEntries...)
						if !resp.Truncated {
							break
						}
						require.Len(t, pageEntries, size, "%s page %d: a truncated page is full", name, page)
						require.Equal(t, pageEntries[len(pageEntries)-1], resp.NextStartAfter, name)
						start = resp.NextStartAfter
					}
					require.Equal(t, want, got, name)
				}
			}

			// The version listing of the same bucket, paged by its markers.
			var wantV []string
			lastKey := ""
			for _, r := range allVersions {
				if !strings.HasPrefix(r.key, prefix) {
					continue
				}
				e, cp := rollup(r.key, prefix, delim)
				if cp {
					if len(wantV) == 0 || wantV[len(wantV)-1] != e {
						wantV = append(wantV, e)
					}
					continue
				}
				latest := ""
				if r.key != lastKey {
					latest = "(latest)"
				}
				lastKey = r.key
				wantV = append(wantV, r.key+"@"+r.id+latest)
			}
			name := fmt.Sprintf("versions prefix=%q delim=%q", prefix, delim)
			var gotV []string
			keyMarker, vidMarker := "", ""
			for page := 0; ; page++ {
				require.LessOrEqual(t, page, 2*n/1000+1, name)
				resp, err := h.f.ListObjectVersions(&metapb.ListObjectVersionsRequest{
					Bucket: "b", Prefix: prefix, Delimiter: delim, KeyMarker: keyMarker, VersionIdMarker: vidMarker,
				})
				require.NoError(t, err, name)
				var pageEntries []string
				for _, v := range resp.Versions {
					e := v.Key + "@" + v.VersionId
					if v.IsLatest {
						e += "(latest)"
					}
					require.Equal(t, v.VersionId == "m", v.DeleteMarker, name)
					pageEntries = append(pageEntries, e)
				}
				pageEntries = append(pageEntries, resp.CommonPrefixes...)
				slices.SortStableFunc(pageEntries, func(a, b string) int {
					ka, _, _ := strings.Cut(a, "@")
					kb, _, _ := strings.Cut(b, "@")
					return strings.Compare(ka, kb)
				})
				gotV = append(gotV, pageEntries...)
				if !resp.Truncated {
					break
				}
				require.Len(t, pageEntries, 1000, "%s page %d", name, page)
				keyMarker, vidMarker = resp.NextKeyMarker, resp.NextVersionIdMarker
			}
			require.Equal(t, wantV, gotV, name)
		}
	}
}
