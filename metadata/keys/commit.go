package keys

// Commit records make replayed commands harmless: a proposer that lost
// leadership before it learnt the outcome proposes the same command again,
// and the state machine answers the replay from these rows.
const (
	// TableBody: 'D' + esc(dataID) → ObjectVersion stub naming where the
	// body was committed (bucket, key, version ID and seq of an object, or
	// bucket, key and part number of an upload's part). The row lives until
	// the body's GC entry is acknowledged.
	TableBody byte = 'D'
	// TableCompleted: 'U' + esc(bucket) + esc(key) + esc(uploadID) →
	// ObjectVersion stub of the version a CompleteMultipartUpload created.
	// The row lives as long as that version.
	TableCompleted byte = 'U'
)

// BodyKey is the key of the commit record of the body dataID.
func BodyKey(dataID string) []byte {
	return AppendString(newKey(TableBody, len(dataID)+2), dataID)
}

// CompletedKey is the key of the commit record of a completed upload.
func CompletedKey(bucket, key, uploadID string) []byte {
	return AppendString(CompletedKeyPrefix(bucket, key), uploadID)
}

// CompletedKeyPrefix is the prefix of the records of every completed
// upload of exactly bucket/key.
func CompletedKeyPrefix(bucket, key string) []byte {
	k := AppendString(newKey(TableCompleted, len(bucket)+len(key)+4), bucket)
	return AppendString(k, key)
}
