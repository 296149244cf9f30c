package lifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fsmStore serves the worker from a real state machine.
type fsmStore struct{ c *metatest.Client }

func (s fsmStore) ListBuckets(context.Context) ([]*metapb.Bucket, error) {
	return s.c.FSM.ListBuckets()
}
func (s fsmStore) ListObjectVersions(_ context.Context, req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	return s.c.FSM.ListObjectVersions(req)
}
func (s fsmStore) Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	resp, err := s.c.Propose(ctx, &metapb.ProposeRequest{Command: cmd})
	return resp.GetResult(), err
}

const day = time.Hour

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	store fsmStore
	seq   int
}

func newEnv(t *testing.T) *env { return &env{t: t, store: fsmStore{metatest.New(t)}} }

func (e *env) apply(cmd *metapb.Command) *metapb.CommandResult {
	e.t.Helper()
	res, err := e.store.Propose(context.Background(), cmd)
	require.NoError(e.t, err)
	return res
}

func (e *env) bucket(name string, vs metapb.VersioningState, lock bool, rules ...*metapb.LifecycleRule) {
	e.t.Helper()
	res := e.apply(&metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: &metapb.Bucket{Name: name, Owner: "o", Versioning: vs, CreatedUnixNano: 1, ObjectLockEnabled: lock},
	}}})
	require.Equal(e.t, metapb.ErrorCode_OK, res.GetCode(), "%v", res)
	res = e.apply(&metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: name, LifecycleXml: "<LifecycleConfiguration/>", LifecycleRules: rules}, Fields: []string{"lifecycle"},
	}}})
	require.Equal(e.t, metapb.ErrorCode_OK, res.GetCode(), "%v", res)
}

// put writes a version of key at time at, size bytes, with tags.
func (e *env) put(bucket, key string, at time.Time, size int64, edit ...func(*metapb.ObjectVersion)) {
	e.t.Helper()
	e.seq++
	v := &metapb.ObjectVersion{
		Bucket: bucket, Key: key, VersionId: fmt.Sprintf("%016x%016x", at.UnixNano(), e.seq), DataId: fmt.Sprintf("d%d", e.seq),
		Size: size, Etag: fmt.Sprintf("e%d", e.seq), MtimeUnixNano: at.UnixNano(),
		Profile: &metapb.ErasureProfile{DataShards: 2, ParityShards: 1, BlockSize: 4096},
		Shards:  []*metapb.ShardPlacement{{NodeId: "n1", DriveId: "d1"}, {NodeId: "n2", DriveId: "d1"}, {NodeId: "n3", DriveId: "d1"}},
	}
	for _, f := range edit {
		f(v)
	}
	res := e.apply(&metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: v}}})
	require.Equal(e.t, metapb.ErrorCode_OK, res.GetCode(), "%v", res)
}

func (e *env) del(bucket, key string, at time.Time) {
	e.t.Helper()
	e.seq++
	res := e.apply(&metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{
		Bucket: bucket, Key: key, MtimeUnixNano: at.UnixNano(), MarkerVersionId: fmt.Sprintf("%016x%016x", at.UnixNano(), e.seq),
	}}})
	require.Equal(e.t, metapb.ErrorCode_OK, res.GetCode(), "%v", res)
}

// state lists every version of bucket as "key:size" (current first), "key:DM" for markers.
func (e *env) state(bucket string) []string {
	e.t.Helper()
	resp, err := e.store.ListObjectVersions(context.Background(), &metapb.ListObjectVersionsRequest{Bucket: bucket, MaxKeys: 1000})
	require.NoError(e.t, err)
	var out []string
	for _, v := range resp.GetVersions() {
		s := fmt.Sprintf("%s:%d", v.GetKey(), v.GetSize())
		if v.GetDeleteMarker() {
			s = v.GetKey() + ":DM"
		}
		out = append(out, s)
	}
	return out
}

// run makes the worker complete one pass at now, in rounds of batch.
func (e *env) run(now time.Time, batch int) Stats {
	e.t.Helper()
	w, err := New(Config{Store: e.store, Day: day, Rate: -1, Batch: batch, Now: func() time.Time { return now }})
	require.NoError(e.t, err)
	var total Stats
	for i := 0; i < 100; i++ {
		st, err := w.Round(context.Background())
		require.NoError(e.t, err)
		total.Scanned += st.Scanned
		total.Expired += st.Expired
		total.Refused += st.Refused
		if len(w.pending) == 0 {
			return total
		}
	}
	e.t.Fatal("pass did not end")
	return total
}

