#!/usr/bin/env bash
# Source this file: make_bench_repo DIR writes the flag repository the HTTP benchmarks
# serve (project `shop`, production on `main`, 100 flags with rules, rollouts and splits)
# and commits it.
make_bench_repo() {
    local repo=$1
    mkdir -p "$repo/shop/flags"
    cat > "$repo/flagstaff.yaml" <<EOT
version: 1
organization: acme
projects: { shop: {} }
environments:
  production: { branch: main, production: true }
EOT
    for i in $(seq -w 0 99); do
        cat > "$repo/shop/flags/flag-$i.yaml" <<EOT
rules:
  - name: staff
    when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
    serve: on
  - name: pro users
    when: [ { attribute: plan, op: in, values: [pro, enterprise] } ]
    rollout: 25
    serve: on
  - name: experiment
    when: [ { attribute: country, op: in, values: [NL, BE, DE] } ]
    serve: { split: { on: 50, off: 50 } }
default: off
EOT
    done
    git -C "$repo" init -q -b main
    git -C "$repo" -c user.name=bench -c user.email=bench@acme.com add -A
    git -C "$repo" -c user.name=bench -c user.email=bench@acme.com commit -qm flags
}
