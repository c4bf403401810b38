#!/usr/bin/env bash
# Installs what Flagstaff needs on a fresh Debian 12 machine (as root, or with sudo):
# the C libraries it links, the servers its tests and demo start, and the Python
# packages of the schema check. Installs only what is missing; safe to run again.
set -euo pipefail

packages=(
    pkg-config libyaml-dev libgit2-dev libpq-dev libhiredis-dev   # linked by the build
    git curl openssl postgresql redis-server                        # used by tests and the demo
    python3 python3-pip                                             # the schema check, the SDK test
    dpkg-dev adduser                                                # scripts/package-deb.sh and its test
    gcc libc6-dev binutils                                          # Tests/clib: C programs that load libflagstaff
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The schema check, OpenFeature's own SDK and OFREP provider for the client test, and
# schemathesis (pinned: its checks change between versions) for the OpenAPI test.
schemathesis_version=4.32.5
python_packages=(jsonschema ruamel.yaml openfeature-sdk openfeature-provider-ofrep "schemathesis==$schemathesis_version")
if ! python3 -c 'import jsonschema, ruamel.yaml, openfeature.contrib.provider.ofrep' 2>/dev/null \
    || ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$schemathesis_version')" \
        2>/dev/null; then
    echo "installing Python packages: ${python_packages[*]}" >&2
    python3 -m pip install --quiet --disable-pip-version-check "${python_packages[@]}" 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${python_packages[@]}"
fi

command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.2 or newer)" >&2; exit 1; }
