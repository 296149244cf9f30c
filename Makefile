# Cairn: `make run` starts a local cluster, `make test` installs what the
# tests need and runs them. See README.md.

SHELL     := /bin/bash
GO        ?= go
BIN       := bin/cairn
PKGS_UNIT := $(shell $(GO) list ./... | grep -v /node/e2e)
GOBIN     := $(shell $(GO) env GOPATH)/bin

.PHONY: all build run test test-unit test-e2e test-chaos chaos lint bench bench-cluster bench-micro bench-e2e warp fuzz proto proto-tools deps deps-awscli deps-chaos clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/cairn

# A whole local cluster on loopback: 3 meta voters, 6 storage nodes, 1 gateway.
# S3_ADDR and DATA_DIR may be overridden: make run S3_ADDR=127.0.0.1:9100
S3_ADDR  ?= 127.0.0.1:9000
DATA_DIR ?= .cairn-dev
run: build
	./$(BIN) dev --s3-addr $(S3_ADDR) --data-dir $(DATA_DIR)

# The clients of the compatibility suite (node/e2e/compat_test.go): the AWS
# CLI and boto3 as Debian packages them (under /usr/bin, whatever else is on
# PATH), Node.js and npm, and @aws-sdk/client-s3 at the version of the
# committed package-lock.json. Each is installed only when it is absent.
COMPAT_DIR := node/e2e/compat
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps: deps-awscli deps-chaos
	@command -v $(GO) >/dev/null || { echo "Go is required (https://go.dev/dl)"; exit 1; }
	$(GO) mod download
	@pkgs=""; \
	  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import boto3' 2>/dev/null || pkgs="$$pkgs python3-boto3"; \
	  command -v node >/dev/null || pkgs="$$pkgs nodejs"; \
	  command -v npm >/dev/null || pkgs="$$pkgs npm"; \
	  command -v chromium >/dev/null || pkgs="$$pkgs chromium"; \
	  if [ -n "$$pkgs" ]; then \
	    echo "deps: installing$$pkgs"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$pkgs >/dev/null; \
	  fi
	@cd $(COMPAT_DIR) && \
	  if [ ! -f package-lock.json ]; then npm install --no-audit --no-fund --loglevel=error; \
	  elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	    npm ci --no-audit --no-fund --loglevel=error; \
	  fi

# The AWS CLI (Debian package) drives the client-compatibility and multipart tests.
deps-awscli:
	@{ [ -x /usr/bin/aws ] && command -v aws >/dev/null; } || { \
	  echo "deps: installing awscli"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq awscli >/dev/null; }

# The chaos campaign (node/chaos) puts each process in a network namespace
# (deploy/netns-cluster.sh, needs root and iproute2) and cuts links with
# iptables inside them. Without root it runs on loopback with process
# faults only, so nothing is installed then.
deps-chaos:
	@if [ "$$(id -u)" = 0 ]; then \
	  pkgs=""; \
	  command -v ip >/dev/null || pkgs="$$pkgs iproute2"; \
	  command -v iptables >/dev/null || pkgs="$$pkgs iptables"; \
	  if [ -n "$$pkgs" ]; then \
	    echo "deps: installing$$pkgs"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null || \
	      echo "deps: could not install$$pkgs; the chaos campaign injects fewer faults"; \
	  fi; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps lint test-unit test-e2e test-chaos

test-unit:
	$(GO) test -race -count=1 -timeout 15m $(PKGS_UNIT)

# CAIRN_E2E_REQUIRE_CHROMIUM: the web console's browser test fails rather
# than skips without chromium (make deps installs it).
test-e2e:
	CAIRN_E2E_REQUIRE_CHROMIUM=1 $(GO) test -count=1 -timeout 20m -v ./node/e2e/

# A short chaos campaign (5 episodes of faults under load, about 2 minutes):
# fails when an acknowledged object is lost or corrupted or the history is
# not linearizable. Its plan is fixed (TEST_CHAOS_SEED, seven fault kinds)
# so that every run of make test asks the same questions; `make chaos`
# draws new ones.
TEST_CHAOS_SEED ?= 7
test-chaos: deps-chaos
	CHAOS=1 CHAOS_EPISODES=5 CHAOS_HOLD=6s CHAOS_SEED=$(TEST_CHAOS_SEED) \
	  $(GO) test -count=1 -timeout 10m -run TestCampaign -v ./node/chaos/

