// Package storage is the storage role: it keeps erasure-coded shards on the
// node's local drives and serves them over the Storage gRPC service
// (proto/storagepb), and it registers the node and its drives with the meta
// group through periodic heartbeats.
//
// # Durability
//
// A shard is written to a temp file, framed with per-block checksums
// (erasure/bitrot), fsync'd, given its name
// <drive>/shards/<aa>/<bb>/<shard_id> and its directory fsync'd before the
// write is acknowledged. Where the filesystem has unnamed files (Linux
// O_TMPFILE) the temp file is an unnamed inode in the shard's fan-out
// directory, linked under its name (a shard written again is linked under
// a temp name in <drive>/tmp and renamed over the old one); elsewhere it is
// a file under <drive>/tmp, renamed into place. A stream that fails, is
// cancelled or ends without commit discards its temp file; an unnamed one
// vanishes in a crash, and names left in tmp/ by a crash are removed when
// the drive is opened. Fan-out directories are fsync'd into their parents
// the first time this process uses them, so a crash can never lose the
// directory an acknowledged shard lives in.
//
// A WriteShard message's data is checked against its data_crc32c before
// any of it is written. From a client that asked for the shard codec it is
// received by reference to gRPC's frame buffers (shardcodec.WriteRefs) and
// written piece by piece into the writer's own buffer (the direct I/O
// staging buffer, or the buffer of small blocks); only where whole blocks
// go to the file one write each are the pieces gathered first. Every
// reference goes back as soon as its message is written, and on every
// path that ends the write.
//
// # Reads and digests
//
// Every block is verified before any of its bytes leave the node; a mismatch
// fails the read with codes.DataLoss. A shard is written in bitrot format 2,
// whose trailer holds the shard's digest (bitrot.Digester); WriteShard and
// StatShard return it (StatShard returns none for a version 1 shard). A
// ReadShard with expect_digest compares it with the trailer's (for version 1,
// one computed from the stored checksums) before sending anything, and fails
// with DataLoss on a difference. Blocks are read into pooled buffers sized
// to the range and sent, a batch's whole blocks a message up to 1 MiB, by
// reference when the client asked for the shard codec (copied by the
// protobuf codec when it did not, for older gateways).
// VerifyShard reads every block, recomputes
// the digest and checks it against the trailer and expect_digest.
//
// # Scrubber
//
// One goroutine per node (started by Start, stopped by Close) walks every
// drive that is not faulty, fan-out directory by directory, and verifies
// every shard whole through a token bucket of Config.ScrubRate bytes per
// second (reads of about 1 MiB). Damage (SHARD_CORRUPT, or SHARD_UNREADABLE
// on I/O errors) is reported at once through ShardReporter
// (Meta.ReportShards over the heartbeats' connections, with their
// failover); verified shards go with their digests in batches of
// Config.ScrubBatch; the meta leader compares them with the records. Damage
// the meta group did not take is sent again with the next report. A pass
// starts Config.ScrubInterval after the last one ended (recorded in
// scrub.json on each drive) or on Storage.Scrub; ScrubStats shows progress.
//
// # Faulty drives
//
// A drive is faulty after Config.FaultErrors I/O errors (EIO, ENXIO, ENODEV,
// EROFS; never not-found, no-space, corruption or cancellation) within
// Config.FaultWindow, or when the check run before every heartbeat finds its
// root, shards/ or tmp/ directory or its format.json missing, unreadable or
// naming another drive (a write that finds tmp/ or shards/ missing runs
// the check at once). A faulty drive refuses WriteShard with codes.FailedPrecondition
// (not Unavailable: the node is fine) and is reported DRIVE_FAILED with the
// reason in Drive.fault; reads are still served. A check fault clears when
// the check passes again; an I/O fault stays until the process restarts.
//
// # Listing
//
// ListShards walks the fan-out directories one at a time and streams, in
// pages, the shards modified before a cutoff, for the meta group's orphan
// sweep. Only regular files with a valid shard ID in their own fan-out
// directory are listed; temp files never are.
//
// # Errors
//
// Handlers translate errors to gRPC codes through one table (errors.go).
// Status messages name the operation, the shard and the error class, never a
// local path; details are logged.
//
// # Imports and locks
//
// storage imports erasure/bitrot, node/vfs and proto/...; never another role
// or package metadata (deps_test.go). Locks: Server.mu, drive.mu,
// health.mu, metaGroup.mu, scrubber.mu and limiter.mu are leaves; no lock
// is held across I/O or while taking another.
package storage
