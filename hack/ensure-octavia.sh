#!/usr/bin/env bash
# Ensures the real OpenStack Octavia API and worker, and the RabbitMQ they talk through,
# are installed from Debian's packages, for internal/test/clouds/octaviatest.
#
# 1. Every program the test harness runs is there and imports?  Done (fast, no apt).
# 2. Otherwise apt-get install octavia-api, octavia-worker, rabbitmq-server and openssl
#    (apt-get update first, only if the package lists do not know them), with a
#    /usr/sbin/policy-rc.d that exits 101 for the duration, so that the packages'
#    post-install scripts start no service (there may be no init system at all), and
#    DEBIAN_FRONTEND=noninteractive, so debconf asks nothing (no database, no Keystone
#    registration: the harness configures everything itself).
# 3. Stops whatever the post-install scripts started anyway (epmd, a RabbitMQ node).
#
# Nothing stays running afterwards. The harness runs the programs itself, with Debian's
# /usr/bin/python3 (the packages' interpreter), never a python3 found on PATH.
#
# Prints nothing on stdout; logs to stderr. Run as root or with sudo available.
set -euo pipefail

PACKAGES=(octavia-api octavia-worker rabbitmq-server openssl)

log() { echo "ensure-octavia: $*" >&2; }

# installed reports whether everything the harness needs is there and usable.
installed() {
  [[ -x /usr/bin/octavia-api && -x /usr/bin/octavia-worker ]] || return 1
  [[ -x /usr/sbin/rabbitmq-server && -x /usr/sbin/rabbitmqctl ]] || return 1
  command -v openssl >/dev/null 2>&1 || return 1
  /usr/bin/python3 -c 'import octavia.db.base_models, octavia.common.constants' >/dev/null 2>&1
}

if installed; then
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || {
  log "octavia is not installed and there is no apt-get: install the Debian packages ${PACKAGES[*]} by hand"
  exit 1
}

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

apt_get() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@" >&2
}

# The package lists know every package, or apt-get update is run once.
known() {
  local p
  for p in "${PACKAGES[@]}"; do
    apt-cache show "${p}" >/dev/null 2>&1 || return 1
  done
}
if ! known; then
  log "the apt package lists do not know ${PACKAGES[*]}; running apt-get update"
  apt_get update
fi

# A policy-rc.d that forbids starting services, restored (or removed) on exit.
POLICY=/usr/sbin/policy-rc.d
BACKUP=""
restore_policy() {
  if [[ -n "${BACKUP}" ]]; then
    "${SUDO[@]}" mv -f "${BACKUP}" "${POLICY}"
  else
    "${SUDO[@]}" rm -f "${POLICY}"
  fi
}
if [[ -e "${POLICY}" ]]; then
  BACKUP="$(mktemp /tmp/policy-rc.d.XXXXXX)"
  "${SUDO[@]}" cp -p "${POLICY}" "${BACKUP}"
fi
trap restore_policy EXIT
printf '#!/bin/sh\n# ensure-octavia.sh: start no service while installing\nexit 101\n' |
  "${SUDO[@]}" tee "${POLICY}" >/dev/null
"${SUDO[@]}" chmod 0755 "${POLICY}"

BEFORE=" $(pgrep -x 'epmd|beam.smp' 2>/dev/null | tr '\n' ' ' || true) "
log "installing ${PACKAGES[*]} (a few hundred MB; a minute or two)"
apt_get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${PACKAGES[@]}"

# Post-install scripts that ignore policy-rc.d (rabbitmqctl starts an Erlang node and
# `epmd -daemon`) may have left processes behind; nothing must stay running. Only those
# that appeared during the installation are stopped, by pid, and never a test's own
# (octaviatest runs epmd without -daemon and names its RabbitMQ nodes octaviatest-*).
for pid in $(pgrep -x 'epmd|beam.smp' 2>/dev/null || true); do
  [[ "${BEFORE}" == *" ${pid} "* ]] && continue
  cmdline="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null || true)"
  case "${cmdline}" in
    *octaviatest*) continue ;;
    epmd*-daemon* | */epmd*-daemon* | *beam.smp*) ;;
    *) continue ;;
  esac
  log "stopping ${cmdline%% *} (pid ${pid}), left running by the installation"
  "${SUDO[@]}" kill "${pid}" 2>/dev/null || true
done

if ! installed; then
  log "the packages were installed but the harness's programs are still missing or do not import:"
  /usr/bin/python3 -c 'import octavia.db.base_models, octavia.common.constants' >&2 || true
  exit 1
fi
log "installed: $(dpkg-query -W -f='${Package} ${Version}\n' "${PACKAGES[@]}" 2>/dev/null | paste -sd, - | sed 's/,/, /g')"