func TestWorker(t *testing.T) {
	unversioned, enabled := metapb.VersioningState_VERSIONING_UNVERSIONED, metapb.VersioningState_VERSIONING_ENABLED
	tests := []struct {
		name    string
		vs      metapb.VersioningState
		lock    bool
		rules   []*metapb.LifecycleRule
		setup   func(e *env)
		at      time.Time
		want    []string
		expired int
		refused int
	}{
		{
			name:  "days, unversioned: only old objects under the prefix",
			vs:    unversioned,
			rules: []*metapb.LifecycleRule{{Enabled: true, Prefix: "tmp/", ExpirationDays: 2}},
			setup: func(e *env) {
				e.put("b", "tmp/old", t0, 1)
				e.put("b", "tmp/new", t0.Add(day), 2)
				e.put("b", "keep/old", t0, 3)
			},
			at: t0.Add(2 * day), want: []string{"keep/old:3", "tmp/new:2"}, expired: 1,
		},
		{
			name:  "disabled rule does nothing",
			vs:    unversioned,
			rules: []*metapb.LifecycleRule{{Enabled: false, ExpirationDays: 1}},
			setup: func(e *env) { e.put("b", "a", t0, 1) },
			at:    t0.Add(10 * day), want: []string{"a:1"},
		},
		{
			name:  "date",
			vs:    unversioned,
			rules: []*metapb.LifecycleRule{{Enabled: true, ExpirationDateUnix: t0.Add(24 * time.Hour).Unix()}},
			setup: func(e *env) { e.put("b", "a", t0.Add(20*time.Hour), 1) },
			at:    t0.Add(24 * time.Hour), want: nil, expired: 1,
		},
		{
			name:  "date not reached",
			vs:    unversioned,
			rules: []*metapb.LifecycleRule{{Enabled: true, ExpirationDateUnix: t0.Add(24 * time.Hour).Unix()}},
			setup: func(e *env) { e.put("b", "a", t0, 1) },
			at:    t0.Add(23 * time.Hour), want: []string{"a:1"},
		},
		{
			name: "tag and size filters",
			vs:   unversioned,
			rules: []*metapb.LifecycleRule{{Enabled: true, ExpirationDays: 1, Tags: map[string]string{"t": "x"},
				ObjectSizeGreaterThan: 10, ObjectSizeLessThan: 100}},
			setup: func(e *env) {
				tag := func(v *metapb.ObjectVersion) { v.Tags = map[string]string{"t": "x", "other": "y"} }
				e.put("b", "hit", t0, 50, tag)
				e.put("b", "small", t0, 10, tag)
				e.put("b", "large", t0, 100, tag)
				e.put("b", "untagged", t0, 50)
				e.put("b", "wrongtag", t0, 50, func(v *metapb.ObjectVersion) { v.Tags = map[string]string{"t": "z"} })
			},
			at: t0.Add(day), want: []string{"large:100", "small:10", "untagged:50", "wrongtag:50"}, expired: 1,
		},
		{
			name:  "versioned: current expiry adds a delete marker",
			vs:    enabled,
			rules: []*metapb.LifecycleRule{{Enabled: true, ExpirationDays: 1}},
			setup: func(e *env) { e.put("b", "a", t0, 1) },
			at:    t0.Add(day), want: []string{"a:DM", "a:1"}, expired: 1,
		},
		{
			name:  "noncurrent days count from when the version stopped being current",
			vs:    enabled,
			rules: []*metapb.LifecycleRule{{Enabled: true, NoncurrentDays: 2}},
			setup: func(e *env) {
				e.put("b", "a", t0, 1)
				e.put("b", "a", t0.Add(5*day), 2) // v1 noncurrent since day 5
				e.put("b", "a", t0.Add(6*day), 3) // v2 noncurrent since day 6
			},
			at: t0.Add(7 * day), want: []string{"a:3", "a:2"}, expired: 1,
		},
		{
			name:  "newer noncurrent versions kept",
			vs:    enabled,
			rules: []*metapb.LifecycleRule{{Enabled: true, NoncurrentDays: 1, NewerNoncurrentVersions: 2}},
			setup: func(e *env) {
				for i := range 5 {
					e.put("b", "a", t0.Add(time.Duration(i)*time.Minute), int64(i))
				}
			},
			at: t0.Add(10 * day), want: []string{"a:4", "a:3", "a:2"}, expired: 2,
		},
		{
			name:  "sole delete marker removed, others kept",
			vs:    enabled,
			rules: []*metapb.LifecycleRule{{Enabled: true, ExpiredObjectDeleteMarker: true}},
			setup: func(e *env) {
				e.put("b", "alone", t0, 1)
				e.del("b", "alone", t0.Add(time.Minute))
				e.apply(&metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{Bucket: "b", Key: "alone", VersionId: versionOf(e, "b", "alone", false)}}})
				e.put("b", "kept", t0, 2)
				e.del("b", "kept", t0.Add(time.Minute))
			},
			at: t0.Add(day), want: []string{"kept:DM", "kept:2"}, expired: 1,
		},
		{
			name:  "legal hold refuses the delete",
			vs:    enabled,
			lock:  true,
			rules: []*metapb.LifecycleRule{{Enabled: true, NoncurrentDays: 1}},
			setup: func(e *env) {
				e.put("b", "a", t0, 1, func(v *metapb.ObjectVersion) { v.LegalHold = true })
				e.put("b", "a", t0.Add(time.Minute), 2)
			},
			at: t0.Add(5 * day), want: []string{"a:2", "a:1"}, refused: 1,
		},
		{
			name:  "retention refuses the delete",
			vs:    enabled,
			lock:  true,
			rules: []*metapb.LifecycleRule{{Enabled: true, NoncurrentDays: 1}},
			setup: func(e *env) {
				e.put("b", "a", t0, 1, func(v *metapb.ObjectVersion) {
					v.LockMode, v.LockRetainUntilUnixNano = "COMPLIANCE", t0.Add(365*24*time.Hour).UnixNano()
				})
				e.put("b", "a", t0.Add(time.Minute), 2)
			},
			at: t0.Add(5 * day), want: []string{"a:2", "a:1"}, refused: 1,
		},
	}
	for _, tc := range tests {
		for _, batch := range []int{1, 2, 1000} {
			t.Run(fmt.Sprintf("%s/batch %d", tc.name, batch), func(t *testing.T) {
				e := newEnv(t)
				e.bucket("b", tc.vs, tc.lock, tc.rules...)
				e.bucket("other", tc.vs, false)
				tc.setup(e)
				st := e.run(tc.at, batch)
				require.Equal(t, tc.want, e.state("b"))
				require.Equal(t, tc.expired, st.Expired, "expired")
				require.Equal(t, tc.refused, st.Refused, "refused")
				// A second pass finds nothing more to do.
				st = e.run(tc.at, batch)
				require.Zero(t, st.Expired)
			})
		}
	}
}

