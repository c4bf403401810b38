"""OpenFeature's own Python SDK and OFREP provider (from PyPI) against a live Flagstaff daemon.

Run by scripts/test.sh after the Swift tests: FLAGSTAFF_BIN names the built binary. Exits
non-zero on the first failed check, saying which.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from support import commit_repository, logged_port, check, failures

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

BIN = os.environ.get("FLAGSTAFF_BIN", ".build/debug/flagstaff")
FILES = {
    "flagstaff.yaml": """version: 1
organization: acme
projects: { shop: {} }
environments:
  production: { branch: main, production: true }
""",
    "shop/flags/dark-mode.yaml": """rules:
  - name: staff
    when: [ { attribute: email, op: ends_with, values: ["@acme.com"] } ]
    serve: on
default: off
""",
    "shop/flags/greeting.yaml": """type: string
variants: { formal: "Good day", casual: "Hi" }
off_variant: formal
default: formal
""",
    "shop/flags/page-size.yaml": """type: number
variants: { small: 3, large: 50 }
off_variant: small
rules:
  - name: pro
    when: [ { attribute: plan, op: in, values: [pro] } ]
    serve: large
default: small
""",
    "shop/flags/discount.yaml": """type: number
variants: { none: 0.0, some: 0.15 }
off_variant: none
default: some
""",
    "shop/flags/theme.yaml": """type: json
variants: { blue: { color: blue, size: 2 } }
off_variant: blue
default: blue
""",
}

def main():
    work = tempfile.mkdtemp(prefix="flagstaff-sdk-")
    repo = os.path.join(work, "repo")
    commit_repository(repo, FILES)

    keys = os.path.join(work, "keys")
    created = subprocess.run(
        [BIN, "keys", "create", "--keys-file", keys, "--project", "shop", "--environment", "production",
         "--type", "server", "--name", "python sdk"],
        check=True, capture_output=True, text=True)
    key = created.stdout.strip().splitlines()[-1]
    check(key.startswith("fsk_"), "keys create prints the key alone on its last line")

    log_path = os.path.join(work, "daemon.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTAFF_")}
    with open(log_path, "w") as log:
        daemon = subprocess.Popen(
            [BIN, "daemon", "--repo", repo, "--keys-file", keys, "--rate-limit", "2", "--rate-burst", "40",
             "--listen", "127.0.0.1:0", "--poll-interval", "0.5"],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        deadline = time.time() + 60
        port = logged_port(log_path, deadline)
        check(port is not None, "the daemon listens")
        base = f"http://127.0.0.1:{port}"
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(base + "/readyz").status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.1)

        api.set_provider(OFREPProvider(base, headers_factory=lambda: {"X-API-Key": key}))
        client = api.get_client()
        staff = EvaluationContext(targeting_key="u-1", attributes={"email": "kim@acme.com", "plan": "pro"})

        d = client.get_boolean_details("dark-mode", False, staff)
        check(d.value is True and d.variant == "on" and d.reason == Reason.TARGETING_MATCH, f"boolean: {d}")
        d = client.get_boolean_details("dark-mode", True, EvaluationContext(targeting_key="u-2"))
        check(d.value is False and d.variant == "off" and d.reason == Reason.DEFAULT, f"boolean default: {d}")
        d = client.get_string_details("greeting", "x", staff)
        check(d.value == "Good day" and d.variant == "formal" and d.reason == Reason.STATIC, f"string: {d}")
        d = client.get_integer_details("page-size", 0, staff)
        check(d.value == 50 and isinstance(d.value, int) and d.variant == "large", f"integer: {d}")
        d = client.get_float_details("discount", 0.0, staff)
        check(d.value == 0.15 and isinstance(d.value, float) and d.variant == "some", f"float: {d}")
        d = client.get_object_details("theme", {}, staff)
        check(d.value == {"color": "blue", "size": 2} and d.variant == "blue", f"object: {d}")
        check(d.flag_metadata.get("version", "").startswith("sha256:"), "metadata carries the snapshot version")

        d = client.get_boolean_details("no-such-flag", True, staff)
        check(d.value is True and d.error_code == ErrorCode.FLAG_NOT_FOUND, f"FLAG_NOT_FOUND: {d}")
        d = client.get_boolean_details("greeting", True, staff)
        check(d.value is True and d.error_code == ErrorCode.TYPE_MISMATCH, f"type mismatch (string as boolean): {d}")
        d = client.get_integer_details("discount", 7, staff)
        check(d.value == 7 and d.error_code == ErrorCode.TYPE_MISMATCH, f"type mismatch (float as integer): {d}")

        api.set_provider(OFREPProvider(base, headers_factory=lambda: {"X-API-Key": key[:-1] + ("A" if key[-1] != "A" else "B")}))
        d = api.get_client().get_boolean_details("dark-mode", True, staff)
        check(d.value is True and d.error_code == ErrorCode.GENERAL and "unauthorized" in (d.error_message or ""),
              f"a wrong key is refused: {d}")

        api.set_provider(OFREPProvider(base, headers_factory=lambda: {"Authorization": f"Bearer {key}"}))
        client = api.get_client()
        limited = None
        for _ in range(100):
            d = client.get_boolean_details("dark-mode", False, staff)
            if d.error_code is not None:
                limited = d
                break
        check(limited is not None and "Rate limited" in (limited.error_message or ""), f"429 reaches the SDK: {limited}")
        d = client.get_boolean_details("dark-mode", False, staff)
        check(d.error_code == ErrorCode.GENERAL and "paused" in (d.error_message or ""),
              f"the SDK honours Retry-After: {d}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all OpenFeature SDK checks passed")


if __name__ == "__main__":
    main()
