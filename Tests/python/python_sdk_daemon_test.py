"""The Python SDK (sdk/python) against a live daemon: a commit reaches the client within a
second; the daemon killed, the client keeps serving and says `stale`; the daemon back, it
catches up; a cache file starts a client while the daemon is down; offline mode from
`flagstaff compile`; the OpenFeature provider's events follow.

Run by scripts/test.sh after `pip install ./sdk/python`: FLAGSTAFF_BIN names the built
binary, FLAGSTAFF_LIBRARY the built libflagstaff.so. Exits non-zero if a check failed.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from support import commit_repository, fresh_database, logged_port, check, failures

from flagstaff import FlagstaffClient, State
from flagstaff.provider import FlagstaffProvider
from openfeature import api
from openfeature.event import ProviderEvent
from openfeature.evaluation_context import EvaluationContext

BIN = os.environ.get("FLAGSTAFF_BIN", ".build/debug/flagstaff")
FILES = {
    "flagstaff.yaml": """version: 1
organization: acme
projects: { shop: {} }
environments:
  production: { branch: main, production: true }
""",
    "shop/flags/banner.yaml": """type: string
variants: { old: "Welcome", new: "Hello" }
off_variant: old
default: old
""",
    "shop/flags/dark-mode.yaml": """rules:
  - name: staff
    when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
    serve: on
default: off
""",
}
STAFF = {"targetingKey": "u-1", "email": "kim@acme.com"}

def wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def commit(repo, path, text, message):
    with open(os.path.join(repo, path), "w") as f:
        f.write(text)
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(["git", "-c", "user.name=Ana", "-c", "user.email=ana@acme.com", *args],
                       cwd=repo, check=True, capture_output=True)


class Daemon:
    """`flagstaff daemon --no-auth` on a port of its own (the same one again after a restart)."""

    def __init__(self, repo, work, extra=()):
        self.repo, self.work = repo, work
        self.extra = list(extra)
        self.port = 0
        self.process = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log_path = os.path.join(self.work, f"daemon-{self.starts}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTAFF_")}
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [BIN, "daemon", "--repo", self.repo, "--no-auth", "--listen", f"127.0.0.1:{self.port}",
                 "--poll-interval", "0.2", *self.extra], stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.time() + 60
        port = logged_port(log_path, deadline)
        if port is None:
            raise RuntimeError(f"the daemon did not listen; see {log_path}")
        self.port = port
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/readyz").status == 200:
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("the daemon did not become ready")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def reporting_reaches_postgres(work, repo):
    """What the client counts and tracks reaches the daemon's analytics tables."""
    admin = os.environ.get("FLAGSTAFF_TEST_POSTGRES_URL")
    if not admin:
        check(False, "FLAGSTAFF_TEST_POSTGRES_URL is set (run this through scripts/test.sh)")
        return
    database = fresh_database(admin, "pysdk_reporting")
    os.makedirs(work, exist_ok=True)
    daemon = Daemon(repo, work, extra=["--postgres", database, "--analytics-flush", "1"])
    daemon.start()

    def scalar(sql):
        out = subprocess.run(["psql", "-tA", database, "-c", sql], capture_output=True, text=True).stdout.strip()
        return int(out or 0)

    try:
        client = FlagstaffClient(daemon.url, None, project="shop", environment="production", flush_interval=0.3,
                                 backoff_initial=0.1, backoff_max=0.5)
        for i in range(20):
            client.bool("dark-mode", False, {"targetingKey": f"u-{i}"})
        client.track("bought", {"targetingKey": "u-3", "email": "ana@example.com"}, value=4.0)
        client.close()
        check(wait_for(lambda: scalar("SELECT coalesce(sum(count), 0) FROM evaluation_counts "
                                      "WHERE flag_key = 'dark-mode'") == 20, 15),
              "the Python client's 20 evaluations are counted in PostgreSQL")
        check(wait_for(lambda: scalar("SELECT count(*) FROM tracking_events WHERE name = 'bought' AND value = 4") == 1,
                       15), "its tracking event is written")
        check(scalar("SELECT count(*) FROM tracking_events WHERE context::text LIKE '%ana@%'") == 0,
              "an attribute the manifest does not keep is not stored")
    finally:
        daemon.stop()


