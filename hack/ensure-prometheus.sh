#!/usr/bin/env bash
# Ensures the Prometheus server the gate tests run (internal/test/clouds/prometheustest)
# exists as bin/prometheus/prometheus.
#
# 1. Already there and runs (a previous run)?  Done.
# 2. A prometheus on PATH?  Link it.
# 3. Otherwise take it from Debian's package without installing the package: apt-get
#    download into a temporary directory, dpkg-deb -x, keep usr/bin/prometheus (running
#    apt-get update first if the package lists are missing).
# 4. Last resort: apt-get install the package and link /usr/bin/prometheus.
# The binary must answer --version; shared libraries ldd cannot find are installed with
# apt-get.
#
# Prints the binary's path on stdout. Everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST_DIR="${ROOT}/bin/prometheus"
DEST="${DEST_DIR}/prometheus"

log() { echo "ensure-prometheus: $*" >&2; }

runs() { "$1" --version >/dev/null 2>&1; }

if [[ -x "${DEST}" ]] && runs "${DEST}"; then
  echo "${DEST}"
  exit 0
fi
mkdir -p "${DEST_DIR}"
rm -f "${DEST}"

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

apt_get() {
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -qq "$@" >&2
}

# The package lists know prometheus, or apt-get update is run once.
ensure_lists() {
  apt-cache show prometheus >/dev/null 2>&1 && return 0
  log "no apt package lists know prometheus; running apt-get update"
  apt_get update
}

# Installs the packages that provide the shared libraries binary $1 lacks.
ensure_libs() {
  command -v ldd >/dev/null 2>&1 || return 0
  local missing
  missing="$(ldd "$1" 2>/dev/null | awk '/not found/ {print $1}')" || true
  [[ -z "${missing}" ]] && return 0
  log "missing shared libraries: ${missing//$'\n'/ }"
  local lib pkgs=()
  for lib in ${missing}; do
    local pkg
    pkg="$(apt-file search -l "${lib}" 2>/dev/null | head -n1 || true)"
    [[ -n "${pkg}" ]] && pkgs+=("${pkg}")
  done
  if [[ ${#pkgs[@]} -eq 0 ]]; then
    # Without apt-file, the package's own dependencies carry its libraries.
    mapfile -t pkgs < <(apt-cache depends prometheus 2>/dev/null | awk '/Depends: lib[^j]/ {print $2}')
  fi
  [[ ${#pkgs[@]} -gt 0 ]] || return 1
  log "installing ${pkgs[*]}"
  apt_get install -y --no-install-recommends "${pkgs[@]}"
}

from_path() {
  local p
  p="$(command -v prometheus 2>/dev/null)" || return 1
  runs "${p}" || return 1
  ln -sf "${p}" "${DEST}"
  log "linked ${p}"
}

from_deb() {
  command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || return 1
  ensure_lists || return 1
  local tmp="${TMP}"
  # apt-get download drops privileges to _apt, which must be able to write here.
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "${tmp}"; fi
  log "downloading Debian's prometheus package (about 20 MB)"
  (cd "${tmp}" && apt-get download -qq prometheus >&2) || return 1
  local deb
  deb="$(ls "${tmp}"/prometheus_*.deb 2>/dev/null | head -n1)"
  [[ -n "${deb}" ]] || return 1
  log "extracting usr/bin/prometheus from $(basename "${deb}")"
  dpkg-deb -x "${deb}" "${tmp}/root"
  [[ -x "${tmp}/root/usr/bin/prometheus" ]] || return 1
  mv "${tmp}/root/usr/bin/prometheus" "${DEST}"
}

from_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  ensure_lists || return 1
  log "installing Debian's prometheus package"
  apt_get install -y --no-install-recommends prometheus || return 1
  ln -sf /usr/bin/prometheus "${DEST}"
}

from_path || from_deb || from_install || {
  log "could not get a prometheus binary (none on PATH, apt-get download and install failed)"
  exit 1
}

if ! runs "${DEST}"; then
  ensure_libs "${DEST}" || true
fi
if ! runs "${DEST}"; then
  log "${DEST} does not run:"
  "${DEST}" --version >&2 || true
  rm -f "${DEST}"
  exit 1
fi
log "$("${DEST}" --version 2>&1 | head -n1)"
echo "${DEST}"
