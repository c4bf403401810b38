#!/usr/bin/env bash
# Installs what is missing, builds Flagstaff, and runs the daemon on this repository's own
# flags/: a demo Git repository is made from them under .scratch/demo (branches main,
# staging and development, one per environment), and a throwaway PostgreSQL and Redis are
# started on loopback unless FLAGSTAFF_POSTGRES and FLAGSTAFF_REDIS give URLs. Ctrl-C stops
# everything. The README shows how to change a flag and watch it arrive.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if [ -n "${FLAGSTAFF_BIN:-}" ]; then
    bin="$FLAGSTAFF_BIN"          # a binary built already (the test suite's)
else
    swift build -c release --product flagstaff
    bin="$PWD/.build/release/flagstaff"
fi

source scripts/services.sh
if [ -z "${FLAGSTAFF_POSTGRES:-}" ] || [ -z "${FLAGSTAFF_REDIS:-}" ]; then
    trap stop_services EXIT
    start_services
    export FLAGSTAFF_POSTGRES="${FLAGSTAFF_POSTGRES:-$FLAGSTAFF_TEST_POSTGRES_URL}"
    export FLAGSTAFF_REDIS="${FLAGSTAFF_REDIS:-$FLAGSTAFF_TEST_REDIS_URL}"
fi

demo=.scratch/demo
if [ ! -d "$demo/.git" ]; then
    mkdir -p "$demo"
    cp -r flags "$demo/flags"
    git -C "$demo" init -q -b main
    git -C "$demo" -c user.name="Flagstaff demo" -c user.email=demo@flagstaff.invalid add -A
    git -C "$demo" -c user.name="Flagstaff demo" -c user.email=demo@flagstaff.invalid commit -q -m "flags from the Flagstaff repository"
    # The walkthrough commits here: name someone if git has nobody configured.
    git -C "$demo" config user.email >/dev/null || git -C "$demo" config user.email demo@flagstaff.invalid
    git -C "$demo" config user.name >/dev/null || git -C "$demo" config user.name "Flagstaff demo"
    git -C "$demo" branch staging
    git -C "$demo" branch development
fi
mkdir -p .scratch
# For a second terminal: `source .scratch/demo.env` (the README's walkthrough does).
cat > .scratch/demo.env <<EOT
export PG='$FLAGSTAFF_POSTGRES'
export REDIS='$FLAGSTAFF_REDIS'
export REDIS_PORT='$(printf %s "$FLAGSTAFF_REDIS" | sed -E 's|.*:([0-9]+).*|\1|')'
EOT
"$bin" validate --repo "$demo" --root flags
"$bin" test --repo "$demo" --root flags

cat >&2 <<EOT

Flagstaff daemon: http://127.0.0.1:${FLAGSTAFF_PORT:-8080}  (flags: $PWD/$demo/flags)
PostgreSQL: $FLAGSTAFF_POSTGRES
Redis:      $FLAGSTAFF_REDIS
Webhook secret: demo. Authentication is off (--no-auth) for this local demo.

EOT
"$bin" daemon --repo "$demo" --root flags --listen "127.0.0.1:${FLAGSTAFF_PORT:-8080}" \
    --poll-interval 2 --webhook-secret demo --no-auth
