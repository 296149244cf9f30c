package lifecycle

import (
	"strings"
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// matches reports whether rule's filter selects v.
func matches(rule *metapb.LifecycleRule, v *metapb.ObjectVersion) bool {
	if !rule.GetEnabled() || !strings.HasPrefix(v.GetKey(), rule.GetPrefix()) {
		return false
	}
	for k, want := range rule.GetTags() {
		if got, ok := v.GetTags()[k]; !ok || got != want {
			return false
		}
	}
	if gt := rule.GetObjectSizeGreaterThan(); gt > 0 && v.GetSize() <= gt {
		return false
	}
	if lt := rule.GetObjectSizeLessThan(); lt > 0 && v.GetSize() >= lt {
		return false
	}
	return true
}

// CurrentExpiry is when the first rule that expires current version v
// does so (zero when none does), and that rule's ID. Days count from the
// version's modification time, in units of day.
func CurrentExpiry(rules []*metapb.LifecycleRule, v *metapb.ObjectVersion, day time.Duration) (time.Time, string) {
	var when time.Time
	var id string
	for _, r := range rules {
		if v.GetDeleteMarker() || !matches(r, v) {
			continue
		}
		var t time.Time
		switch {
		case r.GetExpirationDays() > 0:
			t = afterDays(time.Unix(0, v.GetMtimeUnixNano()), r.GetExpirationDays(), day)
		case r.GetExpirationDateUnix() > 0:
			t = time.Unix(r.GetExpirationDateUnix(), 0)
		default:
			continue
		}
		if when.IsZero() || t.Before(when) {
			when, id = t, r.GetId()
		}
	}
	return when, id
}

// afterDays is days after t, rounded up to the next midnight UTC as S3
// does, when days are real days; test-length days are not rounded.
func afterDays(t time.Time, days uint32, day time.Duration) time.Time {
	t = t.Add(time.Duration(days) * day).UTC()
	if day != 24*time.Hour {
		return t
	}
	if m := t.Truncate(24 * time.Hour); !m.Equal(t) {
		return m.Add(24 * time.Hour)
	}
	return t
}

// noncurrentExpired reports whether the noncurrent version v, which stopped
// being current at since and has index newer noncurrent versions of its key
// before it, has expired by now.
func noncurrentExpired(rules []*metapb.LifecycleRule, v *metapb.ObjectVersion, since time.Time, index int, now time.Time, day time.Duration) bool {
	for _, r := range rules {
		if r.GetNoncurrentDays() == 0 || !matches(r, v) {
			continue
		}
		if index < int(r.GetNewerNoncurrentVersions()) {
			continue
		}
		if !now.Before(afterDays(since, r.GetNoncurrentDays(), day)) {
			return true
		}
	}
	return false
}

// markerExpired reports whether a delete marker that is the only version
// of its key is to be removed.
func markerExpired(rules []*metapb.LifecycleRule, v *metapb.ObjectVersion) bool {
	for _, r := range rules {
		if r.GetExpiredObjectDeleteMarker() && r.GetEnabled() && strings.HasPrefix(v.GetKey(), r.GetPrefix()) {
			return true
		}
	}
	return false
}

// hasExpiration reports whether any rule expires anything.
func hasExpiration(rules []*metapb.LifecycleRule) bool {
	for _, r := range rules {
		if r.GetEnabled() && (r.GetExpirationDays() > 0 || r.GetExpirationDateUnix() > 0 || r.GetExpiredObjectDeleteMarker() || r.GetNoncurrentDays() > 0) {
			return true
		}
	}
	return false
}
