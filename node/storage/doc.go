// Package storage is the storage role: it keeps erasure-coded shards on the
// node's local drives and serves them over the Storage gRPC service
// (proto/storagepb), and it registers the node and its drives with the meta
// group through periodic heartbeats.
//
// # Durability
//
// A shard is written to a temp file under <drive>/tmp, framed with per-block
// checksums (erasure/bitrot), fsync'd, renamed to
// <drive>/shards/<aa>/<bb>/<shard_id> and its directory fsync'd before the
// write is acknowledged. A stream that fails, is cancelled or ends without
// commit removes its temp file; temp files left by a crash are removed when
// the drive is opened. Fan-out directories are fsync'd into their parents
// the first time this process uses them, so a crash can never lose the
// directory an acknowledged shard lives in.
//
// # Reads
//
// Every block is verified before any of its bytes leave the node; a mismatch
// fails the read with codes.DataLoss.
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
// or package metadata (deps_test.go). Locks: Server.mu and drive.mu are
// leaves; no lock is held across I/O or while taking another.
package storage
