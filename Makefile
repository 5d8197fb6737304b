# drover's developer entry points. `make help` lists them.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BIN  := $(ROOT)/bin
GO   ?= go

# Pinned tools. Each is installed once as bin/<tool>-<version>; bin/<tool> links to it.
CONTROLLER_GEN_VERSION ?= v0.21.0
GOLANGCI_LINT_VERSION  ?= v2.15.0

CONTROLLER_GEN := $(BIN)/controller-gen
GOLANGCI_LINT  := $(BIN)/golangci-lint

# go test flags: `make test GOTESTFLAGS='-run TestValidation -v'`.
TEST_TIMEOUT ?= 45m
GOTESTFLAGS  ?=
TEST_PKGS    ?= ./...

# What generation writes (verify-gen checks it): controller-gen's api/ and config/, and
# the API reference hack/apidocs writes.
GEN_PATHS := api config docs/api-reference.md charts/drover/files

# Every Go file of the module (bin/ holds throw-away build modules).
GO_FILES = $$(find . \( -path ./bin -o -path ./.git \) -prune -o -name '*.go' -print)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods (api/**/zz_generated.deepcopy.go).
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: controller-gen api-docs ## Generate CRDs (config/crd/bases), the manager ClusterRole (config/rbac/role.yaml) and docs/api-reference.md.
	$(CONTROLLER_GEN) crd rbac:roleName=drover-manager-role paths=./... \
	  output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@# CEL rules may read metadata.namespace of embedded manifests (see hack/crdmeta).
	$(GO) run ./hack/crdmeta config/crd/bases
	@# The Helm chart carries copies of both.
	$(MAKE) --no-print-directory helm-sync

.PHONY: api-docs
api-docs: ## Generate the API reference (docs/api-reference.md) from the types in api/v1alpha1.
	$(GO) run ./hack/apidocs -o docs/api-reference.md api/v1alpha1

.PHONY: fmt
fmt: ## Run gofmt -s on every Go file.
	gofmt -s -w $(GO_FILES)

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: golangci-lint ## Check formatting (fails on a diff), go vet and golangci-lint.
	@unformatted="$$(gofmt -s -l $(GO_FILES))"; \
	if [[ -n "$$unformatted" ]]; then \
	  echo "gofmt -s would change these files (run make fmt):"; echo "$$unformatted"; \
	  gofmt -s -d $$unformatted; exit 1; \
	fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

.PHONY: verify-gen
verify-gen: ## Regenerate code, manifests and the API reference; fail if that changes anything in api/, config/ or docs/api-reference.md.
	@snap="$$(mktemp -d)"; trap 'rm -rf "$$snap"' EXIT; \
	tar -cf - $(GEN_PATHS) | tar -xf - -C "$$snap"; \
	$(MAKE) --no-print-directory generate manifests; \
	changed=0; \
	for d in $(GEN_PATHS); do \
	  git diff --no-index --exit-code --stat "$$snap/$$d" "$$d" || changed=1; \
	done; \
	if [[ $$changed -ne 0 ]]; then \
	  for d in $(GEN_PATHS); do git --no-pager diff --no-index "$$snap/$$d" "$$d" || true; done; \
	  echo "verify-gen: generated files are out of date; run 'make generate manifests' and commit the result." >&2; \
	  exit 1; \
	fi; \
	echo "verify-gen: generated files are up to date."

##@ Build

.PHONY: build
build: ## Build bin/manager (and bin/kubectl-drover when cmd/kubectl-drover exists).
	$(GO) build -o $(BIN)/manager ./cmd/manager
	@if [[ -d cmd/kubectl-drover ]]; then \
	  echo "$(GO) build -o $(BIN)/kubectl-drover ./cmd/kubectl-drover"; \
	  $(GO) build -o $(BIN)/kubectl-drover ./cmd/kubectl-drover; \
	fi

.PHONY: run
run: ## Run the manager against the cluster of the current kubeconfig (no leader election).
	$(GO) run ./cmd/manager --leader-elect=false $(ARGS)

.PHONY: dev
dev: test-binaries build moto octavia prometheus ## Run the sandbox: a control plane, 3 workload clusters, AWS (moto), Octavia, Prometheus and drover against them.
	@[[ -d cmd/sandbox ]] || { echo "make dev: cmd/sandbox does not exist yet" >&2; exit 1; }
	@# Built and run rather than go run, which exits 1 after a Ctrl-C that the sandbox handled.
	$(GO) build -o $(BIN)/sandbox ./cmd/sandbox
	DROVER_K8S_BIN="$$(hack/ensure-k8s-binaries.sh)" DROVER_MOTO_SERVER="$$(hack/ensure-moto.sh 2>/dev/null)" DROVER_PROMETHEUS="$(BIN)/prometheus/prometheus" $(BIN)/sandbox $(ARGS)

##@ Test

.PHONY: test-binaries
test-binaries: ## Build or fetch kube-apiserver, etcd, kube-controller-manager, kube-scheduler and kwok into bin/k8s/.
	hack/ensure-k8s-binaries.sh

