# bosun — see README.md. `make run` starts a cluster; `make test` runs every test.
GO ?= go
BIN := bin/bosun
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/bosun,$(HOME)/.bosun)

.PHONY: build images run test unit bench deps fuzz clean

# The image programs (pause, hello) are compiled first and embedded, so nodes need no Go.
images:
	$(GO) generate ./images

build: images
	$(GO) build -trimpath -ldflags="-s -w" -o $(BIN) ./cmd/bosun

deps:
	./hack/install-deps.sh

run: deps build
	./$(BIN) server --data-dir $(DATA_DIR)

# Every test: unit, integration (real etcd, real API server) and end-to-end (the built binary,
# containerd, the real kubectl). Needs root for the node and network tests.
test: deps images
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

unit:
	$(GO) test -count=1 -short ./...

# Prints the figures each issue names, one per line: API server (start, creates, lists, RSS),
# scheduler (pods/s, creation→binding at 1,000 nodes), controllers (rollout times), node
# (pod start latency; the same pods through bare CRI, the floor under it; agent CPU/RSS with
# 50 pods), service proxy (programming latency, overhead).
BENCH := -run '^$$' -benchtime 1x
bench: build
	$(GO) run ./test/bench -bin $(BIN)
	$(GO) run ./cmd/schedbench
	$(GO) test $(BENCH) -bench 'Deployment' ./internal/controller/integration
	$(GO) test $(BENCH) -bench 'PodStartLatency|CRIFloor|FiftyPodsIdle' ./internal/agent
	$(GO) test -run '^$$' -benchtime 50x -bench 'ProgrammingLatency' ./internal/proxy
	$(GO) test -run '^$$' -benchtime 3000x -bench 'ServiceOverhead' ./internal/proxy
	$(GO) test $(BENCH) -bench 'DeploymentsOnRealPods' ./test/e2e

fuzz:
	$(GO) test ./internal/apiserver -run '^$$' -fuzz FuzzDecode -fuzztime 60s

clean:
	rm -rf bin
