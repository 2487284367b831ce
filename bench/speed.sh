#!/usr/bin/env bash
# Issue 10's speed harness: wharf against its peers on a real local server, interleaved, medians.
#
# What: nginx on 127.0.0.1 (worker_processes 2, sendfile on) serves a Hugging Face-style repo
# `bench/model` — a 1 GiB random `model.safetensors`, a 200 MiB `optimizer.bin` and 200 JSON files
# `config/c000.json`… of 4–64 KiB (sizes and bytes from a fixed seed) — with the hub protocol wharf
# speaks (src/remote/hf.rs): the listing `/api/models/bench/model/revision/main?blobs=true`, files at
# `/bench/model/resolve/{main,<commit>}/<path>` whose answers carry X-Repo-Commit, X-Linked-Etag and
# X-Linked-Size. A second server on another port caps each connection at 40 MiB/s (`limit_rate 40m`,
# as the Hugging Face CDN caps one connection): the capped CDN. Scenarios (SCENARIOS, default all):
#   small   the 200 JSON files: wharf pull hf://bench/model --include 'config/*'; curl 1 stream,
#           curl -Z --parallel-max 8, aria2c -x8 -s8 -j8 (each + openssl dgst -sha256), huggingface_hub;
#           and curl -Z + openssl + `sync -d` of each file: the same made durable, as wharf's files are
#   big     the 1 GiB file as a URL#sha256=…: curl -o, aria2c -x8 -s8 (each + openssl), curl -o alone
#           (unverified: the floor), curl -o + `sync -d` (unverified but durable, as wharf's blob is:
#           the floor leaves its bytes in the page cache, and the disk writes them after the clock
#           stops), huggingface_hub hf_hub_download
#   repo    the whole repo (202 files): wharf pull hf://bench/model; the peers of `small`
#   cached  the repo again on a warm store, online (the listing is asked again) and --offline, as
#           whole processes (CACHED_REPS runs per round); huggingface_hub on its warm cache; the
#           floor `curl -sI` of the listing
#   capped  the 1 GiB file from the capped server: wharf with no variable, WHARF_CONNECTIONS=1 (one
#           stream), aria2c -x8 -s8 and -x16 -s16 (+ openssl)
# Every run starts from an empty cache/output folder after an untimed `sync`; tools take turns
# (the order reverses every round); every result is checked against the known SHA-256 digests (a
# tool that did not deliver stops the run: it is an error, not a time). Reported per scenario and
# tool: median wall time, median CPU (user+sys), peak RSS, wharf's ratio to each; then issue 10's
# targets with the measured ratios. The tables are Markdown, ready for the README.
# openssl is the peers' hash because coreutils' sha256sum has no SHA-NI and would flatter wharf.
# huggingface_hub checks sizes, not digests: it is a peer, not a verified one.
#
# How: `bash bench/speed.sh` (builds target/release/wharf), or
#   WHARF=/path/to/wharf WHARF_BASELINE=/path/to/older/wharf SCENARIOS="small big" bash bench/speed.sh
# Knobs: WHARF (the binary; unset: `cargo build --release`), WHARF_BASELINE (one more tool in the
# same rounds), ROUNDS (5), SMALL_ROUNDS (the small scenario's own: ROUNDS, at least 15),
# SCENARIOS, SIZE_MIB (1024, the big file), OPT_MIB (200), SMALL_FILES (200), CACHED_REPS (50;
# huggingface_hub, ~0.5 s a run, does at most 5), HF_PYTHON (a python with huggingface_hub;
# default /tmp/wharf-ci-tools/bin/python, skipped with a note if it cannot import it), WAIT_IDLE
# (1: before each round, wait while compilers run or others keep the CPU over 25% busy, polling
# every 30 s, at most 30 minutes; 0: do not wait). Timings are only worth reading on a machine
# that does nothing else.
#
# Needs: nginx, curl, aria2c, openssl, GNU time, python3 (installed from Debian's packages when
# missing), ~2.5 GB free in TMPDIR, and for wharf itself cargo. No traffic leaves 127.0.0.1.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk with a decimal point
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/bench/lib.sh"
rounds=${ROUNDS:-5}
# Small files take a twentieth of a second a run, and `curl -Z` is bimodal on a busy VM (0.03 or
# 0.07 s): a median of 3 or 5 can land on either mode, so this scenario runs more rounds.
small_rounds=${SMALL_ROUNDS:-$((rounds > 15 ? rounds : 15))}
size_mib=${SIZE_MIB:-1024}
opt_mib=${OPT_MIB:-200}
small_files=${SMALL_FILES:-200}
cached_reps=${CACHED_REPS:-50}
scenarios=${SCENARIOS:-small big repo cached capped}
hf_python=${HF_PYTHON:-/tmp/wharf-ci-tools/bin/python}
for s in $scenarios; do
  case $s in small | big | repo | cached | capped) ;; *) echo "unknown scenario \`$s\` in SCENARIOS (small big repo cached capped)" >&2; exit 2 ;; esac
