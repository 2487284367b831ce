#!/usr/bin/env bash
# Verified download of a 1 GiB file from a real local server (nginx on 127.0.0.1), interleaved:
#   wharf pull URL#sha256=…          (download + SHA-256 in one pass, atomic, verified)
#   curl -o f URL; openssl dgst -sha256 f
#   aria2c -x8 URL; openssl dgst -sha256 f
# Median wall time and peak RSS of each over ROUNDS rounds (default 5), and wharf's ratios.
# openssl is used for the peers because coreutils' sha256sum has no SHA-NI and would flatter wharf.
# WHARF_BASELINE=/path/to/an/older/wharf adds that binary as one more tool, run in the same rounds
# (to show a change did not make wharf slower).
# Needs: nginx, curl, aria2c, openssl, GNU time (installed from Debian's packages when missing).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-5}
size_mib=${SIZE_MIB:-1024}

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v aria2c >/dev/null || need+=(aria2)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
wharf="$here/target/release/wharf"

work=$(mktemp -d "${TMPDIR:-/tmp}/wharf-bench.XXXXXX")
cleanup() { [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/www" "$work/logs"
chmod 755 "$work" "$work/www"  # nginx workers run as another user
echo "making a ${size_mib} MiB file…" >&2
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/www/big.bin"
chmod 644 "$work/www/big.bin"
sha=$(openssl dgst -sha256 -r "$work/www/big.bin" | cut -d' ' -f1)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/logs;
  proxy_temp_path $work/logs;
  fastcgi_temp_path $work/logs;
  uwsgi_temp_path $work/logs;
  scgi_temp_path $work/logs;
  server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
"$nginx_bin" -p "$work" -c "$work/nginx.conf"
url="http://127.0.0.1:$port/big.bin"
for _ in $(seq 50); do curl -sfI "$url" >/dev/null && break; sleep 0.1; done

# measure NAME CMD...: append "seconds max_rss_kib" to $work/NAME.txt. Every run starts with the
# disk queue flushed (untimed `sync`), so no tool pays for the write-back of the one before it.
measure() {
  local name=$1; shift
  sync
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/t" >> "$work/$name.txt"
}
check() { # the digest a run printed must be the file's
  grep -q "$sha" "$1" || { echo "wrong digest from $2" >&2; exit 1; }
}

for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  rm -rf "$work/wc"
  # With a baseline, the two wharfs take turns going first (no one always pays for a cold start).
  pair="wharf${WHARF_BASELINE:+ baseline}"
  [ -n "${WHARF_BASELINE:-}" ] && [ $((r % 2)) -eq 0 ] && pair="baseline wharf"
  for w in $pair; do
    bin=$wharf; [ "$w" = baseline ] && bin=$WHARF_BASELINE
    measure "$w" env WHARF_CACHE_DIR="$work/wc" WHARF_HOME="$work/h-$w" "$bin" pull --json "$url#sha256=$sha"
    [ -f "$work/wc/blobs/sha256/$sha" ] || { echo "$w did not store the file" >&2; exit 1; }
    rm -rf "$work/wc"
  done

  measure curl sh -c "curl -s -o '$work/c.bin' '$url' && openssl dgst -sha256 '$work/c.bin' > '$work/c.sum'"
  check "$work/c.sum" curl; rm -f "$work/c.bin"

  measure aria2c sh -c "aria2c -q -x8 -s8 --allow-overwrite=true --file-allocation=none -d '$work' -o a.bin '$url' && openssl dgst -sha256 '$work/a.bin' > '$work/a.sum'"
  check "$work/a.sum" aria2c; rm -f "$work/a.bin"
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
printf '\n%-8s %10s %14s\n' tool "median s" "peak RSS MiB"
tools="wharf${WHARF_BASELINE:+ baseline} curl aria2c"
for t in $tools; do
  s=$(cut -d' ' -f1 "$work/$t.txt" | median)
  m=$(cut -d' ' -f2 "$work/$t.txt" | sort -n | tail -1)
  printf '%-8s %10s %14.1f\n' "$t" "$s" "$(echo "$m / 1024" | bc -l)"
  eval "med_$t=$s"
done
fastest=$(printf '%s\n' "$med_curl" "$med_aria2c" | sort -n | head -1)
printf '\nwharf / curl+openssl   = %.2fx\n' "$(echo "$med_wharf / $med_curl" | bc -l)"
printf 'wharf / aria2c+openssl = %.2fx\n' "$(echo "$med_wharf / $med_aria2c" | bc -l)"
[ -n "${WHARF_BASELINE:-}" ] && printf 'wharf / baseline       = %.2fx\n' "$(echo "$med_wharf / $med_baseline" | bc -l)"
printf 'wharf / fastest peer   = %.2fx   (target: at most 0.70x; peak RSS under 64 MiB)\n' "$(echo "$med_wharf / $fastest" | bc -l)"
