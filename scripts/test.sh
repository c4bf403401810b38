#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then `swift test` (which also runs the
# schema check and the command-line tests against the built binary).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build --build-tests
swift test --skip-build
