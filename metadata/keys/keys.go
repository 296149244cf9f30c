// Package keys defines the order-preserving encoding of every key the
// metadata state machine stores in Pebble.
//
// A key is one table byte followed by its components. String components are
// escaped (0x00 becomes 0x00 0xFF) and terminated by 0x00 0x01, so that
//
//   - the byte order of encoded keys equals the order of the raw component
//     tuples (bucket, then key), which makes ListObjects a range scan, and
//   - no encoded string is a prefix of another string's encoding followed by
//     further components, so (bucket "a", key "bc") never collides with
//     (bucket "ab", key "c").
//
// EscapePrefix encodes a raw string prefix without the terminator: every raw
// string starting with P encodes to bytes starting with EscapePrefix(P), and
// PrefixEnd turns such a prefix into the exclusive upper bound of its range.
//
// Versions of one object sort newest first. Their order component is the
// commit sequence the state machine assigns (the Raft order, which defines
// "last writer wins"), stored big-endian and bit-inverted. Version IDs are
// not used for ordering: they are chosen by gateways whose clocks differ, and
// the "null" version has no time in it. A separate index table maps
// (bucket, key, version ID) to that sequence for point lookups.
//
// The package is pure: no I/O, no clock, no state. The layout is version
// FormatVersion; any change to it must bump that constant.
package keys

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FormatVersion is the version of the key layout defined here. The state
// machine persists it and refuses to open a database of another version.
const FormatVersion uint64 = 1

// Table bytes. Each table owns every key starting with its byte.
const (
	TableBucket       byte = 'B' // 'B' + esc(bucket) → Bucket
	TableCurrent      byte = 'C' // 'C' + esc(bucket) + esc(key) → current ObjectVersion
	TableGC           byte = 'G' // 'G' + seq (uint64 BE) → GCEntry
	TableUpload       byte = 'M' // 'M' + esc(bucket) + esc(key) + esc(uploadID) → MultipartUpload
	TableUser         byte = 'I' // 'I' + esc(accessKey) → User (identities)
	TableNode         byte = 'N' // 'N' + esc(nodeID) → Node
	TablePart         byte = 'P' // 'P' + esc(bucket) + esc(key) + esc(uploadID) + number (uint32 BE) → PartInfo
	TableSystem       byte = 'S' // 'S' + name → system value
	TableVersion      byte = 'V' // 'V' + esc(bucket) + esc(key) + ^seq (uint64 BE) → ObjectVersion
	TableVersionIndex byte = 'X' // 'X' + esc(bucket) + esc(key) + esc(versionID) → seq (uint64 BE)
)

// System key names, used with SystemKey.
const (
	SysApplied = "applied" // last applied Raft index
	SysFormat  = "format"  // key/value format version
	SysSeq     = "seq"     // last assigned commit sequence
	SysEpoch   = "epoch"   // cluster map epoch
	// SysHealPaused holds 1 while the repairer is paused (SetHealPaused).
	SysHealPaused = "heal_paused"
	// SysMasterKeyCheck holds the master key check value, set once
	// (SetMasterKeyCheck).
	SysMasterKeyCheck = "master_key_check"
	// SysVoters holds the meta voters' address book (SetVoterAddress).
	SysVoters = "voters"
	// SysMasterKeyPrevious holds the check value of the previous master
	// key while a rotation is in progress (StartKeyRotation), raw bytes
	// like SysMasterKeyCheck.
	SysMasterKeyPrevious = "master_key_previous"
)

// ErrMalformed marks a key that does not decode under this layout.
var ErrMalformed = errors.New("keys: malformed key")

const (
	escByte  = 0x00
	escEsc   = 0xFF // 0x00 0xFF encodes a raw 0x00
	escTerm  = 0x01 // 0x00 0x01 ends a string
	seqBytes = 8
)