def main():
    work = tempfile.mkdtemp(prefix="flagstaff-pysdk-live-")
    repo = os.path.join(work, "repo")
    commit_repository(repo, FILES)
    cache = os.path.join(work, "cache", "snapshot.json")
    os.makedirs(os.path.dirname(cache))
    daemon = Daemon(repo, work)
    daemon.start()
    client = provider = None
    try:
        events = []
        client = FlagstaffClient(daemon.url, None, project="shop", environment="production", cache_path=cache,
                                 backoff_initial=0.1, backoff_max=0.5, listeners=[events.append], reporting=False)
        check(client.state is State.READY, f"the client is ready against the daemon ({client.last_error})")
        check(client.string("banner", "x", STAFF) == "Welcome" and client.bool("dark-mode", False, STAFF) is True,
              "the client evaluates the daemon's snapshot")
        check(os.path.exists(cache), "the snapshot is written to the cache file")

        # The provider on a client of its own, to see OpenFeature's events.
        provider = FlagstaffProvider(daemon.url, project="shop", backoff_initial=0.1, backoff_max=0.5, reporting=False)
        api.set_provider(provider, domain="live")
        of_events = []
        of_client = api.get_client("live")
        for kind in (ProviderEvent.PROVIDER_READY, ProviderEvent.PROVIDER_STALE,
                     ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, ProviderEvent.PROVIDER_ERROR):
            of_client.add_handler(kind, lambda details, kind=kind: of_events.append((kind, details)))
        check(wait_for(lambda: of_client.get_provider_status().value == "READY", 10), "the provider becomes READY")

        # A commit reaches the client within a second.
        revision = client.revision
        changed = threading.Event()
        client.add_listener(lambda e: changed.set() if e.type == "snapshot" else None)
        started = time.perf_counter()
        commit(repo, "shop/flags/banner.yaml", FILES["shop/flags/banner.yaml"].replace("default: old", "default: new"),
               "new banner")
        arrived = changed.wait(5)
        elapsed = time.perf_counter() - started
        check(arrived and elapsed < 1.0, f"a commit reaches the client within a second ({elapsed * 1000:.0f} ms)")
        check(client.string("banner", "x", STAFF) == "Hello" and client.revision == revision + 1,
              f"the new value is served at the next revision ({client.revision})")
        snapshots = [e for e in events if e.type == "snapshot"]
        check(snapshots and snapshots[-1].changed == ("banner",), f"the snapshot event names the changed flag {snapshots[-1:]}")
        check(wait_for(lambda: any(k is ProviderEvent.PROVIDER_CONFIGURATION_CHANGED
                                   and d.flags_changed == ["banner"] for k, d in of_events), 2),
              "the provider emits PROVIDER_CONFIGURATION_CHANGED with the flag")
        check(of_client.get_string_value("banner", "x", EvaluationContext("u-1")) == "Hello",
              "the provider serves the new value")

        # The daemon killed: the last values, and `stale`.
        daemon.kill()
        check(wait_for(lambda: client.state is State.STALE, 5), f"the daemon killed, the client is stale ({client.state})")
        check(client.string("banner", "x", STAFF) == "Hello" and client.bool("dark-mode", False, STAFF) is True,
              "stale: the last snapshot is still served")
        check(wait_for(lambda: of_client.get_provider_status().value == "STALE", 5), "the provider is STALE")

        # A commit while it is down; the daemon back: the client catches up.
        commit(repo, "shop/flags/banner.yaml", FILES["shop/flags/banner.yaml"].replace("default: old", "default: new")
               .replace('new: "Hello"', 'new: "Hey"'), "friendlier banner")
        daemon.start()
        check(wait_for(lambda: client.state is State.READY and client.string("banner", "x", STAFF) == "Hey", 10),
              f"the daemon back, the client catches up ({client.state}, {client.string('banner', 'x', STAFF)})")
        check(wait_for(lambda: of_client.get_provider_status().value == "READY"
                       and of_client.get_string_value("banner", "x") == "Hey", 10), "the provider is READY again")
        check(wait_for(lambda: open(cache).read().count('"Hey"') == 1, 2), "the cache file holds the latest snapshot")
        client.close()
        api.shutdown()
        provider = None

        # The daemon down: a new client starts from the cache file, stale.
        daemon.kill()
        started = time.perf_counter()
        cached = FlagstaffClient(daemon.url, None, cache_path=cache, backoff_initial=0.1, backoff_max=0.5,
                                 reporting=False, timeout=5)
        check(cached.state is State.STALE and cached.string("banner", "x", STAFF) == "Hey",
              f"with the daemon down, a client starts from the cache file, stale "
              f"({cached.state}, {time.perf_counter() - started:.2f} s)")
        nothing = FlagstaffClient(daemon.url, None, backoff_initial=0.1, backoff_max=0.5, reporting=False, timeout=5)
        d = nothing.bool_details("dark-mode", False, STAFF)
        check(nothing.state is State.ERROR and d.value is False and d.error_code == "PROVIDER_NOT_READY",
              f"without cache or daemon: error, the default, PROVIDER_NOT_READY ({nothing.state}, {d.error_code})")
        daemon.start()
        check(wait_for(lambda: cached.state is State.READY and nothing.state is State.READY, 10),
              "both catch up when the daemon returns")
        check(nothing.string("banner", "x", STAFF) == "Hey", "the client that never had a snapshot now serves")
        cached.close()
        nothing.close()

        # Offline: the file `flagstaff compile` writes, no network.
        out = os.path.join(work, "compiled")
        subprocess.run([BIN, "compile", "--repo", repo, "--out", out], check=True, capture_output=True)
        offline = FlagstaffClient.from_file(os.path.join(out, "shop", "production.json"))
        check(offline.state is State.READY and offline.string("banner", "x", STAFF) == "Hey"
              and offline.bool("dark-mode", True, {"targetingKey": "u-9"}) is False,
              "offline mode from `flagstaff compile` output")
        reporting_reaches_postgres(os.path.join(work, "reporting"), repo)
    finally:
        if provider is not None:
            api.shutdown()
        daemon.stop()
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all Python SDK daemon checks passed")


if __name__ == "__main__":
    main()
