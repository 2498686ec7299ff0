// Package pb holds the wire messages of bulwark's cluster mode, generated from
// bulwark.proto with protoc and protoc-gen-go v1.36.12 (the google.golang.org/protobuf
// version in go.sum). Regenerate with go generate after adding fields.
package pb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative bulwark.proto
