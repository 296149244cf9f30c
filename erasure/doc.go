// Package erasure defines Cairn's stripe layout and wraps Reed-Solomon coding
// of one stripe at a time.
//
// # Layout
//
// An object of size bytes under Profile{K, M, BlockSize} is cut into stripes
// of K*BlockSize bytes; only the last stripe may be shorter. Stripe s, holding
// Ls object bytes, is split into K data blocks of ceil(Ls/K) bytes each (the
// last data block zero-padded) and M parity blocks of the same length. Shard i
// is the concatenation, stripe by stripe, of its block of every stripe, so a
// full stripe adds BlockSize bytes to every shard and the last stripe adds
// ceil(L/K). A 0-byte object has no stripes and empty shards.
//
// Shards 0..K-1 hold the object data in order; shards K..K+M-1 are parity.
// Because every stripe except the last starts at ShardOffset(stripe) =
// stripe*BlockSize in every shard, a reader can fetch any stripe of any shard
// without an index.
//
// This layout is persisted (it is what storage nodes hold): changing it
// requires a new profile version, never an in-place edit.
//
// # Role and imports
//
// The package is pure: it starts no goroutines, reads no clock, does no I/O
// and imports nothing from Cairn. The streaming PUT/GET pipelines drive it one
// stripe at a time; see the gateway's object I/O package.
package erasure