.PHONY: prometheus
prometheus: ## Fetch the Prometheus server the gate tests run into bin/prometheus/.
	hack/ensure-prometheus.sh

.PHONY: moto
moto: ## Find or install moto's server mode (moto_server), the AWS emulator of the ELBv2 and Route53 tests.
	hack/ensure-moto.sh >/dev/null

.PHONY: octavia
octavia: ## Install the real OpenStack Octavia API and worker and RabbitMQ from Debian's packages (needs root or sudo).
	hack/ensure-octavia.sh

.PHONY: chromium
chromium: ## Find or install (Debian's package) the headless Chromium the dashboard's browser test drives.
	hack/ensure-chromium.sh >/dev/null

.PHONY: test
test: test-binaries prometheus moto octavia chromium ## Run every test (against real kube-apiservers, moto, Octavia, Prometheus and a headless Chromium).
	@dir="$$(hack/ensure-k8s-binaries.sh)"; moto="$$(hack/ensure-moto.sh 2>/dev/null)"; chromium="$$(hack/ensure-chromium.sh 2>/dev/null)"; \
	echo "DROVER_K8S_BIN=$$dir DROVER_PROMETHEUS=$(BIN)/prometheus/prometheus DROVER_MOTO_SERVER=$$moto DROVER_CHROMIUM=$$chromium GOTEST_FLAGS='-timeout $(TEST_TIMEOUT) $(GOTESTFLAGS)' hack/test.sh $(TEST_PKGS)"; \
	DROVER_K8S_BIN="$$dir" KUBEBUILDER_ASSETS="$$dir" DROVER_PROMETHEUS="$(BIN)/prometheus/prometheus" DROVER_MOTO_SERVER="$$moto" DROVER_CHROMIUM="$$chromium" \
	  GOTEST_FLAGS="-timeout $(TEST_TIMEOUT) $(GOTESTFLAGS)" hack/test.sh $(TEST_PKGS)

# Benchmarks (docs/benchmarks.md): `make bench BENCH=Eviction` runs the ones matching.
BENCH      ?= .
BENCHFLAGS ?=
BENCH_PKGS ?= ./internal/bench/...

.PHONY: bench
bench: test-binaries prometheus moto octavia ## Run the benchmarks of docs/benchmarks.md (eviction, rollback, mirror, scale) once each; BENCH=<regexp> picks.
	@dir="$$(hack/ensure-k8s-binaries.sh)"; moto="$$(hack/ensure-moto.sh 2>/dev/null)"; \
	echo "$(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=1x -p 1 -v -timeout 90m $(BENCHFLAGS) $(BENCH_PKGS)"; \
	DROVER_K8S_BIN="$$dir" KUBEBUILDER_ASSETS="$$dir" DROVER_PROMETHEUS="$(BIN)/prometheus/prometheus" DROVER_MOTO_SERVER="$$moto" \
	  $(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=1x -p 1 -v -timeout 90m $(BENCHFLAGS) $(BENCH_PKGS)

.PHONY: fuzz
fuzz: ## Fuzz every fuzz target for FUZZTIME each (default 30s); their committed seeds run in make test anyway.
	FUZZTIME=$(or $(FUZZTIME),30s) hack/fuzz.sh

##@ Packaging

# The release: the image tag and the version stamped into the binary.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The manager image docker-build builds and deploy runs.
IMG ?= registry.example/drover/manager:$(VERSION)
# docker or podman, whichever is installed.
CONTAINER_TOOL ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)
# The kustomization deploy applies: config/default, config/runtime-extension (with the
# Cluster API upgrade hooks; needs cert-manager) or an overlay of your own.
DEPLOY_CONFIG ?= config/default
KUBECTL ?= kubectl
# undeploy keeps the CRDs (deleting them deletes every Prod, ProdSet...) unless this is true.
UNDEPLOY_CRDS ?= false
CHART_DIR := charts/drover
# How the Dockerfile builds the manager (internal/packaging checks that both agree).
STATIC_LDFLAGS = -s -w -X k8s.io/client-go/pkg/version.gitVersion=$(VERSION) -X k8s.io/client-go/pkg/version.gitCommit=$(COMMIT)

.PHONY: build-static
build-static: ## Build bin/manager-static as the image does: static (CGO_ENABLED=0), -trimpath, version stamped.
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "$(STATIC_LDFLAGS)" -o $(BIN)/manager-static ./cmd/manager

