#!/usr/bin/env bash
# Compiles the contracts when any of their inputs changed since the last build.
#
# ape 0.8's own change detection can miss an edited source and keep serving the old build
# (seen here: a one-character change to a .sol file left .build/ untouched after `ape compile`).
# So this script keys the build on a hash of every input and forces a full compile (`-f`)
# whenever that hash moves; when nothing moved it does nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stamp=".build/.inputs.sha256"
inputs_hash="$(
  { find contracts -type f -name '*.sol' -print0 | sort -z | xargs -0 sha256sum
    sha256sum ape-config.yaml package-lock.json; } | sha256sum | cut -d' ' -f1
)"
if [ -f .build/__local__.json ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs_hash" ]; then
  exit 0
fi
printf '[compile] contract sources changed: full compile\n' >&2
.venv/bin/ape compile -f
printf '%s\n' "$inputs_hash" > "$stamp"
