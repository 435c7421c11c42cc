# meshctl build, test and release targets. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
PKG := github.com/meshctl/meshctl
# Pinned tools, run through the Go module proxy (the newest releases that
# build with our Go 1.26 toolchain and whose dependencies the proxy serves).
GOLANGCI_LINT_VERSION := v2.15.0
GORELEASER_VERSION := v2.15.1

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w \
	-X $(PKG)/internal/buildinfo.version=$(VERSION) \
	-X $(PKG)/internal/buildinfo.commit=$(COMMIT) \
	-X $(PKG)/internal/buildinfo.date=$(DATE)

.PHONY: help build test test-unit e2e lint bench demo demo-down demo-transcript meshsim clean sim-deps docs

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## Build bin/meshctl with version information
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meshctl ./cmd/meshctl

test: ## Unit tests, then end-to-end tests
	$(MAKE) test-unit
	$(MAKE) e2e

test-unit: ## Unit tests (fast, no simulator, no prebuilt binary)
	$(GO) test ./...

e2e: ## End-to-end tests against the simulator (builds meshctl and the simulator's binaries)
	@if [ -d test/e2e ]; then \
		$(MAKE) build meshsim sim-deps; \
		MESHCTL_BIN="$(CURDIR)/bin/meshctl" $(GO) test -tags e2e -count=1 -timeout 60m ./test/e2e/...; \
	else \
		echo "no e2e tests yet"; \
	fi

lint: ## gofmt, go vet, golangci-lint and goreleaser check
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...
	$(GO) run github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION) check

bench: build sim-deps ## Benchmarks: unit ones, then those against the simulator (test/e2e)
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
	MESHCTL_BIN="$(CURDIR)/bin/meshctl" $(GO) test -tags e2e -count=1 -timeout 60m -run '^$$' -bench . -benchtime 1x ./test/e2e/...

demo: build meshsim sim-deps ## The whole story on the simulator: check, install, inject, expose, validate
	bash hack/demo.sh

demo-transcript: build meshsim sim-deps ## Run the demo on a throw-away simulator and put its transcript in docs/demo.md
	bash hack/demo-transcript.sh

demo-down: meshsim ## Stop the demo's simulator and remove its state
	bin/meshsim --state "$${DEMO_STATE:-$${XDG_STATE_HOME:-$$HOME/.local/state}/meshctl-demo}" down

meshsim: ## Build bin/meshsim (the simulator; also the asmcli stand-in)
	$(GO) build -trimpath -o bin/meshsim ./cmd/meshsim

sim-deps: ## Build the simulator's third-party binaries (cached; ~20 min the first time)
	bash hack/sim-deps.sh

docs: ## Regenerate the command reference in docs/cli
	$(GO) test ./cmd/meshctl/root -run TestDocsUpToDate -count=1 -update

clean: ## Remove build outputs
	rm -rf bin dist coverage*
