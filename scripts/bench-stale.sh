#!/usr/bin/env bash
# `flagstaff stale` over a big environment: 10,000 flags served, 30 days of hourly counts for
# each (7.2 million evaluation_counts rows, and flag_activity kept from them as the daemon's
# flush keeps it), then the command timed end to end (connect, read the served snapshot,
# read flag_activity, classify, print). Target: at most 1 s.
#
# Usage: bash scripts/bench-stale.sh [--rounds N]
#   FLAGSTAFF_BIN                 the binary to time (default: a release build, built here)
#   FLAGSTAFF_TEST_POSTGRES_URL   a PostgreSQL to create the database in (default: a throwaway
#                                 one from scripts/services.sh)
#   BENCH_KEEP=1                  keep the database afterwards (its URL is printed), to profile
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
if [ "${1:-}" = "--rounds" ]; then rounds="$2"; fi
flags=10000
hours=720

if [ -z "${FLAGSTAFF_BIN:-}" ]; then
    swift build -c release --product flagstaff
    FLAGSTAFF_BIN="$(swift build -c release --show-bin-path)/flagstaff"
fi
if [ -z "${FLAGSTAFF_TEST_POSTGRES_URL:-}" ]; then
    source scripts/services.sh
    trap stop_services EXIT
    start_services
fi
work="$(mktemp -d)"
database="bench_stale_$$"
url="${FLAGSTAFF_TEST_POSTGRES_URL%/*}/$database"
cleanup() {
    rm -rf "$work"
    if [ -n "${BENCH_KEEP:-}" ]; then echo "kept the database: $url"; return; fi
    psql -q "$FLAGSTAFF_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
}
trap 'cleanup; if declare -f stop_services >/dev/null; then stop_services; fi' EXIT
psql -q "$FLAGSTAFF_TEST_POSTGRES_URL" -c "CREATE DATABASE $database" >/dev/null
"$FLAGSTAFF_BIN" migrate --postgres "$url" >/dev/null

# A flag repository of 10,000 flags, compiled by the binary into the production snapshot
# that the daemon would store.
python3 - "$work/repo" "$flags" <<'EOF'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{root}/shop/flags")
with open(f"{root}/flagstaff.yaml", "w") as f:
    f.write("version: 1\norganization: acme\nprojects: { shop: {} }\n"
            "environments:\n  production: { branch: main, production: true }\n")
for i in range(count):
    with open(f"{root}/shop/flags/flag-{i:05d}.yaml", "w") as f:
        expires = "expires: 2025-01-01\n" if i % 100 == 7 else ""
        f.write(f"description: benchmark flag {i}\n{expires}rules:\n"
                f"  - {{ when: [ {{ attribute: plan, op: in, values: [pro] }} ], serve: on }}\ndefault: off\n")
EOF
"$FLAGSTAFF_BIN" compile --repo "$work/repo" --environment production > "$work/snapshot.json" 2>"$work/compile.log"

start=$(date +%s.%N)
psql -q -v ON_ERROR_STOP=1 "$url" <<EOF
\set content \`cat $work/snapshot.json\`
INSERT INTO organizations (key, name) VALUES ('acme', 'acme');
INSERT INTO projects (organization_id, key, name) SELECT id, 'shop', 'shop' FROM organizations;
INSERT INTO environments (project_id, key, name, branch, production)
    SELECT id, 'production', 'production', 'main', true FROM projects;
INSERT INTO snapshots (environment_id, revision, version, commit_sha, branch, content)
    SELECT e.id, 1, (:'content'::jsonb)->>'version', repeat('0', 40), 'main', :'content'::jsonb FROM environments e;

-- 30 days of hourly counts, the current hour included (721 hours). Flag i serves:
--   i % 4 = 0  only 'on' (ready to remove)
--   i % 4 = 1  'on' and 'off' every hour
--   i % 4 = 2  'off', and 'on' in even hours
--   i % 4 = 3  'on' until 12 days ago, nothing since (not evaluated for 10 days, not for 30)
--   i % 50 = 49 never (no rows)
CREATE TEMPORARY TABLE bench_hours AS
    SELECT date_trunc('hour', now()) - make_interval(hours => h) AS hour, h FROM generate_series(0, $hours) h;
INSERT INTO evaluation_counts (environment_id, flag_key, variant, reason, version, window_start, count)
SELECT e.id, 'flag-' || lpad(f::text, 5, '0'), v.variant, 'DEFAULT', 'sha256:bench', t.hour, 1 + (f + t.h) % 17
FROM environments e, generate_series(0, $flags - 1) f, bench_hours t,
    LATERAL (
        SELECT 'on' AS variant WHERE f % 4 IN (0, 1) OR (f % 4 = 2 AND t.h % 2 = 0) OR (f % 4 = 3 AND t.h >= 288)
        UNION ALL SELECT 'off' WHERE f % 4 IN (1, 2)
    ) v
WHERE f % 50 <> 49;
INSERT INTO flag_activity (environment_id, flag_key, variant, first_seen, last_seen, count)
SELECT environment_id, flag_key, variant, min(window_start), max(window_start), sum(count)
FROM evaluation_counts GROUP BY environment_id, flag_key, variant;
ANALYZE;
EOF
end=$(date +%s.%N)
rows=$(psql -At "$url" -c "SELECT count(*) FROM evaluation_counts")
activity=$(psql -At "$url" -c "SELECT count(*) FROM flag_activity")
echo "data: $flags flags, $rows evaluation_counts rows, $activity flag_activity rows (written in $(echo "$end - $start" | bc) s)"

"$FLAGSTAFF_BIN" stale --postgres "$url" --days 10 | sed -n 2p
best=""
for round in $(seq "$rounds"); do
    start=$(date +%s.%N)
    "$FLAGSTAFF_BIN" stale --postgres "$url" --days 30 --format json > "$work/report.json"
    end=$(date +%s.%N)
    seconds=$(echo "$end - $start" | bc)
    echo "round $round: flagstaff stale (10,000 flags, JSON) $seconds s"
    if [ -z "$best" ] || [ "$(echo "$seconds < $best" | bc)" = 1 ]; then best="$seconds"; fi
done
"$FLAGSTAFF_BIN" stale --postgres "$url" --days 30 | sed -n 2p
echo "best: $best s (target: at most 1 s)"
