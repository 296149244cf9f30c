// Package lifecycle enforces the expiration actions of bucket lifecycle
// rules: Expiration (Days, Date, ExpiredObjectDeleteMarker) and
// NoncurrentVersionExpiration (NoncurrentDays, NewerNoncurrentVersions),
// over rules filtered by prefix, tags and object size.
//
// A Worker runs on the meta leader only. Each Round scans a bounded number
// of versions from where the previous round stopped and proposes, through
// the same committed commands a client's DELETE uses, what the rules say
// to expire: a delete (or a delete marker, in a versioned bucket) for an
// expired current version, a permanent delete for an expired noncurrent
// version or a delete marker left alone. The state machine refuses what
// Object Lock protects; the worker counts it and moves on. Its cursor is
// kept in memory: a new leader starts a fresh scan, and every decision is
// made again from the committed state, so a scan repeated is harmless.
package lifecycle
