#!/usr/bin/env bash
# The Debian package, installed on this machine: packages the debug binary that `swift build`
# made (CI builds debug; it links Swift's runtime from the toolchain, which is here), installs
# it with dpkg -i, checks the files and the `flagstaff` user, runs `flagstaff migrate` and the
# daemon (as `flagstaff`, on a throwaway repository, PostgreSQL and Redis) from the installed
# paths, checks the Grafana dashboard against the daemon's /metrics, then removes and purges
# the package and checks that nothing is left. Exits non-zero naming the failed step.
#
# Run by scripts/test.sh (which has started PostgreSQL and Redis); alone, it starts its own.
# Needs root (dpkg); skips without it. A package left installed by an earlier run is purged
# first; a /usr/bin/flagstaff that no package owns is not overwritten.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo_root=$PWD

step="start"
fail() { echo "FAIL deb: $step${1:+: $1}" >&2; exit 1; }
trap 'fail "command failed (line $LINENO)"' ERR
begin() { step=$1; echo "---- $step" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "skipped deb: dpkg -i needs root" >&2
    exit 0
fi

source scripts/services.sh
work=$(mktemp -d /tmp/flagstaff-deb-test.XXXXXX)
chmod 755 "$work"
daemon_pid=""
database=""
own_services=""
cleanup() {
    local status=$?
    trap - ERR
    set +e
    if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; fi
    if dpkg-query -W -f='${Status}' flagstaff 2>/dev/null | grep -qv "not-installed"; then
        dpkg -P flagstaff >/dev/null 2>&1
    fi
    [ -n "$database" ] && psql -q "$FLAGSTAFF_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1
    [ -n "$own_services" ] && stop_services
    rm -rf "$work"
    exit $status
}
trap cleanup EXIT

begin "the machine is ready"
if dpkg-query -W -f='${Status}' flagstaff 2>/dev/null | grep -qv "not-installed"; then
    echo "a flagstaff package is installed (an earlier run?): purging it" >&2
    dpkg -P flagstaff >/dev/null
fi
[ ! -e /usr/bin/flagstaff ] || fail "/usr/bin/flagstaff exists and no package owns it; not overwriting it"
if [ -z "${FLAGSTAFF_TEST_POSTGRES_URL:-}" ] || [ -z "${FLAGSTAFF_TEST_REDIS_URL:-}" ]; then
    own_services=1
    start_services
fi

begin "package the binary"
started=$(date +%s%N)
# FLAGSTAFF_BIN=.build/release/flagstaff tries the release package instead.
deb=$(FLAGSTAFF_BIN="${FLAGSTAFF_BIN:-$(swift build --show-bin-path)/flagstaff}" FLAGSTAFF_DEB_COMPRESSION=gzip \
    bash scripts/package-deb.sh)
echo "built $deb ($(du -k "$deb" | cut -f1) kB) in $((($(date +%s%N) - started) / 1000000)) ms" >&2
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -f "$deb" Depends | grep -q "libpq5" || fail "Depends lacks libpq5: $(dpkg-deb -f "$deb" Depends)"

begin "dpkg -i"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || fail "$(cat "$work/dpkg.log")"

begin "the installed files"
for f in /usr/bin/flagstaff /lib/systemd/system/flagstaff.service /lib/systemd/system/flagstaff-replica.service \
    /etc/flagstaff/flagstaff.env /etc/flagstaff/replica.env /usr/share/doc/flagstaff/copyright \
    /usr/share/doc/flagstaff/README.md /usr/share/doc/flagstaff/examples/flagstaff-dashboard.json; do
    [ -f "$f" ] || fail "$f is missing"
done
[ "$(/usr/bin/flagstaff --version)" = "$version" ] || fail "flagstaff --version is not the package's $version"
grep -q '^ExecStart=/usr/bin/flagstaff daemon$' /lib/systemd/system/flagstaff.service || fail "ExecStart"
grep -q '^ExecStart=/usr/bin/flagstaff replica$' /lib/systemd/system/flagstaff-replica.service || fail "ExecStart"
! grep -rq /usr/local/bin /lib/systemd/system/flagstaff*.service || fail "a unit still names /usr/local/bin"
[ "$(stat -c '%a %U %G' /etc/flagstaff/flagstaff.env)" = "640 root flagstaff" ] \
    || fail "flagstaff.env is $(stat -c '%a %U %G' /etc/flagstaff/flagstaff.env)"
dpkg-query --control-show flagstaff conffiles | grep -qx /etc/flagstaff/flagstaff.env || fail "not a conffile"
if [ -x /usr/bin/systemd-analyze ]; then
    # The units as installed; only complaints about our own files count (the machine may lack
    # the PostgreSQL and Redis units they order themselves after).
    analysis=$(systemd-analyze verify /lib/systemd/system/flagstaff.service \
        /lib/systemd/system/flagstaff-replica.service 2>&1 || true)
    ! grep -q "flagstaff" <<<"$analysis" || fail "systemd-analyze verify: $analysis"
fi

begin "the flagstaff user"
getent passwd flagstaff >/dev/null || fail "no flagstaff user"
getent group flagstaff >/dev/null || fail "no flagstaff group"
[ "$(stat -c '%U %G %a' /var/lib/flagstaff)" = "flagstaff flagstaff 750" ] \
    || fail "/var/lib/flagstaff is $(stat -c '%U %G %a' /var/lib/flagstaff)"

begin "flagstaff migrate (built-in migrations)"
database="deb_$$_$(date +%s)"
psql -q "$FLAGSTAFF_TEST_POSTGRES_URL" -c "CREATE DATABASE $database" >/dev/null
url="${FLAGSTAFF_TEST_POSTGRES_URL%/*}/$database"
# No --migrations and nothing in the environment: the installed binary has them in itself.
migrated=$(cd / && env -u FLAGSTAFF_MIGRATIONS /usr/bin/flagstaff migrate --postgres "$url" 2>&1) || fail "$migrated"
grep -q "applied" <<<"$migrated" || fail "$migrated"

begin "a flag repository"
flags=$work/flags
mkdir -p "$flags/shop/flags"
cat >"$flags/flagstaff.yaml" <<'EOT'
version: 1
organization: acme
projects: { shop: {} }
environments:
  production: { branch: main, production: true }
EOT
cat >"$flags/shop/flags/dark-mode.yaml" <<'EOT'
rules:
  - name: staff
    when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
    serve: on
default: off
EOT
git -C "$flags" init -q -b main
git -C "$flags" -c user.name=Ana -c user.email=ana@acme.com add -A
git -C "$flags" -c user.name=Ana -c user.email=ana@acme.com commit -q -m flags
# As a server would: the daemon fetches a URL into a mirror in its state directory.
chown -R flagstaff:flagstaff "$flags"

begin "flagstaff daemon as the flagstaff user"
port=$(free_port)
(cd /var/lib/flagstaff && exec env -i PATH=/usr/bin:/bin STATE_DIRECTORY=/var/lib/flagstaff \
    setpriv --reuid=flagstaff --regid=flagstaff --init-groups \
    /usr/bin/flagstaff daemon --repo "file://$flags" --postgres "$url" --redis "$FLAGSTAFF_TEST_REDIS_URL" \
    --redis-prefix "deb$$" --no-auth --listen "127.0.0.1:$port" --poll-interval 1) 2>"$work/daemon.log" &
daemon_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 300); do
    curl -sf "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited: $(tail -n 20 "$work/daemon.log")"
    sleep 0.2