# A campaign of your choosing: make chaos SEED=42 DURATION=30m (or
# EPISODES=20), HOLD=10s, JSON=report.json for a machine-readable report.
# CHAOS_TIMEOUT bounds the whole run (go test -timeout).
SEED          ?=
DURATION      ?= 5m
EPISODES      ?=
HOLD          ?=
JSON          ?=
CHAOS_TIMEOUT ?= 3h
chaos: deps-chaos
	CHAOS=1 CHAOS_SEED=$(SEED) CHAOS_DURATION=$(if $(EPISODES),,$(DURATION)) CHAOS_EPISODES=$(EPISODES) \
	  CHAOS_HOLD=$(HOLD) CHAOS_JSON=$(if $(JSON),$(abspath $(JSON))) \
	  $(GO) test -count=1 -timeout $(CHAOS_TIMEOUT) -run TestCampaign -v ./node/chaos/

# Benchmarks never run inside `make test`. `make bench` measures a fresh
# local cluster with MinIO's warp (`cairn bench`, one table), then runs the Go
# micro-benchmarks and prints each beside its ceiling on this machine kind.
# Pass flags to cairn bench with BENCH_FLAGS, e.g.
#   make bench BENCH_FLAGS="--duration 5s --workloads put-4k,get-1m"
# and pick micro-benchmarks with MICRO (a -bench regexp). Compare runs of
# the micro-benchmarks with benchstat (the raw output is bin/bench-micro.txt).
BENCH_FLAGS ?=
MICRO       ?= .
bench: bench-cluster bench-micro

bench-cluster: build warp
	./$(BIN) bench --warp $(WARP) $(BENCH_FLAGS)

bench-micro: build
	@mkdir -p bin
	@# The table is printed even when a package fails; the target fails after it.
	@set -o pipefail; $(GO) test -run '^$$' -bench '$(MICRO)' -benchmem -count=1 $(PKGS_UNIT) 2>&1 | tee bin/bench-micro.txt; rc=$$?; \
	  echo; ./$(BIN) bench ceilings bin/bench-micro.txt && exit $$rc

# The multi-process Go benchmarks of node/e2e (64 MiB PUT/GET, multipart,
# listing at scale).
bench-e2e:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 -timeout 30m -v ./node/e2e/

# MinIO's warp, the load generator users compare object stores with, built
# once from its module source into a cache outside the repository. Its
# module's checksum is not in the checksum database, hence GOSUMDB=off; the
# version is pinned, and the module proxy's zip is what gets built.
WARP_VERSION := v1.3.1
WARP_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cairn/warp-$(WARP_VERSION)
WARP         := $(WARP_DIR)/warp

warp: $(WARP)

$(WARP):
	@mkdir -p $(WARP_DIR)
	@set -eo pipefail; cd $(WARP_DIR); \
	  mod=$$(GOFLAGS=-mod=mod GOSUMDB=off $(GO) mod download -json github.com/minio/warp@$(WARP_VERSION) | \
	    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  test -n "$$mod" || { echo "warp: go mod download gave no source directory"; exit 1; }; \
	  rm -rf src && cp -r "$$mod" src && chmod -R u+w src; \
	  echo "warp: building $(WARP_VERSION) into $(WARP_DIR) (about a minute)"; \
	  cd src && GOFLAGS=-mod=mod GOSUMDB=off $(GO) build -trimpath -o ../warp.tmp . && mv ../warp.tmp ../warp

fuzz:
	@echo "run one target for a while, e.g.: go test -fuzz FuzzChunkDecoder ./node/gateway/sigv4/"

proto-tools:
	command -v protoc >/dev/null || (apt-get update && apt-get install -y protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

proto: proto-tools
	cd proto && PATH="$(GOBIN):$$PATH" protoc -I . \
	  --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
	  storagepb/storage.proto metapb/meta.proto

clean:
	rm -rf bin e2e.out
