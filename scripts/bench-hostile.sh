#!/usr/bin/env bash
# Hostile clients against a release build on loopback: a baseline, then a slow-loris attack,
# 10,000 idle connections, a connection flood and requests with 10,000 headers (and with a
# 1 MiB header line), each beside a good client (wrk on 4 keep-alive connections, and a new
# connection every 0.1 s). Prints p50, p99 and requests/s of the good client, and the
# daemon's resident memory and open descriptors before, during (the peak) and after each
# attack. scripts/bench_hostile.py does the attacking; every attack stops by itself.
#
#   bash scripts/bench-hostile.sh
#   ATTACK_SECONDS=10 HOLD_SECONDS=20 LORIS_CLIENTS=1000 bash scripts/bench-hostile.sh
#   FLAGSTAFF_BIN=/tmp/old/flagstaff bash scripts/bench-hostile.sh   # another binary, no build
#   IDLE_TIMEOUT=5 bash scripts/bench-hostile.sh                      # passed as --idle-timeout
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
dpkg-query -W -f='${Status}' wrk 2>/dev/null | grep -q "install ok installed" || {
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
}
if [ -n "${FLAGSTAFF_BIN:-}" ]; then
    bin=$FLAGSTAFF_BIN
else
    swift build -c release --product flagstaff
    bin="$PWD/.build/release/flagstaff"
fi

# 10,000 idle connections need 10,000 descriptors on each side, the daemon's and ours.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 12000 ] || echo "warning: ulimit -n is $(ulimit -n); 10,000 idle connections will not fit" >&2

work=$(mktemp -d /tmp/flagstaff-hostile-bench.XXXXXX)
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The repository of scripts/bench-http.sh: 100 flags with rules, rollouts and splits.
source scripts/bench-repo.sh
repo="$work/repo"
make_bench_repo "$repo"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
extra=()
[ -n "${IDLE_TIMEOUT:-}" ] && extra+=(--idle-timeout "$IDLE_TIMEOUT")
"$bin" daemon --repo "$repo" --no-auth --listen "127.0.0.1:$port" --poll-interval 60 "${extra[@]}" \
    2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/daemon.log" >&2; exit 1; }

cat > "$work/post.lua" <<'EOT'
wrk.method = "POST"
wrk.body = '{"context":{"targetingKey":"user-42","email":"kim@example.com","plan":"pro","country":"NL"}}'
wrk.headers["Content-Type"] = "application/json"
EOT
# A short warm-up so the baseline starts hot.
wrk -t1 -c4 -d3s -s "$work/post.lua" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" >/dev/null

echo "binary: $bin; idle timeout: ${IDLE_TIMEOUT:-the default}; descriptors: $(ulimit -n)"
status=0
python3 scripts/bench_hostile.py "$port" "$daemon_pid" "$work/post.lua" || status=$?
if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "the daemon is gone; its log:" >&2
    tail -n 20 "$work/daemon.log" >&2
    status=1
fi
exit "$status"
