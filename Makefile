# bosun — see README.md. `make run` starts a cluster; `make test` runs every test.
GO ?= go
BIN := bin/bosun
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/bosun,$(HOME)/.bosun)

.PHONY: build run test unit bench deps fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/bosun

deps:
	./hack/install-deps.sh

run: deps build
	./$(BIN) server --data-dir $(DATA_DIR)

# Every test: unit, integration (real etcd, real API server) and end-to-end (the built binary,
# containerd, the real kubectl). Needs root for the node and network tests.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

unit:
	$(GO) test -count=1 -short ./...

# Prints one figure per line (see test/bench).
bench: build
	$(GO) run ./test/bench -bin $(BIN)

fuzz:
	$(GO) test ./internal/apiserver -run '^$$' -fuzz FuzzDecode -fuzztime 60s

clean:
	rm -rf bin
