#!/usr/bin/env bash
# Runs go test over the packages given (default ./...) in two lanes side by side:
#
#   - the packages whose tests start the real Octavia (those that depend on
#     internal/test/clouds/octaviatest), one at a time: a machine runs one Octavia
#     stack at a time (octaviatest's machine lock), so two of them in go test's
#     parallel slots would leave one slot blocked on the lock, often for the whole
#     of the e2e suite, while other packages wait behind it;
#   - every other package, one at a time too, beside them; a few of them (balance,
#     below) run at the end of the Octavia lane instead, which is the shorter.
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
# The Octavia lane is the shorter by about five minutes on CI (1,310 s of tests against
# 1,600 s for the other lane on 02cc5d2): these packages, which need no Octavia (about
# 140 s together), run at its end rather than in the other lane, so that the lanes end
# closer together.
balance=(
  github.com/drover-dev/drover/internal/cli
  github.com/drover-dev/drover/internal/gates
  github.com/drover-dev/drover/api/v1alpha1
  github.com/drover-dev/drover/cmd/manager
  github.com/drover-dev/drover/config/admission
)
others=()
moved=()
for p in "${all[@]}"; do
  if [[ " ${octavia[*]} " == *" ${p} "* ]]; then
    continue
  elif [[ ${#octavia[@]} -gt 0 && " ${balance[*]} " == *" ${p} "* ]]; then
    moved+=("${p}")
  else
    others+=("${p}")
  fi
done
octavia+=("${moved[@]}")

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