done
# Nothing from the caller's environment may change what is measured or where it goes.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY WHARF_CONNECTIONS WHARF_MIRRORS \
  WHARF_OFFLINE HF_HUB_OFFLINE HF_TOKEN HF_HUB_CACHE HF_HUB_ENABLE_HF_TRANSFER
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1 HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v aria2c >/dev/null || need+=(aria2)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

if [ -n "${WHARF:-}" ]; then
  wharf=$WHARF
else
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  wharf="$here/target/release/wharf"
fi
[ -x "$wharf" ] || { echo "no wharf binary at \`$wharf\`" >&2; exit 2; }
[ -z "${WHARF_BASELINE:-}" ] || [ -x "$WHARF_BASELINE" ] || { echo "no baseline binary at \`$WHARF_BASELINE\`" >&2; exit 2; }
has_hf=0
if "$hf_python" -c 'import huggingface_hub' 2>/dev/null; then has_hf=1; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/wharf-speed.XXXXXX")
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work" # no wharf.toml above, nothing of the caller's folder is touched
mkdir -p www/bench/model logs res old
chmod 755 "$work" www www/bench # nginx workers run as another user
repo=$work/www/bench/model
commit=c0ffeec0ffeec0ffeec0ffeec0ffeec0ffee0010

echo "making the repo: ${size_mib} MiB + ${opt_mib} MiB + ${small_files} JSON files…" >&2
head -c "$((size_mib << 20))" /dev/urandom >"$repo/model.safetensors"
head -c "$((opt_mib << 20))" /dev/urandom >"$repo/optimizer.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
capped_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The JSON files (seeded), every digest, the listing, nginx's per-file locations, and for each set
# of files (small, big, all) the list of names, the expected digests, curl's and aria2c's inputs.
python3 - "$work" "$repo" "$commit" "$small_files" "$port" <<'PY'
import hashlib, json, os, random, sys
work, repo, commit, n_small, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rng = random.Random(20261122)
os.makedirs(f"{repo}/config", exist_ok=True)
for i in range(n_small):
    size = rng.randint(4 << 10, 64 << 10)
    head, tail = '{"id": %d, "pad": "' % i, '"}\n'
    pad = rng.randbytes(size // 2).hex()[: size - len(head) - len(tail)]
    with open(f"{repo}/config/c{i:03d}.json", "w") as f:
        f.write(head + pad + tail)
names = ["model.safetensors", "optimizer.bin"] + [f"config/c{i:03d}.json" for i in range(n_small)]
big = {"model.safetensors", "optimizer.bin"}
siblings, digest, locations = [], {}, []
for name in names:
    path = f"{repo}/{name}"
    os.chmod(path, 0o644)
    size = os.path.getsize(path)
    sha256, blob = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)  # blob = `git hash-object`
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            sha256.update(chunk)
            blob.update(chunk)
    digest[name] = sha256.hexdigest()
    sibling = {"rfilename": name, "size": size, "blobId": blob.hexdigest()}
    if name in big:
        sibling["lfs"] = {"sha256": digest[name], "size": size, "pointerSize": 134}
    siblings.append(sibling)
    etag = digest[name] if name in big else blob.hexdigest()
    for rev in ("main", commit):
        locations.append(
            f"location = /bench/model/resolve/{rev}/{name} {{ alias {path};\n"
            f"  add_header X-Repo-Commit {commit} always;\n"
            f"  add_header X-Linked-Etag '\"{etag}\"' always;\n"
            f"  add_header X-Linked-Size {size} always; }}\n"
        )
listing = {"_id": "bench", "id": "bench/model", "modelId": "bench/model", "sha": commit, "private": False,
           "gated": False, "disabled": False, "lastModified": "2026-01-01T00:00:00.000Z", "tags": [],
           "siblings": siblings}
