// Package raftlog implements hashicorp/raft's LogStore and StableStore on a
// Pebble database owned by the meta role.
//
// Role: the durable half of the Raft replica. The FSM lives elsewhere
// (package metadata); this package keeps only the replicated log and the
// few stable values (current term, last vote) Raft needs across restarts.
//
// Imports: hashicorp/raft and cockroachdb/pebble only. It never opens a
// connection and must not import node/..., grpc or net/http (pebble and
// raft pull net/http in transitively; this package does not use it).
//
// Invariants:
//   - Every write that Raft relies on for safety (StoreLogs, Set, SetUint64,
//     DeleteRange) is synced before it returns.
//   - Log keys are a one-byte prefix followed by the big-endian index, so
//     Pebble's order is the log order and First/Last are single seeks.
//   - Every value starts with a format byte so the encoding can evolve.
//   - The cached first and last indexes always equal what a scan of the
//     database would return; they are updated under Store.mu after the
//     write that changes them is durable.
//
// Lock order: closeMu (shared) → writeMu → mu; mu is a leaf.
package raftlog
