#!/usr/bin/env bash
# Fuzzes every fuzz target of the module, one after the other, for FUZZTIME each
# (default 30s): go test -run='^$' -fuzz='^FuzzX$' -fuzztime=FUZZTIME ./pkg. New
# interesting inputs stay in Go's fuzz cache; a failing input is written to the
# package's testdata/fuzz/FuzzX/, where plain go test (make test) runs it from then on,
# as it runs the committed seeds. FUZZ=<regexp> picks targets by name. Minimizing a new
# input is capped at 100 runs: the default (60 s each) can spend a whole run on one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime="${FUZZTIME:-30s}"
pick="${FUZZ:-.}"
go="${GO:-go}"

found=0
while IFS= read -r file; do
  dir="./$(dirname "${file}")"
  while IFS= read -r target; do
    [[ "${target}" =~ ${pick} ]] || continue
    found=$((found + 1))
    echo "==> ${go} test -run='^\$' -fuzz='^${target}\$' -fuzztime=${fuzztime} -fuzzminimizetime=100x ${dir}"
    "${go}" test -run='^$' -fuzz="^${target}\$" -fuzztime="${fuzztime}" -fuzzminimizetime=100x "${dir}"
  done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "${file}")
done < <(find . \( -path ./bin -o -path ./.git \) -prune -o -name '*_test.go' -print | sed 's|^\./||' | sort | xargs grep -l '^func Fuzz' || true)

if [[ ${found} -eq 0 ]]; then
  echo "fuzz: no fuzz target matches ${pick}" >&2
  exit 1
fi
echo "fuzz: ${found} target(s) fuzzed for ${fuzztime} each"
