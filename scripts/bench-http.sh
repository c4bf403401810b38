#!/usr/bin/env bash
# HTTP throughput with wrk against a release build, in one run on one machine, with the same
# wrk settings for every target: OFREP single evaluation, bulk evaluation of 100 flags, our
# /healthz, and nginx answering a static 200. Prints requests per second, p50 and p99, the
# ratios the targets use, and the daemon's resident memory before and after.
#
#   bash scripts/bench-http.sh                  # 3 rounds of 15 s per target
#   DURATION=10 ROUNDS=5 bash scripts/bench-http.sh
#   DURATION=30 SOAK=300 bash scripts/bench-http.sh   # plus a 5-minute single-evaluation soak
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
SOAK=${SOAK:-0}
ROUNDS=${ROUNDS:-3}

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
source scripts/bench-repo.sh
repo="$work/repo"
make_bench_repo "$repo"

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

# run URL [LUA] → sets RPS, P50 and P99 (as wrk prints them) and NON2XX.
run() {
    local url=$1 lua=${2:-}
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency)
    [ -n "$lua" ] && args+=(-s "$lua")
    local out
    out=$(wrk "${args[@]}" "$url")
    RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    P50=$(echo "$out" | awk '$1=="50%" {print $2}')
    P99=$(echo "$out" | awk '$1=="99%" {print $2}')
    NON2XX=$(echo "$out" | awk '/Non-2xx/ {print $5}')
}

names=("nginx static 200" "flagstaff GET /healthz" "flagstaff OFREP single evaluation" "flagstaff OFREP bulk (100 flags)")
urls=("http://127.0.0.1:$nginx_port/" "http://127.0.0.1:$port/healthz"
    "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags")
luas=("" "" "$work/post.lua" "$work/post.lua")

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s on $(nproc) cores; 100 flags (3 rules each); $ROUNDS rounds of the four targets"
# A short warm-up so every target starts hot.
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$work/post.lua" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" >/dev/null
rss_start=$(rss)
: > "$work/results.txt"
# The targets take turns, round after round, so that a slow spell of the machine falls on
# all of them rather than on one; the summary takes each target's median round.
for round in $(seq "$ROUNDS"); do
    for i in 0 1 2 3; do
        run "${urls[$i]}" "${luas[$i]}"
        printf '  round %d  %-34s %12s req/s   p50 %9s   p99 %9s%s\n' "$round" "${names[$i]}" "$RPS" "$P50" "$P99" \
            "${NON2XX:+   non-2xx: $NON2XX}"
        echo "$i $RPS $P50 $P99" >> "$work/results.txt"
    done
done
rss_end=$(rss)
python3 - "$work/results.txt" "${names[@]}" <<'EOT'
import statistics, sys
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit): return float(text[: -len(unit)]) * factor
    return float(text)
rows = [line.split() for line in open(sys.argv[1])]
names = sys.argv[2:]
median = {}
print("median of the rounds:")
for i, name in enumerate(names):
    mine = [r for r in rows if int(r[0]) == i]
    rps = statistics.median(float(r[1]) for r in mine)
    p50 = statistics.median(ms(r[2]) for r in mine)
    p99 = statistics.median(ms(r[3]) for r in mine)
    median[i] = rps
    print(f"  {name:34} {rps:12.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
print(f"single / healthz = {median[2] / median[1]:.0%}   single / nginx = {median[2] / median[0]:.0%}")
per_round = [(float(a[1]), float(b[1]), float(c[1])) for a, b, c in zip(
    [r for r in rows if r[0] == "0"], [r for r in rows if r[0] == "1"], [r for r in rows if r[0] == "2"])]
print("per round, single / healthz: " + "  ".join(f"{s / h:.0%}" for n, h, s in per_round)
      + "   single / nginx: " + "  ".join(f"{s / n:.0%}" for n, h, s in per_round))
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
