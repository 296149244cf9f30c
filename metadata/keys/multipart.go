package keys

import (
	"encoding/binary"
	"fmt"
)

const partNumberBytes = 4

// UploadKey is the key of a multipart upload in progress. Uploads sort by
// bucket, key, then upload ID; gateways make upload IDs start with their
// creation time, so uploads of one key sort oldest first, as S3 lists them.
func UploadKey(bucket, key, uploadID string) []byte {
	k := AppendString(newKey(TableUpload, len(bucket)+len(key)+len(uploadID)+6), bucket)
	k = AppendString(k, key)
	return AppendString(k, uploadID)
}

// UploadPrefix is the prefix of the uploads of every key in bucket that
// starts with prefix. UploadPrefix(bucket, "") covers the bucket.
func UploadPrefix(bucket, prefix string) []byte {
	k := AppendString(newKey(TableUpload, len(bucket)+len(prefix)), bucket)
	return appendEscaped(k, prefix)
}

// UploadKeyPrefix is the prefix of every upload of exactly bucket/key.
func UploadKeyPrefix(bucket, key string) []byte {
	k := AppendString(newKey(TableUpload, len(bucket)+len(key)+4), bucket)
	return AppendString(k, key)
}

// DecodeUploadKey parses a key built by UploadKey.
func DecodeUploadKey(k []byte) (bucket, key, uploadID string, err error) {
	rest, err := expectTable(k, TableUpload)
	if err != nil {
		return "", "", "", err
	}
	bucket, key, rest, err = decodePair(rest)
	if err != nil {
		return "", "", "", err
	}
	uploadID, rest, err = DecodeString(rest)
	if err != nil {
		return "", "", "", err
	}
	return bucket, key, uploadID, expectEnd(rest)
}

// PartKey is the key of part number n of an upload. Parts of one upload
// sort by number.
func PartKey(bucket, key, uploadID string, n uint32) []byte {
	return binary.BigEndian.AppendUint32(PartPrefix(bucket, key, uploadID), n)
}

// PartPrefix is the prefix of every part of one upload.
func PartPrefix(bucket, key, uploadID string) []byte {
	k := AppendString(newKey(TablePart, len(bucket)+len(key)+len(uploadID)+6+partNumberBytes), bucket)
	k = AppendString(k, key)
	return AppendString(k, uploadID)
}

// DecodePartKey parses a key built by PartKey.
func DecodePartKey(k []byte) (bucket, key, uploadID string, n uint32, err error) {
	rest, err := expectTable(k, TablePart)
	if err != nil {
		return "", "", "", 0, err
	}
	bucket, key, rest, err = decodePair(rest)
	if err != nil {
		return "", "", "", 0, err
	}
	uploadID, rest, err = DecodeString(rest)
	if err != nil {
		return "", "", "", 0, err
	}
	if len(rest) != partNumberBytes {
		return "", "", "", 0, fmt.Errorf("%w: part number is %d bytes", ErrMalformed, len(rest))
	}
	return bucket, key, uploadID, binary.BigEndian.Uint32(rest), nil
}

// KeyPartsPrefix is the prefix of the parts of every upload of exactly
// bucket/key.
func KeyPartsPrefix(bucket, key string) []byte {
	k := AppendString(newKey(TablePart, len(bucket)+len(key)+4), bucket)
	return AppendString(k, key)
}
