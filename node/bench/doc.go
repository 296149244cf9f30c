// Package bench measures a local Cairn cluster the way its users measure
// object stores: with MinIO's load generator warp (a pinned release, see
// WarpVersion), over the S3 API, against a fresh multi-process cluster.
// `cairn bench` is its command.
//
// Run starts a cluster with node/devcluster (3 meta voters, 6 storage
// nodes, 1 gateway, 4+2) in a new directory, measures the CPU the idle
// cluster burns, then runs warp once per workload of a matrix (PUT and
// GET of several sizes, and GETs with two storage nodes killed or frozen)
// and reduces each run to one table row: warp's throughput, latency
// percentiles and errors, and, from /proc, the CPU seconds each role spent
// per GiB moved and the peak resident memory of each role's largest
// process. CPU and memory are sampled from /proc/<pid>/stat and
// /proc/<pid>/status every SampleEvery for the whole run and evaluated
// over warp's own window (its first operation's start to its last
// operation's end), so warp's start-up, listing and exit are not counted.
// Over the same window it measures the client (warp and its descendants)
// and, from /proc/stat, how busy the machine's cores were and how long
// they waited on I/O, and derives the CPU ceiling: the throughput if every
// core did nothing but this workload's work.
//
// GET workloads read objects uploaded beforehand with the AWS SDK (warp's
// --list-existing), so that a fault can be injected between upload and
// measurement. A frozen node (SIGSTOP) is always resumed and a killed one
// restarted, whatever happened to the workload.
//
// Ceilings maps the Go micro-benchmarks of the repository to the
// per-core ceilings measured for this kind of machine, and
// WriteCeilingTable prints `go test -bench` output beside them.
//
// The package drives processes; it imports no role: only node/devcluster,
// the AWS SDK and the standard library.
package bench
