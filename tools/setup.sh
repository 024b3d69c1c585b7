#!/usr/bin/env bash
# Installs everything the project needs from PyPI and npm only, idempotently.
# A second run with nothing changed does no installs and takes about a second.
#
#   .venv/                 Python packages (pyproject.toml, requirements.lock)
#   node_modules/          solc-js, anvil, OpenZeppelin (package-lock.json)
#   .tools/solcx/solc-v*   solc-js behind a native-solc look-alike, where py-solc-x looks
#   .tools/bin/anvil       the native anvil binary shipped inside the npm package
#   .venv/.../sim_toolchain.pth  puts the two above on SOLCX_BINARY_PATH / PATH for every
#                          process the venv's Python starts, so `.venv/bin/ape compile`
#                          needs nothing else.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[setup] %s\n' "$*" >&2; }
newer() { [ ! -e "$2" ] || [ -n "$(find "$1" -newer "$2" -print -quit)" ]; }

python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
venv="$root/.venv"
py_stamp="$venv/.installed"
venv_ok() {
  "$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null &&
    "$venv/bin/python" -m pip --version >/dev/null 2>&1
}
if ! venv_ok; then
  if ! "$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    say "Python 3.11 is required (eth-ape's pins); found $("$python_bin" --version 2>&1). Set PYTHON=/path/to/python3.11"
    exit 1
  fi
  say "creating virtualenv in .venv"
  rm -rf "$venv"
  "$python_bin" -m venv "$venv"
fi
if newer pyproject.toml "$py_stamp" || newer requirements.lock "$py_stamp"; then
  say "installing Python packages (pyproject.toml, requirements.lock)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c requirements.lock -e .
  touch "$py_stamp"
fi

npm_stamp="node_modules/.installed"
if newer package-lock.json "$npm_stamp" || newer package.json "$npm_stamp"; then
  say "installing npm packages (package-lock.json)"
  # `npm ci` would insist on lock entries for every platform's anvil build; the registry
  # reachable here carries only some of them, so install from the lockfile without saving.
  npm install --no-audit --no-fund --no-save --loglevel=error
  touch "$npm_stamp"
fi

solc_version="$(node -p "require('./node_modules/solc/package.json').version")"
solcx_dir="$root/.tools/solcx"
solc_shim="$solcx_dir/solc-v$solc_version"
shim_text="$(printf '#!/bin/sh\nexec node "%s/tools/solc/solc.cjs" "$@"' "$root")"
if [ ! -x "$solc_shim" ] || [ "$(cat "$solc_shim")" != "$shim_text" ]; then
  say "installing the solc-js wrapper as $solc_shim"
  mkdir -p "$solcx_dir"
  rm -f "$solcx_dir"/solc-v*
  printf '%s\n' "$shim_text" > "$solc_shim"
  chmod +x "$solc_shim"
fi

bin_dir="$root/.tools/bin"
anvil_native="$(ls -d "$root"/node_modules/@foundry-rs/anvil-*/bin/anvil 2>/dev/null | head -n 1 || true)"
if [ -z "$anvil_native" ]; then
  say "no native anvil in node_modules/@foundry-rs (is this platform supported by @foundry-rs/anvil?)"
  exit 1
fi
if [ "$(readlink "$bin_dir/anvil" 2>/dev/null)" != "$anvil_native" ]; then
  mkdir -p "$bin_dir"
  ln -sfn "$anvil_native" "$bin_dir/anvil"
fi

site_packages="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
pth="$site_packages/sim_toolchain.pth"
pth_line="import os; os.environ.setdefault('SOLCX_BINARY_PATH', '$solcx_dir'); os.environ['PATH'] = os.environ.get('PATH', '') if '$bin_dir' in os.environ.get('PATH', '').split(os.pathsep) else '$bin_dir' + os.pathsep + os.environ.get('PATH', '')"
if [ "$(cat "$pth" 2>/dev/null)" != "$pth_line" ]; then
  printf '%s\n' "$pth_line" > "$pth"
fi
