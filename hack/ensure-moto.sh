#!/usr/bin/env bash
# Ensures moto's server mode (moto_server, moto[server] >= 5.2, < 6), which the tests of
# drover's AWS clients run (internal/test/clouds/awstest), and prints its path.
#
# 1. $DROVER_MOTO_SERVER, or moto_server on PATH, that runs (--help)?  Done.
# 2. bin/moto/bin/moto_server (a previous run) that runs?  Done.
# 3. Otherwise install moto[server] into a virtual environment bin/moto with whatever
#    python3 is there (python3 -m venv, then its pip), so that a Debian python that is
#    "externally managed" (PEP 668) is left alone.
# 4. If venv is missing: python3 -m pip install --user, then that moto_server.
# 5. Last resort: say what is missing.
# awstest finds bin/moto/bin/moto_server by itself; a moto_server elsewhere is passed in
# $DROVER_MOTO_SERVER.
#
# Prints the binary's path on stdout. Everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/bin/moto"
SPEC='moto[server]>=5.2,<6'

log() { echo "ensure-moto: $*" >&2; }

runs() { [[ -n "$1" ]] && "$1" --help >/dev/null 2>&1; }

found() {
  log "using $1"
  echo "$1"
  exit 0
}

if [[ -n "${DROVER_MOTO_SERVER:-}" ]]; then
  runs "${DROVER_MOTO_SERVER}" && found "${DROVER_MOTO_SERVER}"
  log "\$DROVER_MOTO_SERVER=${DROVER_MOTO_SERVER} does not run; looking further"
fi
p="$(command -v moto_server 2>/dev/null || true)"
runs "${p}" && found "${p}"
runs "${VENV}/bin/moto_server" && found "${VENV}/bin/moto_server"

PYTHON="$(command -v python3 2>/dev/null || command -v python 2>/dev/null || true)"
if [[ -z "${PYTHON}" ]]; then
  log "no python3: install it (Debian: apt-get install python3 python3-venv) and run this again"
  exit 1
fi
log "installing ${SPEC} with ${PYTHON} ($("${PYTHON}" --version 2>&1))"

from_venv() {
  rm -rf "${VENV}"
  "${PYTHON}" -m venv "${VENV}" >&2 || return 1
  "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check "${SPEC}" >&2 || return 1
  runs "${VENV}/bin/moto_server" || return 1
  echo "${VENV}/bin/moto_server"
}

from_user_pip() {
  "${PYTHON}" -m pip --version >/dev/null 2>&1 || return 1
  "${PYTHON}" -m pip install --quiet --disable-pip-version-check --user "${SPEC}" >&2 || return 1
  local bin
  bin="$("${PYTHON}" -c 'import site, os; print(os.path.join(site.getuserbase(), "bin", "moto_server"))')"
  runs "${bin}" || return 1
  echo "${bin}"
}

if bin="$(from_venv)"; then
  found "${bin}"
fi
log "installing into the virtual environment bin/moto failed; trying pip --user"
rm -rf "${VENV}"
if bin="$(from_user_pip)"; then
  found "${bin}"
fi

log "could not install ${SPEC}. It needs python3 with venv or pip (Debian:"
log "apt-get install python3-venv python3-pip) and access to PyPI (or a mirror set in"
log "PIP_INDEX_URL). Elsewhere: pip install '${SPEC}', then set DROVER_MOTO_SERVER to the"
log "moto_server it installed."
exit 1
