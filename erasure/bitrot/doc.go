// Package bitrot frames shard data with per-block checksums so that storage
// nodes detect corrupt bytes before they leave the drive.
//
// # Format (version 1)
//
// A framed shard is a fixed HeaderSize-byte header followed by the shard data
// cut into blocks of BlockSize bytes (the last block may be shorter), each
// block immediately followed by its 4-byte checksum:
//
//	offset size field
//	     0    4 magic "CRNS"
//	     4    1 format version, 1
//	     5    1 checksum algorithm, 1 = CRC32C (Castagnoli)
//	     6    2 reserved, zero
//	     8    4 block size, uint32 little endian, > 0
//	    12    4 CRC32C of bytes 0..11, uint32 little endian
//	    16    . block 0 (BlockSize bytes), its CRC32C (uint32 little endian),
//	            block 1, its CRC32C, ..., last block (1..BlockSize bytes), its CRC32C
//
// An empty shard is the header alone. The header checksum lets a reader tell
// a rotted header from a file that is not a shard at all.
//
// The format is persisted: a change bumps Version and readers keep accepting
// every version they ever wrote.
//
// # Errors
//
// Every checksum mismatch or truncation wraps ErrCorrupt (callers map it to
// DataLoss and trigger repair); an unreadable header wraps ErrBadHeader, and
// additionally ErrCorrupt when its own checksum fails.
//
// # Role and imports
//
// The package is pure framing over io interfaces: it starts no goroutines,
// reads no clock, opens no files and imports nothing from Cairn.
package bitrot
