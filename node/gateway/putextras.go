package gateway

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Storage classes and Object Lock values as S3 spells them.
const (
	storageClassReducedRedundancy = "REDUCED_REDUNDANCY"
	lockGovernance                = "GOVERNANCE"
	lockCompliance                = "COMPLIANCE"
	legalHoldOn                   = "ON"
	legalHoldOff                  = "OFF"
)

// Tag limits of S3 objects.
const (
	maxObjectTags = 10
	maxTagKeyLen  = 128
	maxTagValLen  = 256
)

// defaultStorageClasses derives the class table from the STANDARD profile:
// REDUCED_REDUNDANCY keeps k and the block size with a single parity shard.
func defaultStorageClasses(standard erasure.Profile) map[string]erasure.Profile {
	rr := standard
	rr.M = 1
	return map[string]erasure.Profile{storageClassStandard: standard, storageClassReducedRedundancy: rr}
}

// validateStorageClasses fills in the class table of c and checks it. The
// STANDARD class and Profile are the same thing: whichever is set defines
// the other.
func (c *Config) validateStorageClasses() error {
	if len(c.StorageClasses) == 0 {
		c.StorageClasses = defaultStorageClasses(c.Profile)
	} else {
		c.StorageClasses = maps.Clone(c.StorageClasses)
	}
	if std, ok := c.StorageClasses[storageClassStandard]; ok && c.Profile == (erasure.Profile{}) {
		c.Profile = std
	}
	if _, ok := c.StorageClasses[storageClassStandard]; !ok {
		c.StorageClasses[storageClassStandard] = c.Profile
	}
	for class, p := range c.StorageClasses {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%w: storage class %s: %w", ErrInvalidConfig, class, err)
		}
	}
	return nil
}

// putExtras are the optional PutObject headers beyond body and digests:
// storage class, tags, Object Lock and the governance bypass.
type putExtras struct {
	class   string
	profile erasure.Profile
	tags    map[string]string
	lock    objectLock
	bypass  bool
}

// parsePutExtras validates the extra PUT headers against the bucket before
// any body byte is read. hasDigest tells whether the request carries
// Content-MD5 or an x-amz-checksum-* value (as header or trailer), which S3
// requires of a PUT with Object Lock parameters.
func (g *Gateway) parsePutExtras(h http.Header, bucket *metapb.Bucket, hasDigest bool) (*putExtras, error) {
	x := &putExtras{}
	var err error
	if x.class, x.profile, err = g.storageClass(h.Get("x-amz-storage-class")); err != nil {
		return nil, err
	}
	if vals, ok := h["X-Amz-Tagging"]; ok {
		if x.tags, err = parseTaggingHeader(strings.Join(vals, "&")); err != nil {
			return nil, err
		}
	}
	if x.lock, err = g.parseObjectLock(h, bucket); err != nil {
		return nil, err
	}
	if x.bypass, err = parseBypassGovernance(h); err != nil {
		return nil, err
	}
	lockGiven := x.lock.retention || x.lock.holdGiven
	// A bucket's default retention locks the new version as surely as the
	// headers do, and S3 asks for the digest then too.
	locks := lockGiven || bucket.GetDefaultRetention().GetMode() != ""
	if locks && !hasDigest {
		return nil, s3err.InvalidRequest.WithMessage("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters")
	}
	return x, nil
}

// apply records the extras in a new version.
func (x *putExtras) apply(v *metapb.ObjectVersion) {
	v.StorageClass = x.class
	if len(x.tags) > 0 {
		v.Tags = x.tags
	}
	x.lock.apply(v)
}

// storageClass maps x-amz-storage-class to a configured class and its
// erasure profile; no header means STANDARD.
func (g *Gateway) storageClass(v string) (string, erasure.Profile, error) {
	class := strings.TrimSpace(v)
	if class == "" {
		class = storageClassStandard
	}
	p, ok := g.cfg.StorageClasses[class]
	if !ok {
		return "", erasure.Profile{}, s3err.InvalidStorageClass
	}
	return class, p, nil
}

// parseTaggingHeader reads x-amz-tagging: URL-encoded query parameters,
// one per tag.
func parseTaggingHeader(s string) (map[string]string, error) {
	tags := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return tags, nil
	}
	var list []tagPair
	for _, part := range strings.Split(s, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, s3err.InvalidArgument.WithMessage("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		list = append(list, tagPair{key, val})
	}
	return checkTags(list)
}

type tagPair struct{ key, value string }

// checkTags applies S3's object tag limits and returns the tags as a map.
func checkTags(list []tagPair) (map[string]string, error) {
	if len(list) > maxObjectTags {
		return nil, s3err.InvalidTag.WithMessage("Object tags cannot be greater than 10")
	}
	return tagMap(list)
}

