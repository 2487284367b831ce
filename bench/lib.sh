# shellcheck shell=bash disable=SC2154 # $work is the sourcing script's
# What bench/speed.sh and bench/team.sh share: sourced by both. The functions read `$work` (the
# run's temp folder) when called.

die() {
  echo "error: $*" >&2
  exit 1
}

# fresh: an empty home for one run (HOME, wharf's home and caches, the HF cache, an output folder).
# The last run's folder is moved aside, not deleted, and only its large files go at once: on an
# ext4 without a journal (this VM's root) the inode allocator skips inodes freed in the last
# minutes, so deleting the last run's thousand small files would bill the next run, for every new
# file, a scan past them. No user pulls right after deleting a thousand files; the folders set
# aside are deleted at the end.
set_aside() { # DIR
  [ -d "$1" ] || return 0
  aside=$((${aside:-0} + 1))
  mv "$1" "$work/old/$aside"
  find "$work/old/$aside" -type f -size +1M -delete
}
fresh() {
  set_aside "$work/run"
  mkdir -p "$work/run/home" "$work/run/out"
}

# busy: what else runs: compilers and linkers (by name; an idle `cargo` waiting on a hung test is
# not counted), or else the share of both cores others kept busy over the last second if over 25%.
busy() {
  ps -eo pid=,comm= | awk '$2 ~ /^(rustc|cc1|cc1plus|ld|clang|mold)$/ { printf "%s(%s) ", $1, $2 }'
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); u = y[1] - x[1]; t = u + y[2] - x[2]
    if (t > 0 && u / t > 0.25) printf "cpu %d%% busy", 100 * u / t }'
}
wait_idle() {
  [ "${WAIT_IDLE:-1}" = 1 ] || return 0
  local waited=0 b
  while b=$(busy) && [ -n "$b" ] && [ $waited -lt 1800 ]; do # at most 30 minutes
    echo "  busy: $b; waiting 30 s…" >&2
    sleep 30
    waited=$((waited + 30))
  done
}

# check_files DIR NAMES SET WHO: DIR holds the files listed in NAMES (paths inside DIR, without
# spaces) with the digests expected of SET, by the calling script's `same_digests`.
check_files() {
  [ -d "$1" ] || die "$4 made no folder $1"
  # shellcheck disable=SC2046 # the names are the harness's own, without spaces
  (cd "$1" && openssl dgst -sha256 -r $(cat "$2")) >"$work/check.sums" 2>"$work/err" ||
    die "$4 did not deliver the files of set \`$3\`: $(tail -3 "$work/err")"
  same_digests "$work/check.sums" "$3" "$4"
}
# measure KEY CMD...: run CMD once after an untimed sync (in the environment `run_env`, an array
# the sourcing script sets); append "wall_s rss_kib cpu_s" to res/KEY, and " server_cpu_s" when
# the sourcing script defines `server_cpu` (the CPU seconds its server has used so far). Wall time
# is taken around GNU time (µs resolution; its %e has only 10 ms), RSS and CPU from it (they
# include the children: openssl after a peer).
measure() {
  local key=$1 t0 t1 rss user sys s0="" s1="" line
  shift
  sync
  if declare -F server_cpu >/dev/null; then s0=$(server_cpu); fi
  t0=$EPOCHREALTIME
  "${run_env[@]}" /usr/bin/time -f "%M %U %S" -o "$work/t" "$@" >"$work/out" 2>"$work/err" ||
    die "$key failed: $(tail -5 "$work/err")"
  t1=$EPOCHREALTIME
  [ -z "$s0" ] || s1=$(server_cpu)
  read -r rss user sys < <(tail -1 "$work/t")
  line=$(awk -v us=$((${t1/./} - ${t0/./})) -v rss="$rss" -v u="$user" -v s="$sys" \
    'BEGIN { printf "%.6f %d %.3f", us / 1e6, rss, u + s }')
  [ -z "$s0" ] || line="$line $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }')"
  echo "$line" >>"$work/res/$key"
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
secs() { awk -v s="$1" 'BEGIN { if (s < 0.05) printf "%.4f", s; else if (s < 1) printf "%.3f", s; else printf "%.2f", s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
