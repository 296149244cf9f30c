# Cairn: `make run` starts a local cluster, `make test` installs what the
# tests need and runs them. See README.md.

SHELL     := /bin/bash
GO        ?= go
BIN       := bin/cairn
PKGS_UNIT := $(shell $(GO) list ./... | grep -v /node/e2e)
GOBIN     := $(shell $(GO) env GOPATH)/bin

.PHONY: all build run test test-unit test-e2e test-chaos chaos lint bench fuzz proto proto-tools deps deps-awscli deps-chaos clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cairn

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

test-e2e:
	$(GO) test -count=1 -timeout 20m -v ./node/e2e/

# A short chaos campaign (5 episodes of faults under load, about 2 minutes):
# fails when an acknowledged object is lost or corrupted or the history is
# not linearizable. SEED=n replays a campaign; the seed is printed.
test-chaos: deps-chaos
	CHAOS=1 CHAOS_EPISODES=5 CHAOS_HOLD=6s CHAOS_SEED=$(SEED) \
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

# Benchmarks never run inside `make test`. Compare runs with benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS_UNIT)
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 -timeout 30m -v ./node/e2e/

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
