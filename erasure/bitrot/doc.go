// Package bitrot frames shard data with per-block checksums so that storage
// nodes detect corrupt bytes before they leave the drive.
//
// # Format (version 2; version 1 is still read)
//
// A framed shard is a fixed HeaderSize-byte header followed by the shard data
// cut into blocks of BlockSize bytes (the last block may be shorter), each
// block immediately followed by its 4-byte checksum, and (version 2 only)
// a TrailerSize-byte trailer:
//
//	offset size field
//	     0    4 magic "CRNS"
//	     4    1 format version, 2 (1 for shards written before trailers)
//	     5    1 checksum algorithm, 1 = CRC32C (Castagnoli)
//	     6    2 reserved, zero
//	     8    4 block size, uint32 little endian, > 0
//	    12    4 CRC32C of bytes 0..11, uint32 little endian
//	    16    . block 0 (BlockSize bytes), its CRC32C (uint32 little endian),
//	            block 1, its CRC32C, ..., last block (1..BlockSize bytes), its CRC32C
//	     .   36 trailer (version 2):
//	            +0  4 magic "CRNT"
//	            +4  1 digest algorithm, 1 = SHA-256 truncated to 16 bytes
//	            +5  3 reserved, zero
//	            +8  8 data size, uint64 little endian
//	           +16 16 digest of the shard (see Digester)
//	           +32  4 CRC32C of trailer bytes 0..31, uint32 little endian
//
// An empty shard is the header (and trailer) alone. The header checksum lets
// a reader tell a rotted header from a file that is not a shard at all.
//
// # Digest
//
// A shard's digest (Digester) hashes its name, block size, every block's
// CRC32C in order and its data size. It is cheap for anyone who has the
// block checksums: the storage node computes it while writing, a gateway
// from the blocks it sent, a scrub from the blocks it verifies. The trailer
// keeps it so that a read can compare it with the digest a version record
// holds without reading the whole shard (ReadInfo); Verify recomputes it
// from every block and checks it against the trailer. A version 1 shard's
// digest is computed from its stored checksums. The data size in the
// trailer must agree with the file's length, so a shard cut at a block
// boundary is caught too.
//
// The format is persisted: a change bumps Version and readers keep accepting
// every version they ever wrote.
//
// # Errors
//
// Every checksum mismatch or truncation wraps ErrCorrupt (callers map it to
// DataLoss and trigger repair), a bad trailer ErrBadTrailer and a digest
// that differs ErrDigestMismatch, both of which wrap ErrCorrupt; an
// unreadable header wraps ErrBadHeader, and additionally ErrCorrupt when its
// own checksum fails.
//
// # Role and imports
//
// The package is pure framing over io interfaces: it starts no goroutines,
// reads no clock, opens no files and imports nothing from Cairn.
package bitrot