with open(f"{work}/www/listing.json", "w") as f:
    json.dump(listing, f)
# huggingface_hub's snapshot_download lists the files with the tree API (recursive, one page).
tree = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": "config"}] + [
    {"type": "file", "oid": s["blobId"], "size": s["size"], "path": s["rfilename"]}
    | ({"lfs": {"oid": s["lfs"]["sha256"], "size": s["size"], "pointerSize": 134}} if "lfs" in s else {})
    for s in siblings
]
with open(f"{work}/www/tree.json", "w") as f:
    json.dump(tree, f)
with open(f"{work}/locations.conf", "w") as f:
    f.writelines(locations)
sets = {"small": [n for n in names if n.startswith("config/")], "big": ["model.safetensors"], "all": names}
for key, files in sets.items():
    with open(f"{work}/files.{key}", "w") as f:
        f.write(" ".join(files) + "\n")
    with open(f"{work}/expect.{key}", "w") as f:
        f.writelines(f"{digest[n]} {n}\n" for n in sorted(files))
    base = f"http://127.0.0.1:{port}/bench/model/resolve/main"
    with open(f"{work}/curl.{key}", "w") as f:
        f.writelines(f'url = "{base}/{n}"\noutput = "{n}"\n' for n in files)
    with open(f"{work}/aria2.{key}", "w") as f:
        f.writelines(f"{base}/{n}\n  out={n}\n" for n in files)
PY
big_sha=$(cut -d' ' -f1 "$work/expect.big")
chmod 755 "$repo/config" && chmod 644 "$work/www/listing.json" "$work/www/tree.json"

cat >"$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $work/logs;
  proxy_temp_path $work/logs;
  fastcgi_temp_path $work/logs;
  uwsgi_temp_path $work/logs;
  scgi_temp_path $work/logs;
  server { listen 127.0.0.1:$port; include $work/site.conf; }
  server { listen 127.0.0.1:$capped_port; limit_rate 40m; include $work/site.conf; }
}
CONF
cat >"$work/site.conf" <<CONF
root $work/www;
# wharf asks /revision/main?blobs=true; huggingface_hub asks without a revision or by commit, then
# lists the files with the tree API.
location /api/models/bench/model { default_type application/json;
  location = /api/models/bench/model { alias $work/www/listing.json; }
  location = /api/models/bench/model/revision/main { alias $work/www/listing.json; }
  location = /api/models/bench/model/revision/$commit { alias $work/www/listing.json; }
  location = /api/models/bench/model/tree/main { alias $work/www/tree.json; }
  location = /api/models/bench/model/tree/$commit { alias $work/www/tree.json; }
  return 404;
}
location /bench/model/resolve/main/ { alias $repo/; }
location /bench/model/resolve/$commit/ { alias $repo/; }
include $work/locations.conf;
CONF
"$nginx_bin" -p "$work" -c "$work/nginx.conf"
endpoint="http://127.0.0.1:$port"
big_url="$endpoint/bench/model/resolve/main/model.safetensors"
capped_url="http://127.0.0.1:$capped_port/bench/model/resolve/main/model.safetensors"
for _ in $(seq 50); do curl -sfI "$big_url" >/dev/null && curl -sfI "$capped_url" >/dev/null && break; sleep 0.1; done

# ---- running and checking ----------------------------------------------------------------------

# The environment of one run: everything under $work/run, the hub on loopback.
run_env=(env HOME="$work/run/home" WHARF_HOME="$work/run/wharf" WHARF_CACHE_DIR="$work/run/wc"
  HF_HOME="$work/run/hf" XDG_CACHE_HOME="$work/run/home/.cache" XDG_DATA_HOME="$work/run/home/.local/share"
  HF_ENDPOINT="$endpoint")

# same_digests SUMS SET WHO: the `openssl dgst -sha256 -r` output SUMS (names relative to the
# output folder) must list exactly the expected digests of SET.
same_digests() {
  sed 's/ \*/ /' "$1" | sort -k2 | diff -q - "$work/expect.$2" >/dev/null ||
    die "$3 did not deliver the files of set \`$2\` with the right digests (see $1)"
}
# check_tree DIR SET WHO: DIR (a snapshot folder, an output folder) holds SET with the right bytes.
check_tree() { check_files "$1" "$work/files.$2" "$2" "$3"; }
snapshot() { echo "$1/models--bench--model/snapshots/$commit"; }
# check_blob WHO: a URL pull stored the big file in wharf's store and said its digest.
check_blob() {
  grep -q "$big_sha" "$work/out" || die "$1 did not name sha256 $big_sha in its JSON output"
  local blob=$work/run/wc/blobs/sha256/$big_sha
  [ -f "$blob" ] || die "$1 did not store $blob"
  [ "$(openssl dgst -sha256 -r "$blob" | cut -d' ' -f1)" = "$big_sha" ] || die "$1 stored wrong bytes"
}
bin_of() { if [ "$1" = baseline ]; then echo "$WHARF_BASELINE"; else echo "$wharf"; fi; }