done
curl -sf "$base/readyz" >/dev/null || fail "not ready within 60 s: $(tail -n 20 "$work/daemon.log")"
[ "$(stat -c %U "/proc/$daemon_pid")" = flagstaff ] || fail "the daemon does not run as flagstaff"
[ -d /var/lib/flagstaff/mirror.git ] || fail "no mirror in /var/lib/flagstaff"

begin "an OFREP evaluation"
answer=$(curl -sf "$base/ofrep/v1/evaluate/flags/dark-mode" \
    -d '{"context":{"targetingKey":"u1","email":"kim@acme.com"}}') || fail "no answer"
grep -q '"value":true' <<<"$answer" && grep -q '"reason":"TARGETING_MATCH"' <<<"$answer" || fail "$answer"
curl -s "$base/ofrep/v1/evaluate/flags/no-such-flag" -d '{}' >/dev/null

begin "the Grafana dashboard against /metrics"
for _ in $(seq 50); do
    curl -sf "$base/metrics" >"$work/metrics.txt"
    grep -q '^flagstaff_outbox_pending ' "$work/metrics.txt" && break
    sleep 0.2
done
python3 Tests/python/grafana_dashboard_test.py "$work/metrics.txt" || fail "see above"

begin "stop the daemon"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "exit status $? after SIGTERM"
daemon_pid=""

begin "dpkg -r"
dpkg -r flagstaff >"$work/dpkg.log" 2>&1 || fail "$(cat "$work/dpkg.log")"
for f in /usr/bin/flagstaff /lib/systemd/system/flagstaff.service /lib/systemd/system/flagstaff-replica.service \
    /usr/share/doc/flagstaff; do
    [ ! -e "$f" ] || fail "$f is still there"
done
[ -f /etc/flagstaff/flagstaff.env ] || fail "remove (not purge) dropped the settings"
getent passwd flagstaff >/dev/null || fail "remove (not purge) dropped the user"

begin "dpkg -P"
dpkg -P flagstaff >"$work/dpkg.log" 2>&1 || fail "$(cat "$work/dpkg.log")"
[ ! -e /etc/flagstaff ] || fail "/etc/flagstaff is still there"
[ ! -e /var/lib/flagstaff ] || fail "/var/lib/flagstaff is still there"
! getent passwd flagstaff >/dev/null || fail "the flagstaff user is still there"
! getent group flagstaff >/dev/null || fail "the flagstaff group is still there"
! dpkg-query -W -f='${Status}' flagstaff 2>/dev/null | grep -qv "not-installed" || fail "dpkg still knows the package"

echo "ok   deb: $(basename "$deb") installs, migrates, serves, removes and purges" >&2
