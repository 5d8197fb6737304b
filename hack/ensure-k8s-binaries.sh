#!/usr/bin/env bash
# Ensures the Kubernetes test binaries drover's test bed runs (kube-apiserver, etcd,
# kube-controller-manager, kube-scheduler, kwok) exist under bin/k8s/<version>/.
#
# 1. Already there (a previous run)?  Done.
# 2. Try the usual setup-envtest download (works on a machine with internet access).
# 3. Otherwise build them from the Go module proxy at pinned versions: kube-apiserver,
#    kube-controller-manager and kube-scheduler from k8s.io/kubernetes in a small build
#    module whose go.mod replaces each k8s.io staging module with its published v0.X.Y
#    twin; etcd from go.etcd.io/etcd/server/v3 (its root package is the etcd main); kwok
#    by go install.
#
# Prints the directory on stdout. Everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.14}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
SETUP_ENVTEST_VERSION="${SETUP_ENVTEST_VERSION:-v0.25.1}"
DEST="${ROOT}/bin/k8s/${K8S_VERSION}"
BINARIES=(kube-apiserver etcd kube-controller-manager kube-scheduler kwok)

log() { echo "ensure-k8s-binaries: $*" >&2; }

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "${DEST}/${b}" ]] || return 1; done
}

if have_all; then
  echo "${DEST}"
  exit 0
fi
mkdir -p "${DEST}"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0

try_setup_envtest() {
  [[ "${DROVER_SKIP_ENVTEST_DOWNLOAD:-}" == "1" ]] && return 1
  local tool="${ROOT}/bin/setup-envtest"
  if [[ ! -x "${tool}" ]]; then
    GOBIN="${ROOT}/bin" go install "sigs.k8s.io/controller-runtime/tools/setup-envtest@${SETUP_ENVTEST_VERSION}" >&2 || return 1
  fi
  local dir
  dir="$(timeout 60 "${tool}" use "${K8S_VERSION}" --bin-dir "${ROOT}/bin/setup-envtest-cache" -p path 2>/dev/null)" || return 1
  [[ -x "${dir}/kube-apiserver" && -x "${dir}/etcd" ]] || return 1
  cp "${dir}/kube-apiserver" "${dir}/etcd" "${DEST}/"
  log "kube-apiserver and etcd downloaded by setup-envtest"
}

build_module() {
  # A throw-away module that builds k8s.io/kubernetes commands against the published
  # staging modules.
  local dir="${ROOT}/bin/.k8s-build/${K8S_VERSION}"
  if [[ ! -f "${dir}/go.mod" ]]; then
    mkdir -p "${dir}"
    local info gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
    [[ -f "${gomod}" ]] || { log "cannot download k8s.io/kubernetes@v${K8S_VERSION}"; return 1; }
    # Same requirements as kubernetes itself, so the build resolves to the versions it was
    # released with; staging modules point at their published twins.
    sed -e 's#^module .*#module drover.dev/k8s-build#' \
        -e "s#=> ./staging/src/\(k8s.io/[a-z0-9-]*\)#=> \1 v0.${K8S_VERSION#*.}#" \
        "${gomod}" > "${dir}/go.mod.tmp"
    {
      cat "${dir}/go.mod.tmp"
      echo
      echo "require k8s.io/kubernetes v${K8S_VERSION}"
    } > "${dir}/go.mod"
    rm -f "${dir}/go.mod.tmp"
    cat > "${dir}/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  fi
  echo "${dir}"
}

# build_k8s builds those of the named k8s.io/kubernetes commands that are missing, in one
# go build: the three share most of their packages, and their links run side by side.
build_k8s() {
  local name dir pkgs=()
  for name in "$@"; do
    [[ -x "${DEST}/${name}" ]] || pkgs+=("k8s.io/kubernetes/cmd/${name}")
  done
  [[ ${#pkgs[@]} -gt 0 ]] || return 0
  dir="$(build_module)"
  log "building ${pkgs[*]##*/} v${K8S_VERSION} from the Go module proxy (a few minutes)"
  # Stamp the version the binaries report on /version, as Kubernetes' own build does.
  local minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  local v ldflags="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${v}.gitVersion=v${K8S_VERSION} -X ${v}.gitMajor=${K8S_VERSION%%.*} -X ${v}.gitMinor=${minor} -X ${v}.gitTreeState=clean"
  done
  # -o naming a directory (trailing slash) writes each command there under its own name.
  (cd "${dir}" && GOFLAGS="${GOFLAGS} -mod=mod" go build -trimpath -ldflags="${ldflags}" -o "${DEST}/" "${pkgs[@]}")
}

build_etcd() {
  [[ -x "${DEST}/etcd" ]] && return 0
  # etcd's server module carries replace directives, so `go install pkg@version` refuses
  # it; a build module that requires it resolves its siblings at the same release.
  local dir="${ROOT}/bin/.k8s-build/etcd-${ETCD_VERSION}"
  mkdir -p "${dir}"
  cat > "${dir}/go.mod" <<MOD
module drover.dev/etcd-build

go 1.24

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
MOD
  log "building etcd ${ETCD_VERSION} from the Go module proxy"
  (cd "${dir}" && GOFLAGS="${GOFLAGS} -mod=mod" go build -trimpath -ldflags="-s -w" -o "${DEST}/etcd" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  [[ -x "${DEST}/kwok" ]] && return 0
  log "installing kwok ${KWOK_VERSION}"
  GOBIN="${DEST}" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
}

if [[ ! -x "${DEST}/kube-apiserver" || ! -x "${DEST}/etcd" ]]; then
  try_setup_envtest || log "setup-envtest download unavailable; building from source"
fi
build_etcd
build_k8s kube-apiserver kube-controller-manager kube-scheduler
build_kwok
have_all || { log "missing binaries in ${DEST}"; exit 1; }
echo "${DEST}"