# One run of TOOL in SCENARIO: fresh folders, measure, check. Peers run with their output
# folder as working directory, so openssl prints the names the expected digests use.
run_files() { # small and repo: SCENARIO TOOL SET
  local key=$1.$2 set=$3 out=$work/run/out files
  files=$(cat "$work/files.$set")
  local hash="openssl dgst -sha256 -r $files >'$work/sums'"
  local include=()
  [ "$set" = small ] && include=(--include 'config/*')
  fresh
  case $2 in
    wharf | baseline)
      measure "$key" "$(bin_of "$2")" pull --json hf://bench/model "${include[@]}"
      check_tree "$(snapshot "$work/run/hf/hub")" "$set" "$2" ;;
    curl1 | curlZ | curlZ-sync)
      local par="" durable=""
      [ "$2" = curl1 ] || par="-Z --parallel-max 8"
      [ "$2" = curlZ-sync ] && durable="&& sync -d $files"
      measure "$key" sh -c "cd '$out' && curl -sf $par --create-dirs --config '$work/curl.$set' && $hash $durable"
      same_digests "$work/sums" "$set" "$2" ;;
    aria2c)
      measure "$key" sh -c "aria2c -q -x8 -s8 -j8 --allow-overwrite=true --file-allocation=none -d '$out' -i '$work/aria2.$set' && cd '$out' && $hash"
      same_digests "$work/sums" "$set" "$2" ;;
    hf_hub)
      local allow=None
      [ "$set" = small ] && allow="['config/*']"
      measure "$key" "$hf_python" -c "from huggingface_hub import snapshot_download as s; s('bench/model', allow_patterns=$allow, cache_dir='$out')"
      check_tree "$(snapshot "$out")" "$set" "$2" ;;
  esac
}
run_url() { # big and capped: SCENARIO TOOL URL
  local key=$1.$2 url=$3 out=$work/run/out
  local hash="openssl dgst -sha256 -r f >'$work/sums'"
  fresh
  case $2 in
    wharf | baseline) measure "$key" "$(bin_of "$2")" pull --json "$url#sha256=$big_sha" && check_blob "$2" ;;
    wharf-c1) measure "$key" env WHARF_CONNECTIONS=1 "$wharf" pull --json "$url#sha256=$big_sha" && check_blob "$2" ;;
    curl) measure "$key" sh -c "cd '$out' && curl -sf -o f '$url' && $hash" ;;
    floor) measure "$key" curl -sf -o "$out/f" "$url" && (cd "$out" && openssl dgst -sha256 -r f) >"$work/sums" ;;
    floor-sync) measure "$key" sh -c "curl -sf -o '$out/f' '$url' && sync -d '$out/f'" && (cd "$out" && openssl dgst -sha256 -r f) >"$work/sums" ;;
    aria2c*)
      local x=${2#aria2c-x}
      [ "$x" = aria2c ] && x=8
      measure "$key" sh -c "aria2c -q -x$x -s$x --allow-overwrite=true --file-allocation=none -d '$out' -o f '$url' && cd '$out' && $hash" ;;
    hf_hub)
      measure "$key" "$hf_python" -c "from huggingface_hub import hf_hub_download as d; d('bench/model', 'model.safetensors', cache_dir='$out')"
      check_tree "$(snapshot "$out")" big "$2" ;;
  esac
  case $2 in curl | floor* | aria2c*) sed -i 's/ \*f$/ model.safetensors/' "$work/sums" && same_digests "$work/sums" big "$2" ;; esac
}

