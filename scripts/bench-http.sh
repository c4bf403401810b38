#!/usr/bin/env bash
# HTTP throughput with wrk against a release build, in one run on one machine, with the same
# wrk settings for every target: OFREP single evaluation, bulk evaluation of 100 flags, our
# /healthz, and nginx answering a static 200. Prints requests per second, p50 and p99, the
# ratios the targets use, and the daemon's resident memory before and after.
#
#   bash scripts/bench-http.sh                  # 15 s per target
#   DURATION=30 SOAK=300 bash scripts/bench-http.sh   # plus a 5-minute single-evaluation soak
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
SOAK=${SOAK:-0}

bash scripts/install.sh
missing=()
for p in wrk nginx-light; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
swift build -c release --product flagstaff
bin="$PWD/.build/release/flagstaff"

work=$(mktemp -d /tmp/flagstaff-http-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A repository of 100 flags with rules, rollouts and splits.
repo="$work/repo"
mkdir -p "$repo/shop/flags"
cat > "$repo/flagstaff.yaml" <<EOT
version: 1
organization: acme
projects: { shop: {} }
environments:
  production: { branch: main, production: true }
EOT
for i in $(seq -w 0 99); do
    cat > "$repo/shop/flags/flag-$i.yaml" <<EOT
rules:
  - name: staff
    when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
    serve: on
  - name: pro users
    when: [ { attribute: plan, op: in, values: [pro, enterprise] } ]
    rollout: 25
    serve: on
  - name: experiment
    when: [ { attribute: country, op: in, values: [NL, BE, DE] } ]
    serve: { split: { on: 50, off: 50 } }
default: off
EOT
done
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=bench -c user.email=bench@acme.com add -A
git -C "$repo" -c user.name=bench -c user.email=bench@acme.com commit -qm flags

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" daemon --repo "$repo" --no-auth --listen "127.0.0.1:$port" --poll-interval 60 2>"$work/daemon.log" &
pids+=($!)
daemon_pid=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<EOT
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { return 200 "ok\n"; }
    }
}
EOT
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_port/" >/dev/null && break; sleep 0.1; done

body='{"context":{"targetingKey":"user-42","email":"kim@example.com","plan":"pro","country":"NL"}}'
cat > "$work/post.lua" <<EOT
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOT

rss() { awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }

# run NAME URL [LUA] → prints a line and records RPS, P50, P99 (ms) in globals.
run() {
    local name=$1 url=$2 lua=${3:-}
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
    [ -n "$lua" ] && args+=(-s "$lua")
    local out
    out=$(wrk "${args[@]}" "$url")
    RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    P50=$(echo "$out" | awk '$1=="50%" {print $2}')
    P99=$(echo "$out" | awk '$1=="99%" {print $2}')
    local errors
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    printf '%-34s %12s req/s   p50 %9s   p99 %9s%s\n' "$name" "$RPS" "$P50" "$P99" "${errors:+   non-2xx: $errors}"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on $(nproc) cores; 100 flags (3 rules each)"
# A short warm-up so every target starts hot.
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$work/post.lua" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" >/dev/null
rss_start=$(rss)
run "nginx static 200" "http://127.0.0.1:$nginx_port/"; nginx_rps=$RPS
run "flagstaff GET /healthz" "http://127.0.0.1:$port/healthz"; health_rps=$RPS
run "flagstaff OFREP single evaluation" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" "$work/post.lua"
single_rps=$RPS; single_p99=$P99
run "flagstaff OFREP bulk (100 flags)" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags" "$work/post.lua"
rss_end=$(rss)
python3 - "$single_rps" "$health_rps" "$nginx_rps" <<EOT
import sys
single, health, nginx = map(float, sys.argv[1:])
print(f"single / healthz = {single / health:.0%}   single / nginx = {single / nginx:.0%}")
EOT
echo "daemon resident memory: ${rss_start} kB before the measured runs, ${rss_end} kB after"

if [ "$SOAK" -gt 0 ]; then
    echo "soak: single evaluation for ${SOAK}s, resident memory every 30 s (kB):"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SOAK}s" -s "$work/post.lua" \
        "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" > "$work/soak.txt" &
    soak=$!
    samples=()
    while kill -0 "$soak" 2>/dev/null; do samples+=("$(rss)"); sleep 30; done
    echo "  ${samples[*]}"
    awk '/Requests\/sec/ {print "  " $0}' "$work/soak.txt"
fi
