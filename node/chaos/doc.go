// Package chaos runs fault campaigns against a real multi-process Cairn
// cluster and proves, from the recorded history, that nothing acknowledged
// was lost, changed or reordered.
//
// # Role
//
// A campaign (Campaign.Run) starts 3 meta voters, 7 storage nodes (one more
// than k+m = 6) and 1 gateway as separate cairn processes, each in its own
// network namespace made by deploy/netns-cluster.sh (or, where namespaces
// cannot be made, on 127.0.0.x loopback addresses with process faults only).
// Concurrent S3 clients (aws-sdk-go-v2) PUT, GET, DELETE and conditionally
// PUT a small set of keys while a seeded scheduler (Plan) runs episodes: pick
// faults, apply them under load, hold, heal. The faults are explicit kinds
// with counters: kill -9 and restart of a storage node, a meta voter, the
// meta leader or the gateway (in the middle of PUTs); SIGSTOP/SIGCONT;
// partitions (a meta voter cut off, a storage node unreachable from the
// gateway); packet loss and delay; bit flips in shard files; a full drive;
// a removed drive directory.
//
// Afterwards the checker proves two properties of the history:
//
//   - Linearizability (porcupine), per key, of a register with put,
//     put-if-absent (If-None-Match: *), put-if-match (If-Match: "<etag>"),
//     get and delete. An operation whose outcome is unknown (timeout, 5xx,
//     connection lost after sending) may or may not have taken effect: it
//     returns at the end of the history with an output that fits either way.
//   - Durability: once faults are healed and the cluster has settled (or the
//     caller's WaitRepaired hook says repair is done), every key reads back
//     one of the values that could be current: an acknowledged write not
//     followed by an acknowledged overwrite or delete is there, byte for
//     byte. Bytes that no client ever wrote count as corrupted.
//
// Every value is self-describing (key, writer, sequence, size in a header;
// the rest a deterministic function of them), so a read is verified without
// keeping bodies in memory.
//
// # Invariants
//
//   - Every random choice comes from the campaign seed, which is logged;
//     Plan(seed) is a pure function, so the same seed gives the same plan.
//   - At most MaxStorageDamaged storage nodes are damaged at once, counting
//     bit-flipped shards and removed drives (permanent until repair), and at
//     most one storage node is unavailable for writes at once, so that every
//     write is fully spread; at most one meta voter is faulted at once.
//   - Traffic goes only to the namespaces' bridge addresses or loopback;
//     the harness checks the route before sending anything.
//   - Close removes everything the campaign made, even after a failure:
//     processes, firewall rules and qdiscs (inside the namespaces), tmpfs
//     mounts, namespaces and the bridge.
//
// # Imports
//
// Test-support only: imported from _test.go files, never by the product
// (deps_test.go enforces it). It may import anything; it uses devcluster for
// the process layout and arguments, proto/metapb to find the meta leader,
// and the AWS SDK as its S3 client.
//
// # Locks
//
// Campaign.mu guards the active faults, the mounts and the closed flag;
// Cluster.mu the process table; Injector.mu the fault counters; History.mu
// the recorded operations. No two are held together.
package chaos