# The cached scenario: each tool keeps its warm store across runs, in $work/warm/TOOL.
cached_cmd() { # TOOL: set `cmd` to the command one cached run of TOOL is
  local w=$work/warm/${1%-off}
  local e=(env HOME="$w/home" WHARF_HOME="$w/wharf" WHARF_CACHE_DIR="$w/wc" HF_HOME="$w/hf"
    XDG_CACHE_HOME="$w/home/.cache" XDG_DATA_HOME="$w/home/.local/share" HF_ENDPOINT="$endpoint")
  case $1 in
    wharf | baseline) cmd=("${e[@]}" "$(bin_of "$1")" pull --json hf://bench/model) ;;
    wharf-off | baseline-off) cmd=("${e[@]}" "$(bin_of "${1%-off}")" pull --json --offline hf://bench/model) ;;
    hf_hub) cmd=("${e[@]}" "$hf_python" -c "from huggingface_hub import snapshot_download as s; s('bench/model', cache_dir='$w/c')") ;;
    floor) cmd=(curl -sfI "$endpoint/api/models/bench/model/revision/main?blobs=true") ;;
  esac
}
cached_setup() { # the one untimed pull per store
  local t cmd
  for t in wharf ${WHARF_BASELINE:+baseline} $([ $has_hf = 1 ] && echo hf_hub); do
    mkdir -p "$work/warm/$t/home"
    cached_cmd "$t"
    "${cmd[@]}" >/dev/null 2>"$work/err" || die "the warm-up pull of $t failed: $(tail -5 "$work/err")"
  done
}
cached_check() { # the warm stores still hold the whole repo
  check_tree "$(snapshot "$work/warm/wharf/hf/hub")" all wharf
  [ -z "${WHARF_BASELINE:-}" ] || check_tree "$(snapshot "$work/warm/baseline/hf/hub")" all baseline
  [ $has_hf = 0 ] || check_tree "$(snapshot "$work/warm/hf_hub/c")" all hf_hub
}
# run_cached TOOL: REPS bare runs, each timed alone (a whole process: what a user waits for; GNU
# time's own start would weigh on a 10 ms figure), then the same REPS under one GNU time for the
# CPU per run and the peak RSS.
run_cached() {
  local key=cached.$1 reps=$cached_reps cmd t0 t1 i rss user sys
  [ "$1" = hf_hub ] && [ "$reps" -gt 5 ] && reps=5
  cached_cmd "$1"
  for ((i = 0; i < reps; i++)); do
    sync
    t0=$EPOCHREALTIME
    "${cmd[@]}" >/dev/null 2>"$work/err" || die "$key failed: $(tail -5 "$work/err")"
    t1=$EPOCHREALTIME
    echo "$((${t1/./} - ${t0/./}))" >>"$work/res/$key.us"
  done
  sync
  # shellcheck disable=SC2016 # expanded by the inner bash
  /usr/bin/time -f "%M %U %S" -o "$work/t" bash -c 'for ((i = 0; i < $0; i++)); do "$@" >/dev/null 2>&1 || exit 1; done' \
    "$reps" "${cmd[@]}" || die "$key failed under GNU time"
  read -r rss user sys < <(tail -1 "$work/t")
  echo "$rss $(awk -v u="$user" -v s="$sys" -v n="$reps" 'BEGIN { printf "%.5f", (u + s) / n }')" >>"$work/res/$key.rc"
}

# ---- the rounds ---------------------------------------------------------------------------------

tools_of() {
  local hf=""
  [ $has_hf = 1 ] && hf=hf_hub
  case $1 in
    small | repo) echo "wharf ${WHARF_BASELINE:+baseline} curl1 curlZ curlZ-sync aria2c $hf" ;;
    big) echo "wharf ${WHARF_BASELINE:+baseline} curl aria2c floor floor-sync $hf" ;;
    cached) echo "wharf wharf-off ${WHARF_BASELINE:+baseline baseline-off} $hf floor" ;;
    capped) echo "wharf wharf-c1 ${WHARF_BASELINE:+baseline} aria2c-x8 aria2c-x16" ;;
  esac
}
run_one() { # SCENARIO TOOL
  case $1 in
    small) run_files small "$2" small ;;
    repo) run_files repo "$2" all ;;
    big) run_url big "$2" "$big_url" ;;
    capped) run_url capped "$2" "$capped_url" ;;
    cached) run_cached "$2" ;;
  esac
}

# A proof that the server speaks the hub protocol to wharf's single-file form (HEAD, a git blob
# etag and an LFS one) before anything is measured.
fresh
measure setup "$wharf" pull --json hf://bench/model/config/c000.json hf://bench/model/optimizer.bin
for f in config/c000.json optimizer.bin; do
  [ -L "$(snapshot "$work/run/hf/hub")/$f" ] || die "the hub on $endpoint does not answer as wharf expects ($f)"
