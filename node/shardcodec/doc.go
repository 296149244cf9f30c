// Package shardcodec is the gRPC codec of the shard data path: it moves
// WriteShard and ReadShard data between the gateway and storage without
// the copies and buffer clearing of the generic protobuf codec.
//
// The bytes on the wire are ordinary protobuf: a storage server without
// this codec decodes them with the default one (gRPC falls back to proto
// for an unknown content-subtype), and every message other than the ones
// below is handed to the protobuf codec unchanged. The codec is
// registered under the content-subtype Name when the package is imported;
// a client selects it per call with grpc.CallContentSubtype(Name).
//
// Sending: a WriteChunk carries its data as a mem.Buffer that the codec
// references rather than copies. gRPC frees that reference once the bytes
// are written to the connection (or the stream is abandoned), so the
// buffer's owner learns through its pool's Put when the memory may be
// reused. Receiving: Unmarshal into a *storagepb.WriteShardRequest copies
// the data once, straight from the received frames into the message's Data,
// reusing its capacity, so a handler that receives into one message keeps
// one buffer for the whole stream. Unmarshal into a *WriteRefs copies
// nothing: its Data holds references to the pieces of the received frames
// that carry the data, which the receiver frees once it has written them.
//
// Reads mirror this. A storage server sends a ReadChunk, whose data is a
// mem.Buffer referenced like a WriteChunk's, but only when Negotiated says
// the client asked for the codec (a client without it gets the protobuf
// codec, which cannot marshal a ReadChunk). A client receives into a
// ReadInto, whose Data capacity it chooses: the data is copied once, from
// the frames straight into that buffer. Or it receives into a ReadRefs,
// which keeps references to the received frames instead of copying: a
// gateway writes a block from them straight to its client.
//
// Imports: proto/storagepb, gRPC and protobuf only.
package shardcodec
