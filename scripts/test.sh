#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, starts a throwaway PostgreSQL and Redis
# on loopback (stopped again on exit), then `swift test` (which also runs the schema check,
# the command-line tests and the daemon tests against the built binary), then OpenFeature's
# Python SDK against a live daemon, then schemathesis against schemas/openapi.yaml and a live
# daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build --build-tests
source scripts/services.sh
trap stop_services EXIT
start_services
swift test --skip-build
FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" python3 Tests/python/ofrep_sdk_test.py
FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" python3 Tests/python/schemathesis_test.py