func versionOf(e *env, bucket, key string, marker bool) string {
	resp, err := e.store.ListObjectVersions(context.Background(), &metapb.ListObjectVersionsRequest{Bucket: bucket, MaxKeys: 1000})
	require.NoError(e.t, err)
	for _, v := range resp.GetVersions() {
		if v.GetKey() == key && v.GetDeleteMarker() == marker {
			return v.GetVersionId()
		}
	}
	e.t.Fatalf("no version of %s", key)
	return ""
}

func TestCurrentExpiry(t *testing.T) {
	v := &metapb.ObjectVersion{Key: "logs/a", MtimeUnixNano: t0.UnixNano(), Size: 5}
	rules := []*metapb.LifecycleRule{
		{Id: "later", Enabled: true, Prefix: "logs/", ExpirationDays: 30},
		{Id: "sooner", Enabled: true, Prefix: "logs/", ExpirationDays: 7},
		{Id: "other prefix", Enabled: true, Prefix: "tmp/", ExpirationDays: 1},
		{Id: "noncurrent only", Enabled: true, NoncurrentDays: 1},
	}
	when, id := CurrentExpiry(rules, v, 24*time.Hour)
	require.Equal(t, "sooner", id)
	require.True(t, t0.Add(7*24*time.Hour).Equal(when), "expiry %v", when)
	// Real days round up to the next midnight UTC; test days do not.
	v.MtimeUnixNano = t0.Add(90 * time.Minute).UnixNano()
	when, _ = CurrentExpiry(rules, v, 24*time.Hour)
	require.True(t, t0.Add(8*24*time.Hour).Equal(when), "expiry %v", when)
	when, _ = CurrentExpiry(rules, v, time.Second)
	require.True(t, t0.Add(90*time.Minute+7*time.Second).Equal(when), "expiry %v", when)
	when, _ = CurrentExpiry(rules[2:], v, 24*time.Hour)
	require.True(t, when.IsZero())
}

func TestPace(t *testing.T) {
	now := t0
	var slept []time.Duration
	w, err := New(Config{Store: fsmStore{}, Rate: 4, Now: func() time.Time { return now },
		sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, w.pace(context.Background()))
	}
	require.Equal(t, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, slept)
}
