#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, starts a throwaway PostgreSQL and Redis
# on loopback (stopped again on exit), then `swift test` (which also runs the schema check
# and the command-line tests against the built binary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build --build-tests
source scripts/services.sh
trap stop_services EXIT
start_services
swift test --skip-build
