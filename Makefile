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

# RBAC from the +kubebuilder:rbac markers beside the code that needs it,
# one role.yaml per binary, written into the chart, whose templates read
# the rules from there (charts/ovnet/templates/rbac.yaml).
RBAC_DIR := charts/ovnet/rbac

# Directories whose content `generate` owns; verify-generate compares them.
GENERATED_DIRS := pkg/apis pkg/ovsdb $(CRD_DIR) $(RBAC_DIR)

# Kubernetes and etcd are built from the Go module proxy into a cache outside
# the repository, keyed by version, so a warm machine skips the ~7 minutes.
K8S_VERSION ?= 1.36.3
ETCD_VERSION ?= 3.6.8
OVNET_CACHE ?= $(HOME)/.cache/ovnet
KUBE_BIN := $(OVNET_CACHE)/k8s-$(K8S_VERSION)/bin
export KUBEBUILDER_ASSETS := $(KUBE_BIN)
export OVNET_CACHE

# The test run: every package, then the benchmarks once each so every run
# prints its figures beside their baselines. The timeout is per package:
# test/e2e alone took 25 min on 2026-12-03 (2 shared cores).
TEST_TIMEOUT ?= 45m

# `make test` keeps two test processes running at a time, as `go test ./...`
# did on two cores, but balances them: test/e2e alone was 23 of the tests'
# 35 minutes (2026-12-03). Lane 1 runs test/e2e but the tests E2E_LANE2
# matches (the Helm-installed clusters); lane 2 runs every other package
# one at a time (test/integration first), then those e2e tests. A new e2e
# test lands in lane 1, so none can fall out. Harness names carry the
# process's PID, so the processes cannot collide.
E2E_LANE2 ?= ^TestHelm

# Helm runs at a pinned version through `go run`, like controller-gen
# (Debian has no helm package); the first run builds it, ~5 minutes.
# Built so, helm assumes Kubernetes 1.20 when it has no cluster to ask,
# which the chart's kubeVersion refuses: `helm template` is given
# --kube-version.
HELM_VERSION ?= v3.22.0
HELM ?= $(GO) run helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

.PHONY: all build deps tools test test-lane1 test-lane2 unit bench image sandbox sandbox-bin sandbox-down sandbox-status sandbox-logs generate verify-generate manifests

all: build

build:
	$(GO) build ./...

# Debian packages: Open vSwitch, OVN, iproute2 and the traffic tools.
deps:
	hack/install-deps.sh

# Debian packages plus etcd, kube-apiserver and kubectl for the suites, and
# kube-controller-manager, kube-scheduler and kubelet for the sandbox's node;
# CoreDNS (cluster DNS, yamls/coredns.yaml) and its image
# local.test/coredns:<version>, from hack/coredns (~3 minutes once).
# Binaries already at the wanted version are kept. hack/install-ovs.sh
# unpacks the ovs-vswitchd the suites run (Debian 13's, ~5 s once): Debian
# 12's aborts in its userspace conntrack.
tools: deps
	OVNET_CACHE=$(OVNET_CACHE) hack/install-ovs.sh
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) SRC_CACHE=$(OVNET_CACHE)/src \
		hack/build-k8s.sh $(KUBE_BIN) etcd kube-apiserver kubectl \
		kube-controller-manager kube-scheduler kubelet
	hack/build-coredns.sh image >/dev/null

test: tools
	$(GO) vet ./...
	$(MAKE) --no-print-directory -j2 --output-sync=line test-lane1 test-lane2
	$(MAKE) --no-print-directory bench

# The two lanes of `make test`; each runs on its own too.
test-lane1:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -skip '$(E2E_LANE2)' ./test/e2e

# -p 1: one package at a time, so the lanes together run two test
# binaries, never more; go test starts them in the order given.
test-lane2:
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) ./test/integration $$($(GO) list ./... | grep -v -e '/test/e2e$$' -e '/test/integration$$')
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '$(E2E_LANE2)' ./test/e2e

# Unit tests only: the packages under pkg/ whose tests start nothing (no
# root, no OVS, no API server), run with a PATH holding the go command
# alone so that a test needing an installed program fails; see hack/unit.sh.
# pkg/ovn and pkg/ovs test against a real ovsdb-server: `make test` runs them.
unit:
	GO=$(GO) hack/unit.sh

# IPAM benchmarks run for the usual second each; the cluster benchmarks
# time one full run each (-benchtime 1x) and print their own figures.
bench: tools
	$(GO) test -count=1 -run '^$$' -bench . ./pkg/ipam
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout $(TEST_TIMEOUT) ./test/perf

