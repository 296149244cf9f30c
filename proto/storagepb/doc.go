// Package storagepb holds the generated protobuf and gRPC code of the
// storage service (storage.proto). It contains no hand-written logic.
package storagepb