done

for scen in $scenarios; do
  [ "$scen" = cached ] && cached_setup
  tools=$(tools_of "$scen" | xargs)
  n=$rounds
  [ "$scen" = small ] && n=$small_rounds
  for r in $(seq "$n"); do
    wait_idle
    [ "$r" = 1 ] && echo "$scen: load $(uptime | sed 's/.*load average: //')" >>"$work/load"
    order=$tools
    [ $((r % 2)) -eq 0 ] && order=$(printf '%s\n' $tools | tac | xargs)
    echo "  $scen round $r/$n: $order" >&2
    for t in $order; do run_one "$scen" "$t"; done
    # A compiler seen at the end of a round may have taken a core from some of its runs.
    b=$(busy)
    [ -z "$b" ] || echo "$scen round $r: at its end, busy: $b" >>"$work/load"
  done
  [ "$scen" = cached ] && cached_check
  set_aside "$work/run"
  set_aside "$work/warm"
done

# ---- the report ---------------------------------------------------------------------------------

label() { # SCENARIO TOOL
  case $2 in
    wharf) case $1 in cached) echo "wharf pull (online)" ;; capped) echo "wharf (no variable)" ;; *) echo wharf ;; esac ;;
    wharf-off) echo "wharf pull --offline" ;;
    wharf-c1) echo "wharf, WHARF_CONNECTIONS=1" ;;
    baseline) case $1 in cached) echo "baseline wharf (online)" ;; *) echo "baseline wharf" ;; esac ;;
    baseline-off) echo "baseline wharf --offline" ;;
    curl1) echo "curl, 1 stream + openssl" ;;
    curlZ) echo "curl -Z --parallel-max 8 + openssl" ;;
    curlZ-sync) echo "curl -Z --parallel-max 8 + openssl + sync -d (durable)" ;;
    curl) echo "curl -o + openssl" ;;
    aria2c) case $1 in big) echo "aria2c -x8 -s8 + openssl" ;; *) echo "aria2c -x8 -s8 -j8 + openssl" ;; esac ;;
    aria2c-x8) echo "aria2c -x8 -s8 + openssl" ;;
    aria2c-x16) echo "aria2c -x16 -s16 + openssl" ;;
    floor) case $1 in cached) echo "curl -sI of the listing (floor)" ;; *) echo "curl -o alone, unverified (floor)" ;; esac ;;
    floor-sync) echo "curl -o + sync -d, unverified, durable" ;;
    hf_hub) case $1 in big) echo "huggingface_hub hf_hub_download" ;; cached) echo "huggingface_hub snapshot_download (warm)" ;; *) echo "huggingface_hub snapshot_download" ;; esac ;;
  esac
}
# stats SCENARIO TOOL: "median_wall_s median_cpu_s peak_rss_mib"
stats() {
  local f=$work/res/$1.$2 w c m
  if [ "$1" = cached ]; then
    w=$(awk '{ print $1 / 1e6 }' "$f.us" | median)
    c=$(cut -d' ' -f2 "$f.rc" | median)
    m=$(cut -d' ' -f1 "$f.rc" | sort -n | tail -1)
  else
    w=$(cut -d' ' -f1 "$f" | median)
    c=$(cut -d' ' -f3 "$f" | median)
    m=$(cut -d' ' -f2 "$f" | sort -n | tail -1)
  fi
  echo "$w $c $(awk -v k="$m" 'BEGIN { print k / 1024 }')"
}

declare -A wall rss
echo
echo "### Measured ($(date -u +%F), ROUNDS=$rounds (small: $small_rounds), big file ${size_mib} MiB, ${small_files} small files)"
echo
echo "| scenario | tool | median wall s | CPU s | peak RSS MiB | wharf ÷ tool |"
echo "|---|---|---:|---:|---:|---:|"
for scen in $scenarios; do
  for t in $(tools_of "$scen"); do
    read -r w c m < <(stats "$scen" "$t")
    wall[$scen.$t]=$w
    rss[$scen.$t]=$m
  done
  for t in $(tools_of "$scen"); do
    read -r w c m < <(stats "$scen" "$t")
    printf '| %s | %s | %s | %s | %.1f | %s |\n' "$scen" "$(label "$scen" "$t")" "$(secs "$w")" "$(secs "$c")" "$m" \
      "$(ratio "${wall[$scen.wharf]}" "$w")"
  done
