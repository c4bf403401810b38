#!/usr/bin/env bash
# Per-evaluation time in Python: OpenFeature with FlagstaffProvider (local, libflagstaff) against
# OpenFeature's OFREP provider (a local daemon) and Unleash's own Python SDK (yggdrasil), one flag,
# one context, one run; medians, p90, p99. Usage: bash scripts/bench-python-sdk.sh [--calls N]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build -c release --product flagstaff
library="$(bash scripts/build-libflagstaff.sh)"
python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./sdk/python 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
        --break-system-packages ./sdk/python
python3 scripts/bench_python_sdk.py --bin .build/release/flagstaff --library "$library" "$@"
