#!/usr/bin/env bash
# wharf's main job, end to end, on the sample project in fixtures/ — offline, in a temp folder.
# It builds wharf, registers a copy of the sample project (creating its environment), registers a
# scratch project and deletes it, runs python in the sample's environment with its model found by
# name, then shows list, check, and a prune that cleans up the orphan;
# then it pulls the sample's model file into the verified store and lists and verifies the store.
# Nothing outside the temp folder is touched: WHARF_HOME points into it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
echo "building wharf (release; the first build takes a few minutes, cargo shows its progress)…" >&2
cargo build --release --manifest-path "$here/Cargo.toml"
wharf="$here/target/release/wharf"

work=$(mktemp -d "${TMPDIR:-/tmp}/wharf-demo.XXXXXX")
export WHARF_HOME="$work/wharf-home" HF_HUB_CACHE="$work/hf-hub"
trap 'echo; echo "(demo files are in $work; remove them with: rm -rf $work)"' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

cp -R "$here/fixtures/sample-project" "$work/sample-project"
mkdir -p "$work/scratch"

step wharf init sample-project
"$wharf" init "$work/sample-project"
step cat sample-project/.env.wharf
cat "$work/sample-project/.env.wharf"
step "wharf run -- python -c '…sys.prefix, \$WHARF_MODEL_TINY…'    # the project's env and its model, by name"
(cd "$work/sample-project" && "$wharf" run -- python -c 'import os, sys; print("python in", sys.prefix); print("model tiny at", os.environ["WHARF_MODEL_TINY"])')
step "wharf models path tiny"
(cd "$work/sample-project" && "$wharf" models path tiny)
step "wharf env    # for eval \"\$(wharf env)\" or a direnv .envrc"
(cd "$work/sample-project" && "$wharf" env)
step wharf init scratch --no-venv
"$wharf" init --no-venv "$work/scratch"
step rm -rf scratch
rm -rf "$work/scratch"
step wharf list --sizes
"$wharf" list --sizes
step wharf check sample-project
"$wharf" check "$work/sample-project"
step "wharf check --all    # exits 1: scratch is orphaned"
"$wharf" check --all || echo "(exit $?)"
step wharf prune --dry-run
"$wharf" prune --dry-run
step wharf prune --yes
"$wharf" prune --yes
step wharf check --all --json
"$wharf" check --all --json
step "wharf pull file://…/sample-project/models/tiny-weights.bin    # into the verified store"
"$wharf" pull "file://$work/sample-project/models/tiny-weights.bin"
step wharf pull --offline --json "file://…/tiny-weights.bin    # cached: no copy, no network"
"$wharf" pull --offline --json "file://$work/sample-project/models/tiny-weights.bin"
step wharf models list
"$wharf" models list
step wharf models verify
"$wharf" models verify
step "wharf remove sample-project --dry-run    # what unregistering it would remove"
"$wharf" remove "$work/sample-project" --dry-run
