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

.PHONY: generate verify-generate

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
