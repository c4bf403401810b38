"""Times management API calls over one keep-alive connection (scripts/bench-manage.sh).

Toggles alternate on and off on flags chosen at random (seeded), in the staging
environment, whose write policy is direct; each answer must be 200 with a commit, or the
run stops. Prints median and p99 in milliseconds.
"""

import argparse
import http.client
import json
import random
import statistics
import time


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--flags", type=int, required=True)
    parser.add_argument("--toggles", type=int, default=200)
    parser.add_argument("--applied", type=int, default=100)
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args()
    connection = http.client.HTTPConnection("127.0.0.1", args.port)
    rng = random.Random(7)
    state = {}

    def call(method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        start = time.perf_counter()
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        return response.status, data, elapsed

    def toggle(wait):
        key = f"flag-{rng.randrange(args.flags):05d}"
        enabled = not state.get(key, True)
        state[key] = enabled
        path = f"/api/v1/flags/shop:{key}/environments/staging/toggle" + ("?wait=applied" if wait else "")
        status, data, elapsed = call("PATCH", path, {"enabled": enabled, "comment": "benchmark"})
        answer = json.loads(data)
        if status != 200 or not answer.get("commit"):
            raise SystemExit(f"toggle {key}: {status} {data[:300]!r}")
        if wait and not answer.get("applied"):
            raise SystemExit(f"toggle {key} was not applied in time: {data[:300]!r}")
        return elapsed

    def report(name, values, target=None):
        line = f"{name:<34} n={len(values):<5} median {statistics.median(values):7.1f} ms   p99 {percentile(values, 99):7.1f} ms"
        print(line + (f"   (target {target})" if target else ""), flush=True)

    for _ in range(5):
        toggle(False)  # warm the parse cache and the connection
    report("toggle → answer", [toggle(False) for _ in range(args.toggles)], "median ≤ 100 ms, p99 ≤ 500 ms")
    report("toggle → served (?wait=applied)", [toggle(True) for _ in range(args.applied)], "median ≤ 300 ms")
    reads = []
    for _ in range(args.reads):
        key = f"flag-{rng.randrange(args.flags):05d}"
        status, _, elapsed = call("GET", f"/api/v1/flags/shop:{key}/environments/staging")
        if status != 200:
            raise SystemExit(f"read {key}: {status}")
        reads.append(elapsed)
    report("read a flag's configuration", reads, "p99 ≤ 20 ms")
    pages = []
    for _ in range(max(1, args.reads // 10)):
        status, _, elapsed = call("GET", "/api/v1/projects/shop/flags?limit=100")
        if status != 200:
            raise SystemExit(f"list: {status}")
        pages.append(elapsed)
    report("read a page of 100 flags", pages, "p99 ≤ 20 ms")


if __name__ == "__main__":
    main()
