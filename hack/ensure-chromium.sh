#!/usr/bin/env bash
# Ensures a headless-capable Chromium for the dashboard's browser test
# (internal/cli's TestDashboardInABrowser drives it with chromedp), and prints its path.
#
# 1. $DROVER_CHROMIUM, or chromium / chromium-browser / google-chrome on PATH, that runs
#    (--version)?  Done.
# 2. Otherwise apt-get install Debian's chromium and fonts-liberation packages (the font,
#    so that screenshots have legible text), with apt-get update first only if the
#    package lists do not know chromium, and DEBIAN_FRONTEND=noninteractive.
#
# Prints the binary's path on stdout; logs to stderr. Installing needs root or sudo.
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }

runs() { [[ -n "$1" ]] && "$1" --headless --no-sandbox --version >/dev/null 2>&1; }

found() {
  log "using $1 ($("$1" --version 2>/dev/null | head -1))"
  echo "$1"
  exit 0
}

find_chromium() {
  local name p
  if [[ -n "${DROVER_CHROMIUM:-}" ]]; then
    runs "${DROVER_CHROMIUM}" && found "${DROVER_CHROMIUM}"
    log "\$DROVER_CHROMIUM=${DROVER_CHROMIUM} does not run; looking further"
  fi
  for name in chromium chromium-browser google-chrome; do
    p="$(command -v "${name}" 2>/dev/null || true)"
    runs "${p}" && found "${p}"
  done
  return 0
}

find_chromium

command -v apt-get >/dev/null 2>&1 || {
  log "no Chromium and no apt-get: install Chromium (or Chrome) and set DROVER_CHROMIUM to it"
  exit 1
}
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
apt_get() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@" >&2
}
if ! apt-cache show chromium >/dev/null 2>&1; then
  log "the apt package lists do not know chromium; running apt-get update"
  apt_get update
fi
log "installing Debian's chromium and fonts-liberation packages (about 100 MB; a minute or two)"
apt_get install -y --no-install-recommends chromium fonts-liberation
find_chromium
log "chromium was installed but does not run headless"
exit 1
