// Package repair is the repairer: run by the meta leader, it keeps every
// stored body at full redundancy. It scans every body in the metadata (a
// version's own body, each part of a multipart version, each part of an
// upload in progress), finds shards that are lost or misplaced, rebuilds
// them through objio onto healthy drives and commits the new placement
// with a RepairShards compare-and-set, so a concurrent overwrite or
// delete always wins (STALE: the rebuilt shards go to GC).
//
// A shard is lost when its node is down (Node.down, committed after the
// node-down grace; or, with Config.DownAfter, silent for that long), gone
// from the map, or its drive is failed or gone, or when it was reported
// damaged (ReportShards: scrubs and gateway reads; a verified shard whose
// digest differs from the record's counts as damaged). A body is also
// worked on when it is under-spread (several shards on one node) and
// enough nodes exist to spread it again. A gateway that commits a body
// under-spread reports it (a SHARD_OK report without a digest: "assess
// this body"), so that a body written while the gateway's map lacked nodes
// the leader's map has is spread at once, not at the next periodic scan;
// with too few nodes the report is dropped and the scan that follows the
// next map change finds the body.
//
// Work is ordered by risk: fewest surviving shards first, across the whole
// cluster. The queue is bounded (Config.MaxQueue): when full, the least
// at-risk work waits for the next scan. Repairs run Config.Concurrency at
// a time and read at most Config.Bandwidth bytes per second. Nothing is
// kept across leaders: a new leader rescans, and a repair cut short by a
// leader change left at most shards that GC or the next repair replaces.
//
// Imports: objio (rebuild), placement (target drives), proto/*pb. It never
// imports node/meta, node/gateway, node/storage, metadata, Raft or Pebble:
// the meta role hands it small interfaces (Metadata, Proposer, Rebuilder,
// Shards), enforced by deps_test.go.
//
// Goroutines: Run owns its workers and scrubs and joins them before it
// returns. Lock order: Repairer.mu is a leaf lock.
package repair
