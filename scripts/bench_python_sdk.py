"""Per-evaluation time in Python, one run, one flag, one context, four ways:

1. FlagstaffClient.bool (sdk/python, local evaluation in libflagstaff);
2. OpenFeature's client with FlagstaffProvider (the same, behind OpenFeature);
3. OpenFeature's client with OpenFeature's OFREP provider against a local daemon;
4. Unleash's own Python SDK (UnleashClient: its Rust engine, yggdrasil) on the equivalent
   Unleash feature, bootstrapped from a local features payload (no network).

The flag is "staff, half of them": email ends with @acme.com, then a 50 % rollout on the
user id (the same buckets in both products). Each call is timed on its own
(perf_counter_ns); the report gives the median, p90 and p99 per evaluation. Usage (after
bash scripts/bench-python-sdk.sh has built things): python3 scripts/bench_python_sdk.py
--bin FLAGSTAFF --library LIBFLAGSTAFF [--calls N] [--ofrep-calls N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "python"))
from support import commit_repository, logged_port  # noqa: E402

FLAG_KEY = "new-checkout"
FILES = {
    "flagstaff.yaml": "version: 1\norganization: acme\nprojects: { shop: {} }\n"
                      "environments:\n  production: { branch: main, production: true }\n",
    f"shop/flags/{FLAG_KEY}.yaml": """rules:
  - name: staff, half of them
    when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
    rollout: 50
    serve: on
default: off
""",
}
UNLEASH_FEATURES = {
    "version": 2,
    "features": [{
        "name": FLAG_KEY, "enabled": True, "type": "release", "project": "default",
        "strategies": [{
            "name": "flexibleRollout",
            "parameters": {"rollout": "50", "stickiness": "userId", "groupId": FLAG_KEY},
            "constraints": [{"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@acme.com"],
                             "caseInsensitive": False, "inverted": False}],
        }],
    }],
}
USER, EMAIL = "user-3", "kim@acme.com"  # in the rule and in the 50 %: the whole rule runs


def timed(call, n):
    """Nanoseconds of each of n calls, after n // 10 warm-up calls."""
    for _ in range(max(n // 10, 10)):
        call()
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        start = clock()
        call()
        out.append(clock() - start)
    return out


def summary(samples):
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return statistics.median(samples), pick(0.90), pick(0.99)


def start_daemon(binary, repo, work):
    log_path = os.path.join(work, "daemon.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTAFF_")}
    with open(log_path, "w") as log:
        daemon = subprocess.Popen([binary, "daemon", "--repo", repo, "--no-auth", "--listen", "127.0.0.1:0",
                                   "--poll-interval", "5"], stdout=subprocess.DEVNULL, stderr=log, env=env)
    deadline = time.time() + 60
    port = logged_port(log_path, deadline)
    if port is None:
        daemon.kill()
        sys.exit(f"the daemon did not start; see {log_path}")
    base = f"http://127.0.0.1:{port}"
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(base + "/readyz").status == 200:
                break
        except Exception:
            time.sleep(0.05)
    return daemon, base


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release/flagstaff")
    parser.add_argument("--library", default=os.environ.get("FLAGSTAFF_LIBRARY"))
    parser.add_argument("--calls", type=int, default=20000, help="timed calls per local method")
    parser.add_argument("--ofrep-calls", type=int, default=2000, help="timed calls over HTTP")
    args = parser.parse_args()
    if args.library:
        os.environ["FLAGSTAFF_LIBRARY"] = args.library

    import logging
    from flagstaff import FlagstaffClient, __version__ as flagstaff_version
    from flagstaff.provider import FlagstaffProvider
    from openfeature import api
    from openfeature.contrib.provider.ofrep import OFREPProvider
    from openfeature.evaluation_context import EvaluationContext
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache
    import importlib.metadata as metadata
    logging.getLogger("UnleashClient").setLevel(logging.ERROR)

    work = tempfile.mkdtemp(prefix="flagstaff-bench-pysdk-")
    repo = os.path.join(work, "repo")
    commit_repository(repo, FILES)
    daemon, base = start_daemon(args.bin, repo, work)
    try:
        native = FlagstaffClient(base)  # reporting on, as users run it
        context = {"targetingKey": USER, "email": EMAIL}
        of_context = EvaluationContext(targeting_key=USER, attributes={"email": EMAIL})

        api.set_provider(FlagstaffProvider(client=native), domain="flagstaff")
        local = api.get_client("flagstaff")
        api.set_provider(OFREPProvider(base), domain="ofrep")
        remote = api.get_client("ofrep")

        cache = FileCache("flagstaff-bench", directory=os.path.join(work, "unleash-cache"))
        cache.bootstrap_from_dict(UNLEASH_FEATURES)
        unleash = UnleashClient(url="http://127.0.0.1:9/api", app_name="flagstaff-bench", cache=cache,
                                disable_metrics=True, disable_registration=True)
        unleash.initialize_client(fetch_toggles=False)
        unleash_context = {"userId": USER, "properties": {"email": EMAIL}}

        # The same answer from all four, and the same buckets for many users.
        answers = {
            "FlagstaffClient.bool": native.bool(FLAG_KEY, False, context),
            "OpenFeature + FlagstaffProvider": local.get_boolean_value(FLAG_KEY, False, of_context),
            "OpenFeature + OFREP provider": remote.get_boolean_value(FLAG_KEY, False, of_context),
            "UnleashClient.is_enabled": unleash.is_enabled(FLAG_KEY, unleash_context),
        }
        agree = sum(native.bool(FLAG_KEY, False, {"targetingKey": f"u{i}", "email": EMAIL})
                    == unleash.is_enabled(FLAG_KEY, {"userId": f"u{i}", "properties": {"email": EMAIL}})
                    for i in range(1000))
        if len(set(answers.values())) != 1 or agree != 1000:
            sys.exit(f"the four disagree: {answers}; buckets agree for {agree} of 1000 users")

        results = [
            ("FlagstaffClient.bool (local, libflagstaff)",
             timed(lambda: native.bool(FLAG_KEY, False, context), args.calls)),
            ("OpenFeature + FlagstaffProvider (local, libflagstaff)",
             timed(lambda: local.get_boolean_value(FLAG_KEY, False, of_context), args.calls)),
            ("OpenFeature + OFREP provider (HTTP to a local daemon)",
             timed(lambda: remote.get_boolean_value(FLAG_KEY, False, of_context), args.ofrep_calls)),
            ("UnleashClient.is_enabled (local, yggdrasil)",
             timed(lambda: unleash.is_enabled(FLAG_KEY, unleash_context), args.calls)),
        ]
        print(f"flag {FLAG_KEY!r} = {answers['FlagstaffClient.bool']} for {context}; "
              f"buckets agree with Unleash for 1000 of 1000 users")
        print(f"Python {sys.version.split()[0]}, flagstaff {flagstaff_version}, openfeature-sdk "
              f"{metadata.version('openfeature-sdk')}, openfeature-provider-ofrep "
              f"{metadata.version('openfeature-provider-ofrep')}, UnleashClient {metadata.version('UnleashClient')}, "
              f"yggdrasil-engine {metadata.version('yggdrasil-engine')}; daemon {args.bin}")
        print(f"{'per evaluation':<56} {'median':>10} {'p90':>10} {'p99':>10} {'calls':>7}")
        for name, samples in results:
            median, p90, p99 = summary(samples)
            print(f"{name:<56} {median / 1000:>8.2f}µs {p90 / 1000:>8.2f}µs {p99 / 1000:>8.2f}µs {len(samples):>7}")
        native.close()
        unleash.destroy()
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


if __name__ == "__main__":
    main()