.PHONY: docker-build
docker-build: ## Build the manager image IMG (registry.example/drover/manager:VERSION) with docker or podman.
	@if [[ -z "$(CONTAINER_TOOL)" ]]; then \
	  echo "docker-build: neither docker nor podman is installed. Install one, or build elsewhere:" >&2; \
	  echo "  docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) ." >&2; \
	  echo "(make build-static builds the same binary without a container engine.)" >&2; exit 1; \
	fi; \
	if ! $(CONTAINER_TOOL) info >/dev/null 2>&1; then \
	  echo "docker-build: $(CONTAINER_TOOL) is installed but no container engine answers ($(CONTAINER_TOOL) info failed)." >&2; \
	  echo "Start one (dockerd, podman machine) or build on a machine that has one." >&2; exit 1; \
	fi
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image IMG.
	@[[ -n "$(CONTAINER_TOOL)" ]] || { echo "docker-push: neither docker nor podman is installed" >&2; exit 1; }
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: deploy
deploy: ## Install or upgrade drover in the current kubeconfig's cluster (DEPLOY_CONFIG=config/default, image IMG).
	@set -euo pipefail; dir="$(BIN)/deploy"; rm -rf "$$dir"; mkdir -p "$$dir"; \
	img="$(IMG)"; name="$${img%:*}"; tag="$${img##*:}"; \
	if [[ "$$img" != *:* || "$$tag" == */* ]]; then name="$$img"; tag=latest; fi; \
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
	  'resources:' '- ../../$(DEPLOY_CONFIG)' 'images:' '- name: registry.example/drover/manager' \
	  "  newName: $$name" "  newTag: \"$$tag\"" > "$$dir/kustomization.yaml"; \
	echo "$(KUBECTL) kustomize $(DEPLOY_CONFIG) (image $$name:$$tag) | $(KUBECTL) apply --server-side -f -"; \
	$(KUBECTL) kustomize "$$dir" | $(KUBECTL) apply --server-side --field-manager=drover-deploy -f -

.PHONY: undeploy
undeploy: ## Remove what deploy installed, except the CRDs (and so every drover object); UNDEPLOY_CRDS=true removes them too.
	@set -euo pipefail; dir="$(BIN)/undeploy"; rm -rf "$$dir"; mkdir -p "$$dir"; \
	printf '%s\n' 'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
	  'resources:' '- ../../$(DEPLOY_CONFIG)' > "$$dir/kustomization.yaml"; \
	if [[ "$(UNDEPLOY_CRDS)" != true ]]; then \
	  printf '%s\n' 'patches:' '- target:' '    kind: CustomResourceDefinition' '  patch: |-' \
	    '    $$patch: delete' '    apiVersion: apiextensions.k8s.io/v1' '    kind: CustomResourceDefinition' \
	    '    metadata:' '      name: any' >> "$$dir/kustomization.yaml"; \
	  echo "undeploy: keeping drover's CRDs and objects (UNDEPLOY_CRDS=true removes them; see docs/operations.md)"; \
	fi; \
	$(KUBECTL) kustomize "$$dir" | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: helm-sync
helm-sync: ## Copy the generated CRDs, ClusterRole rules and config/admission's policies into the Helm chart (charts/drover/files/).
	mkdir -p $(CHART_DIR)/files/crds $(CHART_DIR)/files/rbac $(CHART_DIR)/files/admission
	rm -f $(CHART_DIR)/files/crds/*.yaml $(CHART_DIR)/files/admission/*.yaml
	cp config/crd/bases/*.yaml $(CHART_DIR)/files/crds/
	cp config/rbac/role.yaml $(CHART_DIR)/files/rbac/role.yaml
	cp $(filter-out config/admission/kustomization.yaml,$(wildcard config/admission/*.yaml)) $(CHART_DIR)/files/admission/

.PHONY: helm-package
helm-package: helm-sync ## Package the Helm chart into bin/charts/drover-<version>.tgz (helm if installed, else hack/helmpackage).
	@mkdir -p $(BIN)/charts; \
	if command -v helm >/dev/null 2>&1; then \
	  echo "helm package $(CHART_DIR) -d $(BIN)/charts"; helm lint $(CHART_DIR) && helm package $(CHART_DIR) -d $(BIN)/charts; \
	else \
	  echo "$(GO) run ./hack/helmpackage -d $(BIN)/charts $(CHART_DIR)"; $(GO) run ./hack/helmpackage -d $(BIN)/charts $(CHART_DIR); \
	fi

.PHONY: test-packaging
test-packaging: ## Run the packaging tests: Dockerfile, static build, Helm chart and kustomize bases (internal/packaging).
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./internal/packaging/

##@ Tools

.PHONY: tools
tools: controller-gen golangci-lint ## Install the pinned tools into bin/ (setup-envtest is tried by test-binaries).

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)-$(CONTROLLER_GEN_VERSION)
	@ln -sf controller-gen-$(CONTROLLER_GEN_VERSION) $(CONTROLLER_GEN)
$(CONTROLLER_GEN)-$(CONTROLLER_GEN_VERSION):
	$(call go-install-tool,$@,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_GEN_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION)
	@ln -sf golangci-lint-$(GOLANGCI_LINT_VERSION) $(GOLANGCI_LINT)
$(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION):
	$(call go-install-tool,$@,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool installs package $(2) at version $(3) as the file $(1).
define go-install-tool
@set -euo pipefail; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
echo "installing $(2)@$(3)"; \
GOBIN="$$tmp" GOFLAGS=-buildvcs=false $(GO) install "$(2)@$(3)"; \
mkdir -p "$(dir $(1))"; mv "$$tmp/$(notdir $(2))" "$(1)"
endef
