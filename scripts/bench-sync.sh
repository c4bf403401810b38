#!/usr/bin/env bash
# Sync latency: commit + signed webhook → Redis message → new snapshot served, for a
# 1,000-flag and a 10,000-flag repository, against a release build and a throwaway
# PostgreSQL and Redis. Usage: bash scripts/bench-sync.sh [--rounds N] [--sizes 1000,10000]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build -c release --product flagstaff
source scripts/services.sh
trap stop_services EXIT
start_services
python3 scripts/bench_sync.py --bin .build/release/flagstaff --postgres "$FLAGSTAFF_TEST_POSTGRES_URL" \
    --redis "$FLAGSTAFF_TEST_REDIS_URL" "$@"
