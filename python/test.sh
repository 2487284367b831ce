#!/usr/bin/env bash
# The Python wheel's tests (run by .ci/run after `cargo test`): build the wheel with
# `maturin build --release`, install it with pytest and mypy in a fresh venv, run python/tests.
# Needs maturin (on PATH, or $MATURIN) and uv ($WHARF_TEST_UV, for the `uv tool install` test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
maturin=${MATURIN:-maturin}
wheels="$root/target/wheels"

rm -f "$wheels"/wharf-*.whl
start=$SECONDS
(cd "$here" && "$maturin" build --release --locked --out "$wheels")
echo "wheel built in $((SECONDS - start)) s"
wheels_found=("$wheels"/wharf-*.whl)
wheel=${wheels_found[0]}

venv="$root/target/py-test-venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" pytest mypy

export WHARF_TEST_WHEEL="$wheel" PATH="$venv/bin:$PATH"
# From the repository's root: `python -m` puts the current folder on sys.path, and python/wharf (the
# sources, without the extension module) must not shadow the installed package.
cd "$root"
"$venv/bin/python" -m pytest python/tests -q -p no:cacheprovider
