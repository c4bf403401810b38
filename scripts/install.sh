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

# The schema check; OpenFeature's own SDK and OFREP provider for the client tests and the
# Python SDK's provider; Unleash's Python SDK for bench-python-sdk.sh; schemathesis for the
# OpenAPI test. Pinned where behaviour or an interface we implement changes between versions.
pinned=("schemathesis==4.32.5" "openfeature-sdk==0.10.0" "openfeature-provider-ofrep==0.3.0" "UnleashClient==6.9.1")
python_packages=(jsonschema ruamel.yaml "${pinned[@]}")
if ! python3 -c 'import jsonschema, ruamel.yaml' 2>/dev/null \
    || ! python3 - "${pinned[@]}" 2>/dev/null <<'PY'
import importlib.metadata as m, sys
sys.exit(any(m.version(name) != version for name, version in (p.split("==") for p in sys.argv[1:])))
PY
then
    echo "installing Python packages: ${python_packages[*]}" >&2
    python3 -m pip install --quiet --disable-pip-version-check "${python_packages[@]}" 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${python_packages[@]}"
fi

command -v swift >/dev/null || { echo "swift is not on PATH (expected Swift 6.2 or newer)" >&2; exit 1; }
