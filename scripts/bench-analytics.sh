#!/usr/bin/env bash
# What analytics cost and how much they carry, against a release build, in one run:
#
# 1. OFREP single-evaluation throughput of three daemons serving the same 100 flags, taking
#    turns round after round with the same wrk settings: analytics off (--analytics-flush 0),
#    counts only (the default), and counts plus an event for every evaluation (the evaluated
#    flag has `events: true`). Prints the medians and the ratios against "off".
# 2. Events into PostgreSQL: bulk evaluations of 100 flags that all record events, as fast as
#    wrk can send them, for the sustained rate the writer keeps up with (events written per
#    second, and how many were dropped); then the same at twice that rate (wrk's delay()),
#    with the drops counted by flagstaff_analytics_dropped_total.
#
#   bash scripts/bench-analytics.sh
#   DURATION=10 ROUNDS=5 bash scripts/bench-analytics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}

bash scripts/install.sh
if ! command -v wrk >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
swift build -c release --product flagstaff
bin="$PWD/.build/release/flagstaff"

source scripts/services.sh
start_services >/dev/null
work=$(mktemp -d /tmp/flagstaff-analytics-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_services >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

source scripts/bench-repo.sh
make_bench_repo "$work/plain"
# The same flags, every one recording its evaluations, keeping one attribute.
make_bench_repo "$work/events"
printf 'analytics:\n  keep: [plan]\n' >> "$work/events/flagstaff.yaml"
for f in "$work"/events/shop/flags/*.yaml; do sed -i '1i events: true' "$f"; done
git -C "$work/events" -c user.name=bench -c user.email=bench@acme.com commit -qam "record every evaluation"

database() {
    local name="bench_analytics_$1_$$"
    psql -q "$FLAGSTAFF_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null
    echo "${FLAGSTAFF_TEST_POSTGRES_URL%/*}/$name"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # NAME REPO ARGS… → port in $PORT
    local name=$1 repo=$2; shift 2
    PORT=$(free_port)
    "$bin" daemon --repo "$repo" --no-auth --listen "127.0.0.1:$PORT" --poll-interval 60 "$@" 2>"$work/$name.log" &
    pids+=($!)
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
    echo "the $name daemon did not start:"; tail -5 "$work/$name.log"; exit 1
}
start off "$work/plain" --postgres "$(database off)" --analytics-flush 0; off=$PORT
start counts "$work/plain" --postgres "$(database counts)"; counts=$PORT
events_db=$(database events)
start events "$work/events" --postgres "$events_db" --events-queue 100000; events=$PORT

body='{"context":{"targetingKey":"user-42","email":"kim@example.com","plan":"pro","country":"NL"}}'
cat > "$work/post.lua" <<EOT
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOT
run() { # URL LUA → RPS
    RPS=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$2" "$1" | awk '/Requests\/sec/ {print $2}')
}
metric() { # PORT NAME-WITH-LABELS → value
    curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'
}

drain() { # PORT: waits until the daemon's event queue is empty
    for _ in $(seq 240); do
        [ "$(metric "$1" flagstaff_analytics_queue_depth)" = "0" ] && return
        sleep 0.25
    done
}

echo "1. OFREP single evaluation, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds, $(nproc) cores"
names=("analytics off" "counts" "counts + events (100 %)")
ports=("$off" "$counts" "$events")
for port in "${ports[@]}"; do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$work/post.lua" "http://127.0.0.1:$port/ofrep/v1/evaluate/flags/flag-42" >/dev/null
done
: > "$work/results.txt"
for round in $(seq "$ROUNDS"); do
    for i in 0 1 2; do
        run "http://127.0.0.1:${ports[$i]}/ofrep/v1/evaluate/flags/flag-42" "$work/post.lua"
        printf '  round %d  %-26s %10s req/s\n' "$round" "${names[$i]}" "$RPS"
        echo "$i $RPS" >> "$work/results.txt"
        # The events daemon's last second of events is written before the next target runs.
        [ "$i" -eq 2 ] && drain "$events"
    done
done
python3 - "$work/results.txt" "${names[@]}" <<'EOT'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = sys.argv[2:]
median = {i: statistics.median(float(r[1]) for r in rows if int(r[0]) == i) for i in range(3)}
for i, name in enumerate(names):
    print(f"  median {name:26} {median[i]:10.0f} req/s  ({median[i] / median[0]:.1%} of off)")
EOT
sleep 2
echo "  events written by the events daemon so far: $(metric "$events" flagstaff_analytics_events_written_total)," \
    "dropped: $(metric "$events" 'flagstaff_analytics_dropped_total{kind="events",reason="queue_full"}')"

echo "2. events into PostgreSQL: bulk evaluations of 100 flags, 100 events each"
# Let the writer empty its queue, then measure from a clean start.
sleep 3
written0=$(metric "$events" flagstaff_analytics_events_written_total)
dropped0=$(metric "$events" 'flagstaff_analytics_dropped_total{kind="events",reason="queue_full"}')
start_ns=$(date +%s%N)
wrk -t"$THREADS" -c8 -d"${DURATION}s" -s "$work/post.lua" "http://127.0.0.1:$events/ofrep/v1/evaluate/flags" > "$work/bulk.txt"
end_ns=$(date +%s%N)
# Written while wrk ran: what the writer sustains with the queue full and HTTP using the cores too.
written1=$(metric "$events" flagstaff_analytics_events_written_total)
dropped1=$(metric "$events" 'flagstaff_analytics_dropped_total{kind="events",reason="queue_full"}')
requests=$(awk '/requests in/ {print $1}' "$work/bulk.txt")
python3 - "$written0" "$written1" "$dropped0" "$dropped1" "$start_ns" "$end_ns" "$requests" "$DURATION" > "$work/rate.txt" <<'EOT'
import sys
w0, w1, d0, d1, s, e, requests, duration = (float(x) for x in sys.argv[1:])
written, dropped, seconds = w1 - w0, d1 - d0, (e - s) / 1e9
offered = requests * 100 / duration
rate = written / seconds
print(f"{rate:.0f}")
print(f"  saturated: offered {offered:,.0f} events/s for {seconds:.1f} s; written {written:,.0f} "
      f"= {rate:,.0f} events/s sustained; dropped {dropped:,.0f}", file=sys.stderr)
EOT
drain "$events"
sustained=$(cat "$work/rate.txt")
# Twice the sustained rate: each of 8 connections waits between requests so that the 8
# together offer 2 × sustained events per second (100 events a request).
target=$((sustained * 2))
delay_ms=$(python3 -c "print(max(1, int(8 * 100 * 1000 / $target)))")
cat > "$work/paced.lua" <<EOT
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
function delay() return $delay_ms end
EOT
sleep 2
written0=$(metric "$events" flagstaff_analytics_events_written_total)
dropped0=$(metric "$events" 'flagstaff_analytics_dropped_total{kind="events",reason="queue_full"}')
wrk -t"$THREADS" -c8 -d"${DURATION}s" -s "$work/paced.lua" "http://127.0.0.1:$events/ofrep/v1/evaluate/flags" > "$work/paced.txt"
drain "$events"
written1=$(metric "$events" flagstaff_analytics_events_written_total)
dropped1=$(metric "$events" 'flagstaff_analytics_dropped_total{kind="events",reason="queue_full"}')
requests=$(awk '/requests in/ {print $1}' "$work/paced.txt")
python3 - "$written0" "$written1" "$dropped0" "$dropped1" "$requests" "$DURATION" "$target" <<'EOT'
import sys
w0, w1, d0, d1, requests, duration, target = (float(x) for x in sys.argv[1:])
offered = requests * 100
print(f"  at twice that ({target:,.0f} events/s asked, {offered / duration:,.0f} events/s sent for {duration:.0f} s): "
      f"{w1 - w0:,.0f} written, {d1 - d0:,.0f} dropped ({(d1 - d0) / max(offered, 1):.1%}), "
      f"queue capacity 100,000")
EOT
rows=$(psql -tA "$events_db" -c "SELECT count(*) FROM evaluation_events")
echo "  rows in evaluation_events: $rows"
