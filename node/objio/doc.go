// Package objio moves object bodies between a gateway and the storage nodes:
// the PUT pipeline (stripe, hash, erasure-code, fan out to K+M shard streams,
// wait for every shard to be durable) and the GET pipeline (read the stripes
// a range needs from the K data shards, falling back to parity and
// reconstructing when a shard is missing, unreachable or corrupt). It knows
// nothing of HTTP or S3 and never commits metadata: the caller records the
// returned Body through the meta group, or deletes it.
//
// Imports: erasure, placement, node/shardcodec and proto/*pb; never a role, metadata, Pebble,
// Raft or net/http (enforced by deps_test.go).
//
// PUT phases, each safe to abandon:
//
//  1. Place: choose K+M drives for a fresh, time-ordered data ID.
//  2. Stream: stripe by stripe, through a fixed pool of StripesInFlight stripe
//     buffers, so memory per PUT does not grow with the body. A stripe's
//     blocks go to storage by reference (package shardcodec): a stripe is
//     reused only when the MD5 hasher, every shard sender and gRPC are done
//     with it. While the first
//     stripe is in flight a shard whose node cannot be reached is moved to a
//     replacement drive. Afterwards a shard whose drive is full or whose
//     node is unreachable (or stalled) is lost: its stream is dropped, the
//     others go on, and it is rebuilt after the commit (phase 4); at most
//     M-1 shards per PUT (1 when M = 1), so K+1 durable ones remain to
//     rebuild from. Any other shard failure, or one more, fails the PUT.
//  3. Commit: every stream sends commit and waits for its ack; the body
//     exists only when all K+M acks arrived. Each ack carries the shard's
//     digest, which must equal the one computed from the blocks sent
//     (each block is one bitrot block on the node); Body.ShardDigests
//     keeps them for the record, and reads pass them as expect_digest.
//  4. Rebuild, only if a shard was lost: RebuildShards reads K durable
//     shards, reconstructs the lost ones onto the replacement drives
//     placement chose (the failed node excluded) and returns their
//     digests; the body exists once they are durable too. A failed
//     rebuild fails the PUT. The MD5 is the hasher's, untouched by this.
//
// Every wait on a storage node is bounded. A watchdog per shard stream is
// armed only while the pipeline waits on the peer (opening the stream,
// sending or receiving one message: StallTimeout; the durable ack:
// CommitTimeout) and disarmed while the pipeline waits on its own client, so
// a slow upload or download is never cut, but a stopped or partitioned node
// is, and counts as unreachable. A full drive (ResourceExhausted) is
// suspected through DriveSuspecter and its shard replaced (or, past the
// first stripe, rebuilt).
//
// GET reads are hedged: when the collector is blocked on a stripe for
// longer than the recent p95 of shard block reads (clamped to
// [HedgeFloor, HedgeCap]), it starts the next parity shard from that
// stripe; the first K shards to deliver a stripe win and the others are
// cancelled. Hedges are counted (Store.Hedges), not reported through
// OnReadFailure, which is for real failures only. Memory stays bounded: at
// most K+M readers of StripesInFlight+1 blocks each. Shard streams use the
// shard codec and receive by reference (shardcodec.ReadRefs): a block stays
// in the gRPC frames it arrived in, and a stripe whose K data blocks all
// arrived is written to the caller from them, with no copy; the frames go
// back once it is written, or when the read ends however it ends. A
// stripe that is reconstructed is copied into contiguous block buffers
// (kept between GETs in a shardcodec.Pool), its frames freed at once.
//
// On any failure every stream is cancelled (storage drops uncommitted
// shards) and every shard that may have been committed is deleted, best
// effort; the meta group's orphan sweep reclaims what that misses.
//
// Rebuild (RebuildShards, for the repairer): read K healthy shards stripe
// by stripe through the GET path's shard streams, reconstruct the lost ones
// and stream each to its new drive as the PUT path writes shards, under the
// same name; the caller commits the new placement, or the shards are
// deleted (those rewritten in place excepted).
//
// Lock order: Store has no lock; a PUT's placement state (write.mu) is a
// leaf lock held only around placement decisions.
package objio
