#!/usr/bin/env bash
# Runs go test over the packages given (default ./...) in two lanes side by side:
#
#   - the packages whose tests start the real Octavia (those that depend on
#     internal/test/clouds/octaviatest), one at a time: a machine runs one Octavia
#     stack at a time (octaviatest's machine lock), so two of them in go test's
#     parallel slots would leave one slot blocked on the lock, often for the whole
#     of the e2e suite, while other packages wait behind it;
#   - every other package, one at a time too, beside them.
#
# Two test binaries at once either way, as go test -p 2 runs on a 2-core machine, but
# neither waits for the other. The Octavia lane's output follows the other lane's.
# Flags for go test come from GOTEST_FLAGS (the Makefile passes its -timeout and
# GOTESTFLAGS); the exit code is non-zero if either lane failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

[[ $# -gt 0 ]] || set -- ./...
eval "flags=(${GOTEST_FLAGS:-})" # shell words, as the Makefile used to pass them

octavia_dep="github.com/drover-dev/drover/internal/test/clouds/octaviatest"
mapfile -t all < <(go list "$@")
mapfile -t octavia < <(go list -test -f '{{if .ForTest}}{{.ForTest}} {{join .Deps " "}}{{end}}' "$@" |
  awk -v dep="${octavia_dep}" '$1 == dep { print $1; next } { for (i = 2; i <= NF; i++) if ($i == dep) { print $1; break } }' | sort -u)
others=()
for p in "${all[@]}"; do
  [[ " ${octavia[*]} " == *" ${p} "* ]] || others+=("${p}")
done

lane_out="$(mktemp)"
trap 'rm -f "${lane_out}"' EXIT
lane_pid=""
if [[ ${#octavia[@]} -gt 0 ]]; then
  echo "test: the Octavia lane, one package at a time: ${octavia[*]#github.com/drover-dev/drover/}" >&2
  go test -p 1 "${flags[@]}" "${octavia[@]}" >"${lane_out}" 2>&1 &
  lane_pid=$!
fi

rc=0
if [[ ${#others[@]} -gt 0 ]]; then
  go test -p 1 "${flags[@]}" "${others[@]}" || rc=$?
fi
if [[ -n "${lane_pid}" ]]; then
  lane_rc=0
  wait "${lane_pid}" || lane_rc=$?
  cat "${lane_out}"
  [[ ${lane_rc} -eq 0 ]] || rc=${lane_rc}
fi
exit "${rc}"
