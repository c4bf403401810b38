#!/usr/bin/env bash
# What a management API call costs, against a release build with PostgreSQL and Redis:
# for a repository of 1,000 and of 10,000 flags (one file each, with comments and an
# overlay), a toggle from the request to the answer (the commit has landed), a toggle with
# ?wait=applied (to the new value served), and reads (one flag's configuration, a page of
# 100 flags). Each figure is the median and p99 over the runs, measured by
# scripts/bench_manage.py over one keep-alive connection.
#
#   bash scripts/bench-manage.sh
#   SIZES="1000" TOGGLES=100 bash scripts/bench-manage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 10000"}
TOGGLES=${TOGGLES:-200}
APPLIED=${APPLIED:-100}
READS=${READS:-1000}

bash scripts/install.sh >/dev/null
swift build -c release --product flagstaff
bin="$PWD/.build/release/flagstaff"

source scripts/services.sh
start_services >/dev/null
work=$(mktemp -d /tmp/flagstaff-manage-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    stop_services >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

make_repo() { # DIR COUNT
    local dir=$1 count=$2
    mkdir -p "$dir/shop/flags"
    git -C "$dir" init -q -b main
    cat > "$dir/flagstaff.yaml" <<'YAML'
version: 1
organization: acme
projects: { shop: {} }
environments:
  production: { branch: main, production: true }
  staging: { branch: staging }
YAML
    python3 - "$dir" "$count" <<'PY'
import sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    with open(f"{root}/shop/flags/flag-{i:05d}.yaml", "w") as f:
        f.write(f"""# Flag {i}, made for the management benchmark.
# Owned by team-{i % 17}.
name: Flag {i}
owner: team-{i % 17}
tags: [bench, group-{i % 10}]
rules:
  - name: beta
    when: [ {{ attribute: plan, op: in, values: [beta] }} ]
    serve: on
  - name: some
    rollout: {i % 100}
    serve: on
default: off
environments:
  staging: {{ default: on }}   # staging tries everything
""")
PY
    git -C "$dir" add -A
    git -C "$dir" -c user.name=bench -c user.email=bench@acme.com commit -qm "flags"
    git -C "$dir" branch staging
}

database() {
    local name="bench_manage_$1_$$"
    psql -q "$FLAGSTAFF_TEST_POSTGRES_URL" -c "CREATE DATABASE $name" >/dev/null
    echo "${FLAGSTAFF_TEST_POSTGRES_URL%/*}/$name"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "machine: $(nproc) cores; $(git rev-parse --short HEAD)"
for size in $SIZES; do
    repo="$work/repo-$size"
    make_repo "$repo" "$size"
    port=$(free_port)
    # A bare copy is what a daemon usually follows; the work tree's is tested elsewhere.
    git clone -q --bare "$repo" "$repo.git"
    "$bin" daemon --repo "$repo.git" --no-auth --listen "127.0.0.1:$port" --poll-interval 5 \
        --postgres "$(database "$size")" --redis "$FLAGSTAFF_TEST_REDIS_URL" --redis-prefix "bench$size" \
        --analytics-flush 0 2>"$work/daemon-$size.log" &
    pids+=($!)
    for _ in $(seq 600); do
        curl -sf "127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "127.0.0.1:$port/readyz" >/dev/null || { tail -5 "$work/daemon-$size.log"; exit 1; }
    echo "== $size flags"
    python3 scripts/bench_manage.py --port "$port" --flags "$size" --toggles "$TOGGLES" --applied "$APPLIED" \
        --reads "$READS"
done
