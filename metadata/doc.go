// Package metadata is the state machine of the meta Raft group: it applies
// committed commands (proto/metapb.Command) to a Pebble database and serves
// reads of buckets, object versions, the cluster map and the GC queue.
//
// Role and imports: node/meta wires an FSM into hashicorp/raft and serves its
// reads over gRPC. This package imports proto/metapb, metadata/keys, Pebble
// and Raft only; it never imports node/..., erasure, grpc or net/http, and it
// never opens a connection (enforced by deps_test.go).
//
// Durability: the FSM is persistent. Each Raft batch is applied as one
// Pebble batch that also records the last applied Raft index, so an entry
// is either applied together with its index or not at all. Batches are not
// synced: the Raft log already holds every applied entry durably, and
// Snapshot syncs the state before Raft may compact the log below it
// (apply.go, applyWriteOptions). After a restart Raft replays its log tail
// above the last snapshot (node/meta sets NoSnapshotRestoreOnStart) and
// entries at or below AppliedIndex are skipped.
//
// Determinism: decisions depend only on the command and the stored state.
// Timestamps come inside commands; the FSM reads no clock and draws no random
// numbers, so every replica reaches the same state.
//
// Cluster map: node records change only through NodeHeartbeat (a new or
// changed node; the leader sends it only on a change, older logs once per
// heartbeat), SetNodeDown and SetDriveState. Each moves the map epoch only
// when something placement depends on changes, and a record keeps its
// committed down state and admin state across NodeHeartbeat. Liveness (up)
// and free space are not stored: the leader serves them from soft state.
//
// GC queue: AckGC drops finished entries and clears, in unfinished ones,
// the placements of shards already deleted (GCShardAck), so that a node
// out of reach holds back only its own shards; PendingGCAfter pages
// through the queue by seq.
//
// Stored values are one format byte followed by the protobuf encoding; the
// key layout is metadata/keys. Both are covered by keys.FormatVersion, which
// Open checks against the database.
//
// Failure: if a batch cannot be committed, the FSM stops applying and every
// later Apply returns an error value (see ErrFailed) instead of a
// *metapb.CommandResult; the process must restart, and Raft then replays the
// entries that were lost.
//
// Lock order: FSM.applyMu (serializes Apply, ApplyBatch, Snapshot, Restore)
// before FSM.mu (guards the open database against Close) before
// FSM.snaps.Mutex.
package metadata
