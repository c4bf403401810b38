#!/usr/bin/env bash
# Installs what is missing, builds Flagstaff, and runs it on this repository's own flags/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
swift build -c release --product flagstaff
bin=.build/release/flagstaff
"$bin" validate --repo flags
"$bin" test --repo flags
echo
echo "evaluating storefront/new-checkout for a staff member in production:"
"$bin" eval --repo flags --project storefront --flag new-checkout \
    --context '{"targetingKey":"user-1","email":"kim@acme.com","plan":"pro"}'