// tagMap checks each tag as S3 does for objects and buckets alike and
// returns the tags as a map.
func tagMap(list []tagPair) (map[string]string, error) {
	tags := make(map[string]string, len(list))
	for _, t := range list {
		switch {
		case t.key == "" || !utf8.ValidString(t.key):
			return nil, s3err.InvalidTag.WithMessage("The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.key) > maxTagKeyLen:
			return nil, s3err.InvalidTag.WithMessage("The TagKey you have provided is too long, max 128")
		case !utf8.ValidString(t.value):
			return nil, s3err.InvalidTag.WithMessage("The TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.value) > maxTagValLen:
			return nil, s3err.InvalidTag.WithMessage("The TagValue you have provided is too long, max 256")
		case strings.HasPrefix(strings.ToLower(t.key), "aws:"):
			return nil, s3err.InvalidTag.WithMessage("Your TagKey cannot be prefixed with aws:")
		}
		if _, dup := tags[t.key]; dup {
			return nil, s3err.InvalidTag.WithMessage("Cannot provide multiple Tags with the same key")
		}
		tags[t.key] = t.value
	}
	return tags, nil
}

// sortedTags lists tags in key order, for stable responses.
func sortedTags(tags map[string]string) []tagPair {
	out := make([]tagPair, 0, len(tags))
	for k, v := range tags {
		out = append(out, tagPair{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// parseLockHeaders reads the per-object Object Lock headers of a PUT.
func parseLockHeaders(h http.Header, now time.Time) (mode string, until time.Time, hold bool, err error) {
	modeHdr := strings.TrimSpace(h.Get("x-amz-object-lock-mode"))
	dateHdr := strings.TrimSpace(h.Get("x-amz-object-lock-retain-until-date"))
	if (modeHdr == "") != (dateHdr == "") {
		return "", time.Time{}, false, s3err.InvalidArgument.WithMessage("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
	}
	if modeHdr != "" {
		if mode, err = parseLockMode(modeHdr); err != nil {
			return "", time.Time{}, false, err
		}
		if until, err = parseRetainUntil(dateHdr, now); err != nil {
			return "", time.Time{}, false, err
		}
	}
	if lh := strings.TrimSpace(h.Get("x-amz-object-lock-legal-hold")); lh != "" {
		if hold, err = parseLegalHold(lh); err != nil {
			return "", time.Time{}, false, err
		}
	}
	return mode, until, hold, nil
}

func parseLockMode(s string) (string, error) {
	switch s {
	case lockGovernance, lockCompliance:
		return s, nil
	}
	return "", s3err.InvalidArgument.WithMessage("Unknown wormMode directive.")
}

// parseRetainUntil accepts an ISO 8601 date that lies in the future.
func parseRetainUntil(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, s3err.InvalidArgument.WithMessage("The retain until date must be provided in ISO 8601 format")
	}
	if !t.After(now) {
		return time.Time{}, s3err.InvalidArgument.WithMessage("The retain until date must be in the future!")
	}
	return t.UTC(), nil
}

func parseLegalHold(s string) (bool, error) {
	switch s {
	case legalHoldOn:
		return true, nil
	case legalHoldOff:
		return false, nil
	}
	return false, s3err.InvalidArgument.WithMessage("Legal Hold must be either of 'ON' or 'OFF'")
}

// parseBypassGovernance reads x-amz-bypass-governance-retention.
func parseBypassGovernance(h http.Header) (bool, error) {
	v := strings.TrimSpace(h.Get("x-amz-bypass-governance-retention"))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, s3err.InvalidArgument.WithMessage("x-amz-bypass-governance-retention must be true or false")
	}
	return b, nil
}

// checkSDKChecksumAlgorithm checks the algorithm an SDK names in
// x-amz-sdk-checksum-algorithm (or x-amz-checksum-algorithm) against the
// checksum it actually sends, as a header (sent) or a trailer (trailer).
func checkSDKChecksumAlgorithm(h http.Header, sent *sentChecksum, trailer checksum.Algorithm) error {
	name := "x-amz-sdk-checksum-algorithm"
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		name = "x-amz-checksum-algorithm"
		v = strings.TrimSpace(h.Get(name))
	}
	if v == "" {
		return nil
	}
	alg, err := checksum.ParseAlgorithm(v)
	if err != nil {
		return s3err.InvalidRequest.WithMessage("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	switch {
	case sent != nil && sent.alg != alg, sent == nil && trailer != "" && trailer != alg:
		return s3err.InvalidRequest.WithMessage(fmt.Sprintf("Value for %s header is invalid.", name))
	case sent == nil && trailer == "":
		return s3err.InvalidRequest.WithMessage(fmt.Sprintf("%s specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.", name))
	}
	return nil
}

// setObjectExtraHeaders adds what GET and HEAD report of storage class,
// tags and Object Lock.
func setObjectExtraHeaders(h http.Header, v *metapb.ObjectVersion) {
	if n := len(v.GetTags()); n > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
	if v.GetLockMode() != "" {
		h.Set("x-amz-object-lock-mode", v.GetLockMode())
		h.Set("x-amz-object-lock-retain-until-date", lockDate(v.GetLockRetainUntilUnixNano()))
	}
	if v.GetLegalHold() {
		h.Set("x-amz-object-lock-legal-hold", legalHoldOn)
	}
}

// lockDate formats a retain-until date as S3 does: ISO 8601 in UTC with
// milliseconds.
func lockDate(unixNano int64) string {
	return time.Unix(0, unixNano).UTC().Format("2006-01-02T15:04:05.000Z")
}
