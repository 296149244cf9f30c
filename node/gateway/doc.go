// Package gateway is the S3 HTTP API of Cairn: it authenticates every
// request with SigV4, routes it by bucket and key (path-style or
// virtual-host addressing), reads and writes metadata through the meta
// service and streams object bodies through the Bodies pipeline.
//
// Every request resolves, through one route table (routes.go), to one
// operation: the IAM action that authorizes it and the handler that serves
// it, chosen together from the method and the sub-resource. A method a
// sub-resource does not support is MethodNotAllowed; nothing falls back to
// the plain operation of the method.
//
// The gateway is stateless. A PUT commits metadata only after the body is
// durable and verified (Content-MD5, x-amz-checksum-*); if any step fails
// the body is deleted and nothing becomes visible. Errors reach clients
// only through package s3err, as AWS's XML error documents.
//
// Imports: erasure, proto/metapb and the gateway's own sub-packages; never
// the storage or meta roles, the metadata FSM, Pebble or Raft (enforced by
// deps_test.go). The package holds no locks and starts no goroutines: each
// request runs on the goroutine net/http gives it.
package gateway
