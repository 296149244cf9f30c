// Package meta is the meta role: one voter of the Raft group whose state
// machine is the metadata FSM, and the Meta gRPC service in front of it.
//
// Role: wire hashicorp/raft (transport, Pebble log store, file snapshots,
// bootstrap) to package metadata; forward writes and reads from followers
// to the leader; serve linearizable reads on the leader; keep storage
// node liveness as the leader's soft state (liveness.go); run the GC
// collector that deletes the shards of unreferenced bodies; and run the
// orphan sweep
// (sweep.go) that deletes shards older than Config.OrphanGrace whose data
// ID has no commit record: bodies whose write never committed. While it
// leads it also runs a repairer (package node/repair, repair.go here), a
// fresh one per term, and serves ReportShards, HealStatus and Scrub from
// it; the repairer rebuilds shards through an objio.Store over this node's
// own view of the cluster map.
//
// Imports: metadata, metadata/raftlog, node/repair, node/objio,
// proto/metapb, proto/storagepb, hashicorp/raft and grpc. It must not import node/gateway or
// node/storage: it reaches storage nodes only through storagepb clients.
//
// Invariants:
//   - Node.apply is the only caller of raft.Apply; every write goes
//     through Propose (or an RPC built on it) and respects its ctx.
//   - A read on the leader is served only after leadership is confirmed
//     and the FSM has applied every entry committed when the read began.
//     The first read of each term issues a barrier, because a new leader's
//     commit index may not yet cover entries committed by its predecessor.
//   - A request forwarded by a follower is never forwarded again: a node
//     that is not the leader answers it with Unavailable and the sender
//     retries, so leadership changes cannot create forwarding loops.
//   - Proposals are not serialized: concurrent callers reach raft
//     concurrently and raft batches them.
//   - Heartbeats are not Raft entries. The leader keeps, in memory and for
//     its term only, when each storage node last heartbeated (its own
//     clock) and what it reported (drive usage, faults); the served map
//     merges that into the committed records. Only changes are committed:
//     a new or changed node record (address, failure domain, set of
//     drives; never free space), a drive failing or recovering
//     (SetDriveState), and a node silent for longer than NodeDownAfter or
//     back again (SetNodeDown). A new leader starts with no soft state and
//     counts every node's silence from when it became ready (leaderSince).
//   - The GC collector never stalls: each round resumes a cursor over the
//     queue's seqs, skips nodes that are not up or are down, and
//     acknowledges per shard, so an entry with a shard on a dead node
//     neither blocks the others nor has its other shards deleted twice.
//
// Goroutines: the GC collector, the upload expiry, the orphan sweeper, the
// liveness loop, the repairer's runner and the future waiters are started
// through Node.wg (waiters: Node.waiters) and joined by Close; the runner
// joins each repairer it started before it returns.
//
// Lock order: Node.gcMu (one GC round at a time) before Node.mu; Node.mu
// (client connection caches) and liveness.mu (soft state) are leaf locks.
package meta
