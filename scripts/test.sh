#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, starts a throwaway PostgreSQL and Redis
# on loopback (stopped again on exit), then `swift test` (which also runs the schema check,
# the command-line tests and the daemon tests against the built binary), a short fuzz run,
# libflagstaff built as C programs link it and run against the shared vectors from C,
# OpenFeature's Python SDK against a live daemon, schemathesis against schemas/openapi.yaml and
# a live daemon, the Debian package installed and removed on this machine (with the Grafana
# dashboard checked against its daemon's /metrics), and the README's walkthrough as a new user
# runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build --build-tests
source scripts/services.sh
trap stop_services EXIT
start_services
swift test --skip-build
# A short libFuzzer run of each fuzzer (longer runs by hand: docs/fuzzing.md).
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash scripts/fuzz.sh
bash Tests/clib/run.sh
FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" python3 Tests/python/ofrep_sdk_test.py
# The Python SDK (sdk/python): the library it loads, the package as users install it, then its
# tests against the shared vectors and a live daemon.
libflagstaff="$(bash scripts/build-libflagstaff.sh)"
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./sdk/python \
    2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check --force-reinstall \
    --no-deps --break-system-packages ./sdk/python
FLAGSTAFF_LIBRARY="$libflagstaff" FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" \
    python3 Tests/python/python_sdk_test.py
FLAGSTAFF_LIBRARY="$libflagstaff" FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" \
    python3 Tests/python/python_sdk_daemon_test.py
FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" python3 Tests/python/schemathesis_test.py
bash Tests/package/deb_test.sh
FLAGSTAFF_BIN="$(swift build --show-bin-path)/flagstaff" python3 Tests/readme/walkthrough_test.py
