// Package metapb holds the generated protobuf and gRPC code of the meta
// service, its Raft commands and its persisted records (meta.proto). It
// contains no hand-written logic.
package metapb
