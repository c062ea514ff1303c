# ovnet build entry points. Variables first; targets below stay short.

GO ?= go

# controller-gen is run at a pinned version through `go run`, so nothing is
# installed and every machine generates the same bytes. v0.21 is the release
# built against k8s.io/* v0.36, the version in go.mod.
CONTROLLER_GEN_VERSION ?= v0.21.0
CONTROLLER_GEN ?= $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

# API types (deepcopy + CRD) and the libovsdb models (//go:generate in gen.go).
API_PATHS := ./pkg/apis/...
CRD_DIR := config/crd
MODEL_PKGS := ./pkg/ovsdb/nbdb ./pkg/ovsdb/vswitch

# Directories whose content `generate` owns; verify-generate compares them.
GENERATED_DIRS := pkg/apis pkg/ovsdb $(CRD_DIR)

# Kubernetes and etcd are built from the Go module proxy into a cache outside
# the repository, keyed by version, so a warm machine skips the ~7 minutes.
K8S_VERSION ?= 1.36.3
ETCD_VERSION ?= 3.6.8
OVNET_CACHE ?= $(HOME)/.cache/ovnet
KUBE_BIN := $(OVNET_CACHE)/k8s-$(K8S_VERSION)/bin
export KUBEBUILDER_ASSETS := $(KUBE_BIN)
export OVNET_CACHE

# The test run: every package, then the benchmarks once each so every run
# prints its figures beside their baselines.
TEST_TIMEOUT ?= 30m

.PHONY: all build deps tools test unit bench sandbox sandbox-down generate verify-generate

all: build

build:
	$(GO) build ./...

# Debian packages: Open vSwitch, OVN, iproute2 and the traffic tools.
deps:
	hack/install-deps.sh

# Debian packages plus kube-apiserver, kubectl and etcd for the suites.
tools: deps
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) SRC_CACHE=$(OVNET_CACHE)/src \
		hack/build-k8s.sh $(KUBE_BIN) etcd kube-apiserver kubectl

test: tools
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory bench

# Unit tests only: no root, no OVS, no API server.
unit:
	$(GO) test -count=1 ./pkg/...

# IPAM benchmarks run for the usual second each; the cluster benchmarks
# time one full run each (-benchtime 1x) and print their own figures.
bench: tools
	$(GO) test -count=1 -run '^$$' -bench . ./pkg/ipam
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout $(TEST_TIMEOUT) ./test/perf

# The local sandbox: etcd, kube-apiserver, OVN central and the controller
# on this machine, with the examples applied. `make sandbox-down` stops it.
SANDBOX_DIR ?= /tmp/ovnet-sandbox
sandbox: tools
	$(GO) build -o $(SANDBOX_DIR)/bin/ovnet-controller ./cmd/controller
	KUBE_BIN=$(KUBE_BIN) hack/sandbox.sh up $(SANDBOX_DIR)

sandbox-down:
	hack/sandbox.sh down $(SANDBOX_DIR)

generate:
	$(GO) generate $(MODEL_PKGS)
	$(CONTROLLER_GEN) object crd:crdVersions=v1 paths=$(API_PATHS) output:crd:dir=$(CRD_DIR)

# Compares against a copy taken before regenerating rather than against git,
# so it works before the first commit and with untracked generated files.
verify-generate:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	cp -a --parents $(GENERATED_DIRS) "$$tmp" && \
	$(MAKE) --no-print-directory generate && \
	status=0 && \
	for d in $(GENERATED_DIRS); do diff -r "$$tmp/$$d" "$$d" || status=1; done && \
	if [ $$status -ne 0 ]; then echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1; fi && \
	echo "generated code is up to date"
