#!/usr/bin/env bash
# Notification latency: from a sync (the event's `time`, taken in the sync's transaction)
# to the webhook receiver's arrival, median over 20 commits, and from `git commit` to the
# receiver with the tests' 0.2 s poll interval; against a debug build, a throwaway
# PostgreSQL and a loopback receiver. The numbers come from the test
# NotificationTests/syncToReceiverLatency, which fails when the median passes 200 ms.
# Usage: bash scripts/bench-notify.sh [RUNS]   (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
swift build --build-tests
source scripts/services.sh
trap stop_services EXIT
start_services
for _ in $(seq "$runs"); do
    swift test --skip-build --filter 'NotificationTests/syncToReceiverLatency' 2>&1 | grep -E 'notify latency|✘|error' || true
done
