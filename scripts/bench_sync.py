#!/usr/bin/env python3
"""Measures sync latency end to end: a commit, the signed webhook, the Redis message, and
the new snapshot served over HTTP. Run by scripts/bench-sync.sh (which builds the release
binary and starts PostgreSQL and Redis); prints the median and p90 per repository size.

    python3 scripts/bench_sync.py --bin .build/release/flagstaff --postgres URL --redis URL
"""

import argparse
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

SECRET = "bench"


def git(repo, *args):
    subprocess.run(["git", "-C", repo, "-c", "user.name=Bench", "-c", "user.email=bench@acme.com", *args],
                   check=True, capture_output=True)


def flag_yaml(i, rollout):
    return f"""rules:
  - name: plan
    when: [ {{ attribute: plan, op: in, values: [pro, enterprise] }} ]
    rollout: {rollout}
    serve: on
  - name: country
    when: [ {{ attribute: country, op: in, values: [NL, BE, DE] }} ]
    serve: {{ split: {{ on: 30, off: 70 }} }}
default: off
tests:
  - context: {{ targetingKey: u-{i}, plan: free }}
    expect: off
"""


def make_repo(root, flags):
    repo = os.path.join(root, f"repo-{flags}")
    os.makedirs(os.path.join(repo, "shop", "flags"))
    with open(os.path.join(repo, "flagstaff.yaml"), "w") as f:
        f.write("version: 1\norganization: acme\nprojects: { shop: {} }\n"
                "environments:\n  production: { branch: main, production: true }\n"
                "context:\n  plan: string\n  country: string\n")
    for i in range(flags):
        with open(os.path.join(repo, "shop", "flags", f"flag-{i:05d}.yaml"), "w") as f:
            f.write(flag_yaml(i, 10))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "flags")
    return repo


class Subscriber:
    """A bare RESP client in subscribe mode."""

    def __init__(self, url, channel):
        host, port = url.split("//")[1].split(":")
        self.sock = socket.create_connection((host, int(port)))
        self.buffer = b""
        self.sock.sendall(f"*2\r\n$9\r\nSUBSCRIBE\r\n${len(channel)}\r\n{channel}\r\n".encode())
        self.read_message()  # the confirmation

    def read_line(self):
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def read_message(self):
        header = self.read_line()
        parts = []
        for _ in range(int(header[1:])):
            kind = self.read_line()
            if kind.startswith(b"$"):
                size = int(kind[1:])
                while len(self.buffer) < size + 2:
                    self.buffer += self.sock.recv(65536)
                parts.append(self.buffer[:size])
                self.buffer = self.buffer[size + 2:]
            else:
                parts.append(kind[1:])
        return parts


def served_revision(port):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/snapshot", method="HEAD")
    with urllib.request.urlopen(request) as response:
        return int(response.headers["X-Flagstaff-Revision"])


def webhook(port):
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/git", data=body, method="POST",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "push", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def measure(args, root, flags, rounds):
    repo = make_repo(root, flags)
    database = f"bench_{flags}_{int(time.time())}"
    admin = args.postgres
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {database}"], check=True)
    postgres = admin.rsplit("/", 1)[0] + "/" + database
    prefix = f"bench{flags}"
    log = open(os.path.join(root, f"daemon-{flags}.log"), "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTAFF_")}
    env["FLAGSTAFF_MIGRATIONS"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemas", "postgres")
    daemon = subprocess.Popen(
        [args.bin, "daemon", "--repo", repo, "--postgres", postgres, "--redis", args.redis, "--redis-prefix", prefix,
         "--no-auth", "--webhook-secret", SECRET, "--poll-interval", "3600", "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        port = None
        deadline = time.time() + 300
        while port is None and time.time() < deadline:
            with open(log.name) as f:
                for line in f:
                    entry = json.loads(line)
                    if entry.get("message") == "listening":
                        port = int(entry["port"])
            time.sleep(0.05)
        while time.time() < deadline:
            try:
                if served_revision(port) >= 1:
                    break
            except Exception:
                time.sleep(0.1)
        first_sync = time.time()
        subscriber = Subscriber(args.redis, f"{prefix}:shop:production")
        to_message, to_served = [], []
        for n in range(rounds):
            key = n % flags
            with open(os.path.join(repo, "shop", "flags", f"flag-{key:05d}.yaml"), "w") as f:
                f.write(flag_yaml(key, 11 + n % 80))
            git(repo, "commit", "-q", "-am", f"round {n}")
            before = served_revision(port)
            start = time.perf_counter()
            webhook(port)
            message = subscriber.read_message()
            to_message.append(time.perf_counter() - start)
            while served_revision(port) <= before:
                time.sleep(0.0005)
            to_served.append(time.perf_counter() - start)
            payload = json.loads(message[2])
            assert payload["changed"] == [f"flag-{key:05d}"], payload
        steps = []
        with open(log.name) as f:
            for line in f:
                entry = json.loads(line)
                if entry.get("message") == "applied" and "steps" in entry:
                    steps.append(entry["steps"])
        if steps:
            print(f"  {flags} flags, last sync's steps (s): {steps[-1]}", flush=True)
        return to_message, to_served
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release/flagstaff")
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="flagstaff-bench-")
    try:
        print(f"{'flags':>6}  {'webhook → Redis message':>28}  {'webhook → served':>24}")
        for size in [int(s) for s in args.sizes.split(",")]:
            message, served = measure(args, root, size, args.rounds)
            def fmt(values):
                ordered = sorted(values)
                p90 = ordered[int(0.9 * (len(ordered) - 1))]
                return f"median {statistics.median(values)*1000:7.1f} ms  p90 {p90*1000:7.1f} ms"
            print(f"{size:>6}  {fmt(message):>28}  {fmt(served):>24}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
