"""The Python SDK (sdk/python) without a daemon: the shared vectors through libflagstaff, the
typed getters and the OpenFeature provider; loading errors; reporting in batches against an
HTTP server written here (the service's analytics routes come later).

Run by scripts/test.sh after `pip install ./sdk/python`: FLAGSTAFF_LIBRARY names the built
libflagstaff.so, FLAGSTAFF_VECTORS the vector folder (default Tests/Vectors). Exits non-zero
on the first failed check, saying which.
"""

import io
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import flagstaff
from flagstaff import Engine, ErrorCode, FlagstaffClient, LibraryNotFoundError, SnapshotError
from flagstaff._reporting import Reporter
from flagstaff._sse import read_events
from flagstaff.provider import FlagstaffProvider
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode as OFErrorCode
from openfeature.flag_evaluation import Reason as OFReason
from support import check, failures

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.environ.get("FLAGSTAFF_VECTORS", os.path.join(HERE, "..", "Vectors"))


def lines(name):
    with open(os.path.join(VECTORS, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def snapshot_path(snapshot_id):
    return os.path.join(VECTORS, "snapshots", snapshot_id + ".json")


# MARK: vectors

GETTERS = {"boolean": "bool_details", "string": "string_details", "number": "number_details", "json": "json_details"}


def check_cases(name):
    """Every case: the engine's bytes equal `expected`; the typed getter's fields equal the case's."""
    cases = lines(name)
    engines, clients = {}, {}
    byte_mismatches, field_mismatches = [], []
    for case in cases:
        sid = case["snapshot"]
        if sid not in engines:
            with open(snapshot_path(sid), "rb") as f:
                engines[sid] = Engine(f.read())
            clients[sid] = FlagstaffClient(offline=snapshot_path(sid))
        context = json.dumps(case["context"], separators=(",", ":"), ensure_ascii=False)
        got = engines[sid].evaluate_raw(case["flag"], context)
        if got != case["expected"].encode():
            byte_mismatches.append((case, got))
        client = clients[sid]
        getter = GETTERS.get(client.flag_type(case["flag"]), "details")
        d = getattr(client, getter)(case["flag"], "<default>", case["context"])
        if "errorCode" in case:
            ok = d.error_code == case["errorCode"] and d.value == "<default>"
        else:
            ok = (d.error_code is None and d.value == case["value"] and type(d.value) is type(case["value"])
                  and d.variant == case["variant"] and d.reason == case["reason"])
        if not ok:
            field_mismatches.append((case, d))
    for case, got in byte_mismatches[:3]:
        print(f"     {case['snapshot']} {case['flag']} {json.dumps(case['context'])}\n"
              f"       expected {case['expected']}\n       got      {got.decode()}")
    for case, d in field_mismatches[:3]:
        print(f"     {case['snapshot']} {case['flag']}: expected {case.get('value')!r}/{case.get('variant')}/"
              f"{case.get('reason')}/{case.get('errorCode')}, got {d}")
    check(cases and not byte_mismatches, f"{name}: {len(cases) - len(byte_mismatches)} of {len(cases)} byte-equal")
    check(cases and not field_mismatches,
          f"{name}: {len(cases) - len(field_mismatches)} of {len(cases)} equal through the typed getters")
    return cases


def check_all_flags():
    cases = lines("all.jsonl")
    engines = {}
    mismatches = 0
    for case in cases:
        sid = case["snapshot"]
        if sid not in engines:
            with open(snapshot_path(sid), "rb") as f:
                engines[sid] = Engine(f.read())
        got = engines[sid].evaluate_all_raw(json.dumps(case["context"], separators=(",", ":"), ensure_ascii=False))
        mismatches += got != case["expected"].encode()
    check(cases and not mismatches, f"all.jsonl: {len(cases) - mismatches} of {len(cases)} byte-equal")


def of_context(context):
    """A vector's context as OpenFeature's, or None when OpenFeature cannot hold it."""
    attributes = dict(context)
    key = attributes.pop("targetingKey", None)
    if key is not None and not isinstance(key, str):
        return None
    if key == "":
        return None  # OpenFeature merges contexts with `or`: an empty targeting key is no key there
    try:
        return EvaluationContext(targeting_key=key, attributes=attributes)
    except Exception:
        return None


def check_provider_sample(cases, every):
    """A sample of cases through OpenFeature's client with a FlagstaffProvider per snapshot."""
    clients, checked, wrong = {}, 0, []
    for case in cases[::every]:
        sid = case["snapshot"]
        if sid not in clients:
            provider = FlagstaffProvider(offline=snapshot_path(sid))
            api.set_provider(provider, domain=sid)
            clients[sid] = (api.get_client(sid), provider.client)
        client, native = clients[sid]
        context = of_context(case["context"])
        if context is None:
            continue
        kind = native.flag_type(case["flag"]) or "boolean"
        value = case.get("value")
        if kind == "boolean":
            d = client.get_boolean_details(case["flag"], None, context)
        elif kind == "string":
            d = client.get_string_details(case["flag"], None, context)
        elif kind == "number":
            getter = client.get_integer_details if isinstance(value, int) else client.get_float_details
            d = getter(case["flag"], None, context)
        else:
            if value is not None and not isinstance(value, (dict, list)):
                continue
            d = client.get_object_details(case["flag"], None, context)
        checked += 1
        if "errorCode" in case:
            ok = d.error_code is not None and d.error_code.value == case["errorCode"]
        else:
            ok = (d.error_code is None and d.value == value and d.variant == case["variant"]
                  and d.reason == case["reason"] and d.flag_metadata.get("version", "").startswith("sha256:"))
        if not ok:
            wrong.append((case, d))
    for case, d in wrong[:3]:
        print(f"     {case['snapshot']} {case['flag']}: expected {case.get('value')!r}/{case.get('variant')}/"
              f"{case.get('reason')}/{case.get('errorCode')}, got {d}")
    check(checked > 0 and not wrong, f"OpenFeature provider: {checked - len(wrong)} of {checked} sampled cases agree")


# MARK: the provider's mapping, on a snapshot of its own

def check_provider_mapping(snapshot_file):
    provider = FlagstaffProvider(offline=snapshot_file)
    api.set_provider(provider, domain="mapping")
    client = api.get_client("mapping")
    staff = EvaluationContext(targeting_key="u-1", attributes={"email": "kim@acme.com", "plan": "pro"})
    d = client.get_boolean_details("dark-mode", False, staff)
    check(d.value is True and d.variant == "on" and d.reason == OFReason.TARGETING_MATCH
          and d.flag_metadata.get("ruleIndex") == 0 and d.flag_metadata.get("ruleName") == "staff"
          and d.flag_metadata.get("version", "").startswith("sha256:"), f"provider: boolean rule match {d}")
    d = client.get_boolean_details("gated", True, staff)
    check(d.value is False and d.reason == OFReason.DISABLED and d.flag_metadata.get("reason") == "PREREQUISITE_FAILED",
          f"provider: PREREQUISITE_FAILED is DISABLED, the native reason in flag_metadata {d}")
    d = client.get_boolean_details("off-switch", True, staff)
    check(d.value is False and d.reason == OFReason.DISABLED, f"provider: a disabled flag {d}")
    d = client.get_string_details("greeting", "x", staff)
    check(d.value == "Good day" and d.reason == OFReason.STATIC, f"provider: string, STATIC {d}")
    d = client.get_integer_details("page-size", 0, staff)
    check(d.value == 50 and isinstance(d.value, int), f"provider: integer {d}")
    d = client.get_float_details("discount", 0.0, staff)
    check(d.value == 0.15 and isinstance(d.value, float), f"provider: float {d}")
    d = client.get_float_details("page-size", 0.0, staff)
    check(d.value == 50.0 and isinstance(d.value, float), f"provider: an integer flag read as a float {d}")
    d = client.get_integer_details("discount", 7, staff)
    check(d.value == 7 and d.error_code == OFErrorCode.TYPE_MISMATCH, f"provider: a float as an integer {d}")
    d = client.get_object_details("theme", {}, staff)
    check(d.value == {"color": "blue", "size": 2}, f"provider: object {d}")
    d = client.get_boolean_details("greeting", True, staff)
    check(d.value is True and d.error_code == OFErrorCode.TYPE_MISMATCH, f"provider: a string as a boolean {d}")
    d = client.get_boolean_details("no-such-flag", True, staff)
    check(d.value is True and d.error_code == OFErrorCode.FLAG_NOT_FOUND, f"provider: FLAG_NOT_FOUND {d}")
    check(client.get_provider_status().value == "READY", "provider: READY offline")


# MARK: the client on its own

def check_client_basics(snapshot_file, library):
    try:
        flagstaff.load_library("/nowhere/libflagstaff.so")
        check(False, "a missing library is an error")
    except LibraryNotFoundError as error:
        check("/nowhere/libflagstaff.so" in str(error) and "no such file" in str(error),
              f"a missing library says where it looked: {error}")
    saved = os.environ.get("FLAGSTAFF_LIBRARY")
    os.environ["FLAGSTAFF_LIBRARY"] = "/nowhere/else.so"
    try:
        flagstaff.load_library()
        # The system loader or the package folder may still hold one; then the message is moot.
        check(True, "without FLAGSTAFF_LIBRARY's file, another place may serve")
    except LibraryNotFoundError as error:
        check("FLAGSTAFF_LIBRARY='/nowhere/else.so'" in str(error) and "system loader" in str(error),
              f"every place tried is named: {error}")
    finally:
        os.environ["FLAGSTAFF_LIBRARY"] = saved or library
    try:
        Engine(b'{"not":"a snapshot"')
        check(False, "a broken snapshot is refused")
    except SnapshotError as error:
        check(str(error) != "", f"a broken snapshot is refused with the library's words: {error}")

    client = FlagstaffClient(offline=snapshot_file)
    check(client.state.value == "ready", "offline: ready at once")
    context = {"targetingKey": "u-1", "email": "kim@acme.com", "plan": "pro"}
    check(client.bool("dark-mode", False, context) is True, "bool getter")
    check(client.string("greeting", "x", context) == "Good day", "string getter")
    check(client.number("page-size", 0, context) == 50, "number getter")
    check(client.json("theme", None, context) == {"color": "blue", "size": 2}, "json getter")
    d = client.string_details("dark-mode", "x", context)
    check(d.value == "x" and d.error_code == ErrorCode.TYPE_MISMATCH, f"wrong type: the default, TYPE_MISMATCH {d}")
    d = client.bool_details("nope", True, context)
    check(d.value is True and d.error_code == ErrorCode.FLAG_NOT_FOUND, f"unknown flag: default, FLAG_NOT_FOUND {d}")
    d = client.bool_details("dark-mode", False, context)
    check(d.rule_index == 0 and d.rule_name == "staff" and d.version == client.version and d.variant == "on",
          f"details: rule index and name, version {d}")
    everything = client.evaluate_all(context)
    check(set(everything) >= {"dark-mode", "greeting", "page-size"} and everything["greeting"].value == "Good day",
          "evaluate_all")

    # A big result grows the thread's buffer (the negative-length convention) and still answers.
    big = {"targetingKey": "u-1", "email": "x" * 20000 + "@acme.com"}
    check(client.bool("dark-mode", False, big) is True, "a context far larger than the buffer")

    # Many threads on one engine at once.
    errors = []

    def worker():
        for _ in range(2000):
            if client.bool("dark-mode", False, context) is not True:
                errors.append("wrong")
                return

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "8 threads × 2000 evaluations on one engine")

    # Snapshots swapped under evaluating threads: each evaluation sees one whole snapshot, and
    # an engine is freed only after the last evaluation on it (a use after free would crash here).
    with open(snapshot_file, "rb") as f:
        first = f.read()
    version = json.loads(first)["version"].encode()
    second = first.replace(b'"Good day"', b'"Good night"').replace(version, version[:-4] + b"beef")
    swapping = FlagstaffClient(offline=snapshot_file, reporting=False)
    seen, stop = set(), threading.Event()

    def reader():
        while not stop.is_set():
            seen.add(swapping.string("greeting", "x", context))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(300):
        swapping._apply(second if i % 2 == 0 else first, revision=i, etag=None)
    stop.set()
    for t in threads:
        t.join()
    check(seen == {"Good day", "Good night"}, f"300 swaps under 4 evaluating threads: only whole snapshots seen {seen}")


def check_sse_parser():
    text = (b"retry: 2000\n\n: keep-alive\n\nid: 3\nevent: snapshot\ndata: {\"a\":\n"
            b"data: 1}\n\nid: 4\r\ndata: plain\r\n\r\n")
    events = list(read_events(io.BytesIO(text)))
    check([(e.event, e.data, e.id) for e in events if e.data] == [("snapshot", '{"a":\n1}', "3"), ("message", "plain", "4")],
          f"SSE: fields, multi-line data, comments, CRLF {events}")


# MARK: reporting

def check_reporter_bounds():
    posts = []
    clock = [1_000_000.0]
    reporter = Reporter(lambda path, body: (posts.append((path, json.loads(body))) or (202, None)), sdk="test",
                        max_keys=2, max_events=3, batch_size=2, clock=lambda: clock[0])
    for _ in range(5):
        reporter.record("a", "on", "STATIC", "sha256:1")
    reporter.record("b", "off", "DEFAULT", "sha256:1")
    reporter.record("c", "off", "DEFAULT", "sha256:1")  # a third key: over max_keys, dropped
    reporter.record_not_found()
    for i in range(5):
        reporter.track("bought", {"targetingKey": f"u{i}"}, value=i, details={"sku": "x"})
    clock[0] += 10
    reporter.flush()
    metrics = [b for p, b in posts if p == "/api/v1/metrics"]
    events = [b for p, b in posts if p == "/api/v1/events"]
    check(len(metrics) == 1 and sorted((c["flag"], c["count"]) for c in metrics[0]["counts"]) == [("a", 5), ("b", 1)]
          and metrics[0]["dropped"] == 1 and metrics[0]["notFound"] == 1
          and metrics[0]["windowStart"] == "1970-01-12T13:46:40.000Z" and metrics[0]["windowEnd"] == "1970-01-12T13:46:50.000Z",
          f"metrics body: counts per key, dropped, notFound, window {metrics}")
    check([len(b["events"]) for b in events] == [2, 1] and events[0]["dropped"] == 2
          and events[0]["events"][0] == {"kind": "tracking", "name": "bought", "time": "1970-01-12T13:46:40.000Z",
                                         "context": {"targetingKey": "u0"}, "value": 0, "details": {"sku": "x"}},
          f"events: batches of batch_size, at most max_events kept, the rest counted {events}")

    # A failure keeps the batch for the next flush; 404 pauses quietly.
    answers = [503, 202]
    posts.clear()
    reporter = Reporter(lambda path, body: (posts.append((path, json.loads(body))) or (answers.pop(0), None)),
                        sdk="test", clock=lambda: clock[0])
    reporter.record("a", "on", "STATIC", "v")
    reporter.flush()
    reporter.record("a", "on", "STATIC", "v")
    reporter.flush()
    check(len(posts) == 2 and posts[1][1]["counts"][0]["count"] == 2, f"a failed batch is sent again, merged {posts}")


class Analytics(BaseHTTPRequestHandler):
    """Serves a snapshot, an idle stream, and the analytics routes as the test says."""

    snapshot = b""
    status = 202
    posts: list = []
    stop = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/api/v1/snapshot"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.snapshot)))
            self.send_header("X-Flagstaff-Revision", "1")
            self.end_headers()
            self.wfile.write(self.snapshot)
        elif self.path.startswith("/api/v1/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b": hello\n\n")
            self.wfile.flush()
            while not self.stop.wait(0.1):
                pass
        else:
            self.send_error(404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).posts.append((self.path, self.headers.get("Authorization"), json.loads(body), time.time()))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def check_reporting_over_http(snapshot_file):
    with open(snapshot_file, "rb") as f:
        Analytics.snapshot = f.read()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Analytics)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        Analytics.status, Analytics.posts = 202, []
        client = FlagstaffClient(url, "fsk_test", flush_interval=0.3)
        check(client.state.value == "ready", f"the test server's snapshot makes the client ready ({client.last_error})")
        context = {"targetingKey": "u-1", "email": "kim@acme.com"}
        for _ in range(100):
            client.bool("dark-mode", False, context)
        for _ in range(20):
            client.bool("dark-mode", False, {"targetingKey": "u-2"})
        client.bool("no-such-flag", False, context)
        client.track("checkout", context, value=42.5, details={"currency": "EUR"})
        deadline = time.time() + 5
        while time.time() < deadline and len(Analytics.posts) < 2:
            time.sleep(0.05)
        metrics = [p for p in Analytics.posts if p[0] == "/api/v1/metrics"]
        events = [p for p in Analytics.posts if p[0] == "/api/v1/events"]
        counts = sorted((c["flag"], c["variant"], c["reason"], c["count"]) for c in metrics[0][2]["counts"]) if metrics else []
        check(metrics and metrics[0][1] == "Bearer fsk_test"
              and counts == [("dark-mode", "off", "DEFAULT", 20), ("dark-mode", "on", "TARGETING_MATCH", 100)]
              and metrics[0][2]["notFound"] == 1 and metrics[0][2]["counts"][0]["version"] == client.version,
              f"the background thread posts counts with the key within a flush interval: {counts}")
        check(events and events[0][2]["events"][0]["name"] == "checkout" and events[0][2]["events"][0]["value"] == 42.5,
              f"tracking events are posted: {events[:1]}")
        client.close()

        # No analytics on the server: one quiet try per route, then nothing for a while.
        Analytics.status, Analytics.posts = 404, []
        client = FlagstaffClient(url, "fsk_test", flush_interval=0.1, analytics_pause=60)
        for _ in range(5):
            client.bool("dark-mode", False, context)
            client.track("checkout", context)
            time.sleep(0.15)
        time.sleep(0.3)
        paths = [p[0] for p in Analytics.posts]
        check(paths.count("/api/v1/metrics") == 1 and paths.count("/api/v1/events") == 1,
              f"404: one try per route, then a pause: {paths}")
        check(client.reporting_stats["unavailable"] >= 2, f"the pause is counted {client.reporting_stats}")
        start = time.perf_counter()
        for _ in range(1000):
            client.bool("dark-mode", False, context)
        per = (time.perf_counter() - start) / 1000
        check(per < 0.001, f"reporting stays off the evaluation path ({per * 1e6:.1f} µs per evaluation)")
        client.close()
    finally:
        Analytics.stop.set()
        server.shutdown()


# MARK: main

SNAPSHOT_REPO = {
    "flagstaff.yaml": "version: 1\norganization: acme\nprojects: { shop: {} }\n"
                      "environments:\n  production: { branch: main, production: true }\n",
    "shop/flags/dark-mode.yaml": "rules:\n  - name: staff\n"
                                 "    when: [ { attribute: email, op: ends_with, values: [\"@acme.com\"] } ]\n"
                                 "    serve: on\ndefault: off\n",
    "shop/flags/payments.yaml": "enabled: false\n",
    "shop/flags/off-switch.yaml": "enabled: false\n",
    "shop/flags/gated.yaml": "requires: [ { flag: payments, variants: [on] } ]\ndefault: on\n",
    "shop/flags/greeting.yaml": "type: string\nvariants: { formal: \"Good day\", casual: \"Hi\" }\n"
                                "off_variant: formal\ndefault: formal\n",
    "shop/flags/page-size.yaml": "type: number\nvariants: { small: 3, large: 50 }\noff_variant: small\nrules:\n"
                                 "  - name: pro\n    when: [ { attribute: plan, op: in, values: [pro] } ]\n"
                                 "    serve: large\ndefault: small\n",
    "shop/flags/discount.yaml": "type: number\nvariants: { none: 0.0, some: 0.15 }\noff_variant: none\ndefault: some\n",
    "shop/flags/theme.yaml": "type: json\nvariants: { blue: { color: blue, size: 2 } }\noff_variant: blue\ndefault: blue\n",
}


def compiled_snapshot(work):
    """The test's own flags, compiled by the built flagstaff into a snapshot file."""
    import subprocess
    from support import commit_repository
    repo = os.path.join(work, "repo")
    commit_repository(repo, SNAPSHOT_REPO)
    out = os.path.join(work, "compiled")
    subprocess.run([os.environ.get("FLAGSTAFF_BIN", ".build/debug/flagstaff"), "compile", "--repo", repo,
                    "--out", out], check=True, capture_output=True)
    return os.path.join(out, "shop", "production.json")


def main():
    library = os.environ.get("FLAGSTAFF_LIBRARY", "")
    work = tempfile.mkdtemp(prefix="flagstaff-pysdk-")
    snapshot_file = compiled_snapshot(work)
    check_sse_parser()
    check_client_basics(snapshot_file, library)
    check_provider_mapping(snapshot_file)
    check_reporter_bounds()
    check_reporting_over_http(snapshot_file)
    cases = check_cases("cases.jsonl")
    unleash = check_cases("unleash.jsonl")
    check_all_flags()
    check_provider_sample(cases, max(1, len(cases) // 500))
    check_provider_sample(unleash, 3)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all Python SDK checks passed")


if __name__ == "__main__":
    main()