done

# target NAME MEASURED LIMIT: a row of the targets table (MEASURED and LIMIT are ratios or seconds).
target() {
  awk -v n="$1" -v m="$2" -v l="$3" -v u="$4" 'BEGIN { printf "| %s | " (u == "x" ? "%.2f" : "%.4f") "%s | %s |\n", n, m, u, ((u == "x" ? m <= l : m < l) ? "yes" : "**no**") }'
}
# context SCENARIO TOOL: a row of wharf's ratio to TOOL that is no target (a peer doing wharf's work).
context() {
  printf '| %s: wharf ÷ %s | %s | — |\n' "$1" "$(label "$1" "$2")" "$(ratio "${wall[$1.wharf]}" "${wall[$1.$2]}")"
}
fastest() { # SCENARIO TOOLS…: the one of TOOLS with the smallest median wall
  local s=$1 t
  shift
  for t in "$@"; do echo "${wall[$s.$t]} $t"; done | sort -g | head -1 | cut -d' ' -f2
}
# The peers that verify what they fetch (openssl after them); huggingface_hub does not hash.
verified_peers() {
  case $1 in small | repo) echo curl1 curlZ aria2c ;; big) echo curl aria2c ;; capped) echo aria2c-x8 aria2c-x16 ;; esac
}
echo
echo "### Issue 10's targets"
echo
echo "| target | measured | met |"
echo "|---|---:|---|"
for scen in $scenarios; do
  w=${wall[$scen.wharf]}
  if [ "$scen" != cached ]; then
    # shellcheck disable=SC2046 # tool names
    b=$(fastest "$scen" $(verified_peers "$scen"))
    printf '| %s: wharf ÷ best verified peer (%s) | %s | — |\n' "$scen" "$(label "$scen" "$b")" "$(ratio "$w" "${wall[$scen.$b]}")"
  fi
  case $scen in
    small)
      target "small: wharf ≤ 1.0x curl -Z + openssl" "$(awk -v a="$w" -v b="${wall[small.curlZ]}" 'BEGIN { print a / b }')" 1.0 x
      context small curlZ-sync ;;
    big)
      target "big: wharf ≤ 0.6x curl + openssl" "$(awk -v a="$w" -v b="${wall[big.curl]}" 'BEGIN { print a / b }')" 0.6 x
      target "big: wharf ≤ 1.25x curl -o alone (floor)" "$(awk -v a="$w" -v b="${wall[big.floor]}" 'BEGIN { print a / b }')" 1.25 x
      context big floor-sync
      [ -z "${WHARF_BASELINE:-}" ] || target "big: wharf no slower than the baseline" "$(awk -v a="$w" -v b="${wall[big.baseline]}" 'BEGIN { print a / b }')" 1.0 x ;;
    repo)
      target "repo: wharf ≤ 0.6x curl -Z + openssl" "$(awk -v a="$w" -v b="${wall[repo.curlZ]}" 'BEGIN { print a / b }')" 0.6 x
      context repo curlZ-sync ;;
    capped) target "capped: wharf ≤ 1.1x best aria2c + openssl" "$(awk -v a="$w" -v b="${wall[capped.$(fastest capped aria2c-x8 aria2c-x16)]}" 'BEGIN { print a / b }')" 1.1 x ;;
    cached)
      target "cached, online: wharf < 10 ms" "$w" 0.010 " s"
      target "cached, --offline: wharf < 10 ms" "${wall[cached.wharf-off]}" 0.010 " s" ;;
  esac
  for t in $(tools_of "$scen"); do
    case $t in wharf | wharf-*) awk -v n="$scen: $(label "$scen" "$t") peak RSS < 64 MiB" -v m="${rss[$scen.$t]}" \
      'BEGIN { printf "| %s | %.1f MiB | %s |\n", n, m, (m < 64 ? "yes" : "**no**") }' ;; esac
  done
done
echo
[ $has_hf = 1 ] || echo "huggingface_hub: not importable by \`$hf_python\` (HF_PYTHON), left out."
echo "wharf: $wharf${WHARF_BASELINE:+; baseline: $WHARF_BASELINE}. Load (1, 5, 15 min) at the start of each scenario:"
sed 's/^/  /' "$work/load"