// AppendString appends the escaped, terminated encoding of s to dst.
func AppendString(dst []byte, s string) []byte {
	dst = appendEscaped(dst, s)
	return append(dst, escByte, escTerm)
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == escByte {
			dst = append(dst, escByte, escEsc)
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// EscapePrefix returns the escaped bytes of p without a terminator: the
// encoding of every string that starts with p starts with these bytes, and
// no other string's encoding does.
func EscapePrefix(p string) []byte {
	return appendEscaped(make([]byte, 0, len(p)+2), p)
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, for use as an exclusive upper bound or to seek past a prefix. It
// returns nil when no such key exists (prefix is empty or all 0xFF), meaning
// "unbounded".
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Successor returns the smallest key greater than k: seeking to it skips k
// itself and nothing else.
func Successor(k []byte) []byte {
	out := make([]byte, len(k)+1)
	copy(out, k)
	return out
}

// TablePrefix returns the prefix shared by every key of table t.
func TablePrefix(t byte) []byte { return []byte{t} }

// BucketKey is the key of a bucket record.
func BucketKey(bucket string) []byte {
	return AppendString(newKey(TableBucket, len(bucket)), bucket)
}

// ObjectKey is the key of the current-version row of bucket/key.
func ObjectKey(bucket, key string) []byte {
	k := AppendString(newKey(TableCurrent, len(bucket)+len(key)+2), bucket)
	return AppendString(k, key)
}

// ObjectPrefix is the prefix of the current-version rows of every key in
// bucket that starts with prefix. ObjectPrefix(bucket, "") covers the bucket.
func ObjectPrefix(bucket, prefix string) []byte {
	k := AppendString(newKey(TableCurrent, len(bucket)+len(prefix)), bucket)
	return appendEscaped(k, prefix)
}

// VersionKey is the key of the version of bucket/key committed with seq.
// Newer versions (higher seq) sort first.
func VersionKey(bucket, key string, seq uint64) []byte {
	k := VersionPrefix(bucket, key)
	return binary.BigEndian.AppendUint64(k, ^seq)
}

// VersionPrefix is the prefix of every version of bucket/key.
func VersionPrefix(bucket, key string) []byte {
	k := AppendString(newKey(TableVersion, len(bucket)+len(key)+4+seqBytes), bucket)
	return AppendString(k, key)
}

// BucketVersionsPrefix is the prefix of every version of every key in bucket.
func BucketVersionsPrefix(bucket string) []byte {
	return AppendString(newKey(TableVersion, len(bucket)), bucket)
}

// VersionIndexKey is the key of the index row that maps a version ID of
// bucket/key to the seq under which the version is stored.
func VersionIndexKey(bucket, key, versionID string) []byte {
	k := AppendString(newKey(TableVersionIndex, len(bucket)+len(key)+len(versionID)+6), bucket)
	k = AppendString(k, key)
	return AppendString(k, versionID)
}

// NodeKey is the key of a storage node record.
func NodeKey(nodeID string) []byte {
	return AppendString(newKey(TableNode, len(nodeID)), nodeID)
}

// UserKey is the key of the user record of accessKey.
func UserKey(accessKey string) []byte {
	return AppendString(newKey(TableUser, len(accessKey)), accessKey)
}

// GCKey is the key of the GC queue entry with the given seq. Entries sort
// in the order they were enqueued.
func GCKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(newKey(TableGC, seqBytes), seq)
}

// SystemKey is the key of a system value (see the Sys* names).
func SystemKey(name string) []byte {
	return append(newKey(TableSystem, len(name)), name...)
}

func newKey(t byte, hint int) []byte {
	k := make([]byte, 1, 1+hint+4)
	k[0] = t
	return k
}

// DecodeBucketKey parses a key built by BucketKey.
func DecodeBucketKey(k []byte) (string, error) {
	rest, err := expectTable(k, TableBucket)
	if err != nil {
		return "", err
	}
	bucket, rest, err := DecodeString(rest)
	if err != nil {
		return "", err
	}
	return bucket, expectEnd(rest)
}

// DecodeObjectKey parses a key built by ObjectKey.
func DecodeObjectKey(k []byte) (bucket, key string, err error) {
	rest, err := expectTable(k, TableCurrent)
	if err != nil {
		return "", "", err
	}
	bucket, key, rest, err = decodePair(rest)
	if err != nil {
		return "", "", err
	}
	return bucket, key, expectEnd(rest)
}

// DecodeVersionKey parses a key built by VersionKey.
func DecodeVersionKey(k []byte) (bucket, key string, seq uint64, err error) {
	rest, err := expectTable(k, TableVersion)
	if err != nil {
		return "", "", 0, err
	}
	bucket, key, rest, err = decodePair(rest)
	if err != nil {
		return "", "", 0, err
	}
	if len(rest) != seqBytes {
		return "", "", 0, fmt.Errorf("%w: version order is %d bytes", ErrMalformed, len(rest))
	}
	return bucket, key, ^binary.BigEndian.Uint64(rest), nil
}

// DecodeNodeKey parses a key built by NodeKey.
func DecodeNodeKey(k []byte) (string, error) {
	rest, err := expectTable(k, TableNode)
	if err != nil {
		return "", err
	}
	id, rest, err := DecodeString(rest)
	if err != nil {
		return "", err
	}
	return id, expectEnd(rest)
}

// DecodeGCKey parses a key built by GCKey.
func DecodeGCKey(k []byte) (uint64, error) {
	rest, err := expectTable(k, TableGC)
	if err != nil {
		return 0, err
	}
	if len(rest) != seqBytes {
		return 0, fmt.Errorf("%w: gc seq is %d bytes", ErrMalformed, len(rest))
	}
	return binary.BigEndian.Uint64(rest), nil
}

// DecodeString decodes one escaped, terminated string from the front of b
// and returns it with the remaining bytes.
func DecodeString(b []byte) (s string, rest []byte, err error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != escByte {
			out = append(out, c)
			continue
		}
		if i+1 >= len(b) {
			return "", nil, fmt.Errorf("%w: truncated escape", ErrMalformed)
		}
		i++
		switch b[i] {
		case escEsc:
			out = append(out, escByte)
		case escTerm:
			return string(out), b[i+1:], nil
		default:
			return "", nil, fmt.Errorf("%w: bad escape 0x%02x", ErrMalformed, b[i])
		}
	}
	return "", nil, fmt.Errorf("%w: unterminated string", ErrMalformed)
}

func decodePair(b []byte) (first, second string, rest []byte, err error) {
	first, rest, err = DecodeString(b)
	if err != nil {
		return "", "", nil, err
	}
	second, rest, err = DecodeString(rest)
	if err != nil {
		return "", "", nil, err
	}
	return first, second, rest, nil
}

func expectTable(k []byte, t byte) ([]byte, error) {
	if len(k) == 0 || k[0] != t {
		return nil, fmt.Errorf("%w: not a %q key", ErrMalformed, t)
	}
	return k[1:], nil
}

func expectEnd(rest []byte) error {
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return nil
}
