.PHONY: proto
proto:
	cd proto && protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative storagepb/storage.proto metapb/meta.proto
