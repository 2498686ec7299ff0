#!/usr/bin/env bash
# Cluster mode (module cluster/): .ci/run has already vetted it and run its -race tests
# (the bulwark logic over the in-memory transport). This step runs what cannot run under
# -race on the pinned protoactor version (its remote and gossip code races): the
# multi-member tests (build tag clustertest: three members on 127.0.0.1 with the test
# provider, and examples/cluster), the etcd test (tag etcd: Debian's etcd-server started
# on 127.0.0.1, kill -9 of a child-process owner), and checks that the committed wire
# messages are what protoc generates from cluster/internal/pb/bulwark.proto.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v protoc >/dev/null || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
  echo "== apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${need[@]}"
fi

cd cluster
start=$(date +%s)

echo "== cluster: vet with the multi-member tags"
go vet -tags clustertest,etcd ./...

echo "== cluster: generated wire messages are up to date"
# protoc-gen-go at the google.golang.org/protobuf version of go.sum.
pgg_version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
GOBIN="$(go env GOPATH)/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${pgg_version}"
PATH="$(go env GOPATH)/bin:$PATH" go generate ./internal/pb/
git diff --exit-code -- internal/pb/

echo "== cluster: multi-member tests (no -race: protoactor's remote races on this version)"
go test -tags clustertest -count=1 -timeout 10m ./...

echo "== cluster: etcd provider"
go test -tags etcd -count=1 -timeout 5m -run 'TestEtcd' .

echo "== cluster step took $(( $(date +%s) - start )) s"