# The ovnet image (dist/images/Dockerfile's content) without a container
# engine: an OCI archive for `ctr -n k8s.io images import`, named
# $(IMAGE):$(TAG); see hack/build-image.sh. The Debian layer is cached under
# $(OVNET_CACHE)/image-base: about a minute once (mmdebstrap), then ~7 s.
IMAGE ?= docker.io/ovnet/ovnet
TAG ?= dev
IMAGE_ARCHIVE ?= _output/ovnet-image-$(TAG).tar
image: deps
	hack/build-image.sh $(IMAGE_ARCHIVE) $(IMAGE):$(TAG)

# The local sandbox (test/sandbox, a Go program on test/harness): kind-like
# nodes (each a network and mount namespace with its own containerd and
# kubelet; node-1 also runs the control plane) on the modelled underlay with
# an external host and a far network, the ovnet image built here (as `make
# image`) and installed by `helm install` of charts/ovnet, CoreDNS and the
# examples. A detached supervisor keeps it running; its state, logs and
# sandbox.env are in $(SANDBOX_DIR). NODES=3 gives three nodes, EXAMPLES=0
# no examples, RAFT=1 (with NODES=3 or more) OVN central as Raft clusters
# on nodes 1 to 3, ENCAP=vxlan VXLAN between nodes instead of Geneve.
# `make sandbox` again while up rebuilds the image and `helm
# upgrade`s when the sources or the chart changed. `make sandbox-down`
# removes everything, the directory too (KEEP_LOGS=1 keeps the logs).
SANDBOX_DIR ?= /tmp/ovnet-sandbox
SANDBOX_BIN := _output/sandbox
SANDBOX_RUN = SANDBOX_DIR=$(SANDBOX_DIR) $(SANDBOX_BIN)
sandbox-bin:
	@$(GO) build -o $(SANDBOX_BIN) ./test/sandbox/cmd/sandbox

sandbox: tools sandbox-bin
	$(SANDBOX_RUN) up

sandbox-down: sandbox-bin
	$(SANDBOX_RUN) down

sandbox-status: sandbox-bin
	@$(SANDBOX_RUN) status

# LOG=kubelet shows the end of every log whose path names it.
sandbox-logs: sandbox-bin
	@$(SANDBOX_RUN) logs $(LOG)

generate:
	$(GO) generate $(MODEL_PKGS)
	$(CONTROLLER_GEN) object crd:crdVersions=v1 paths=$(API_PATHS) output:crd:dir=$(CRD_DIR)
	$(CONTROLLER_GEN) rbac:roleName=ovnet-controller paths=./pkg/controller/... output:rbac:dir=$(RBAC_DIR)/controller
	$(CONTROLLER_GEN) rbac:roleName=ovnet-daemon paths=./pkg/daemon/... output:rbac:dir=$(RBAC_DIR)/daemon
	$(CONTROLLER_GEN) rbac:roleName=ovnet-uninstall paths=./pkg/uninstall/... output:rbac:dir=$(RBAC_DIR)/uninstall
	$(CONTROLLER_GEN) rbac:roleName=ovnet-speaker paths=./pkg/speaker/... output:rbac:dir=$(RBAC_DIR)/speaker

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

# The chart's CRD is a copy of the generated one; yamls/ovnet.yaml is the
# chart rendered with its defaults, for kubectl-only installs.
manifests:
	for crd in $(notdir $(wildcard $(CRD_DIR)/*.yaml)); do \
	  { printf '%s\n' "# Copy of config/crd/$$crd, which \`make generate\`" \
	      '# (controller-gen, from pkg/apis/ovnet/v1) writes. That file is the source:' \
	      '# do not edit this copy; `make manifests` copies it again.'; \
	    cat $(CRD_DIR)/$$crd; } > charts/ovnet/crds/$$crd || exit 1; \
	done
	{ printf '%s\n' '# ovnet for kubectl-only installs: charts/ovnet rendered with its default values' \
	    '# (namespace kube-system), without Helm hooks (the uninstall Job).' \
	    '# Generated by `make manifests`; do not edit.'; \
	  $(HELM) template ovnet charts/ovnet --namespace kube-system --include-crds --no-hooks --kube-version $(K8S_VERSION); } > yamls/ovnet.yaml.tmp
	mv yamls/ovnet.yaml.tmp yamls/ovnet.yaml
