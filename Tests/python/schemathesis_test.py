"""Schemathesis (from PyPI) against schemas/openapi.yaml and a live Flagstaff daemon.

Run by scripts/test.sh after the SDK test: FLAGSTAFF_BIN names the built binary, and
FLAGSTAFF_TEST_POSTGRES_URL and FLAGSTAFF_TEST_REDIS_URL the throwaway servers of
scripts/services.sh. The daemon gets a database of its own, a small repository of flags, an
admin key made with `flagstaff keys create` (so that every authenticated route answers more
than 401), an owner's management key for a second run over the management API's routes
(which write commits to the throwaway repository) and a webhook secret (so that /hooks/git checks signatures rather than answering
404). Schemathesis then fails on any 5xx, any status code, content type, header or body the
document does not promise. Bounded: at most SCHEMATHESIS_MAX_EXAMPLES cases per operation and
SCHEMATHESIS_MAX_TIME seconds in all.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from support import commit_repository, fresh_database, logged_port

BIN = os.environ.get("FLAGSTAFF_BIN", ".build/debug/flagstaff")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50")
MAX_TIME = os.environ.get("SCHEMATHESIS_MAX_TIME", "60")
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
  - name: half
    rollout: 50
    serve: on
default: off
""",
    "shop/flags/greeting.yaml": """type: string
variants: { formal: "Good day", casual: "Hi" }
off_variant: formal
default: formal
""",
    "shop/flags/page-size.yaml": """type: number
variants: { small: 3, large: 50.5 }
off_variant: small
rules:
  - name: pro
    when: [ { attribute: plan, op: in, values: [pro] } ]
    serve: large
default: small
""",
    "shop/flags/theme.yaml": """type: json
variants: { blue: { color: blue, size: 2 } }
off_variant: blue
default: blue
""",
}


LAUNCHER = """
import sys
from hypothesis.internal import lambda_sources
describe = lambda_sources._lambda_description
def tolerant(f, *args, **kwargs):
    try:
        return describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"
lambda_sources._lambda_description = tolerant
from schemathesis.cli import schemathesis
sys.exit(schemathesis())
"""


def main():
    postgres = os.environ.get("FLAGSTAFF_TEST_POSTGRES_URL")
    redis = os.environ.get("FLAGSTAFF_TEST_REDIS_URL")
    if not postgres or not redis:
        sys.exit("FLAGSTAFF_TEST_POSTGRES_URL and FLAGSTAFF_TEST_REDIS_URL must be set (scripts/services.sh)")
    work = tempfile.mkdtemp(prefix="flagstaff-schemathesis-")
    repo = os.path.join(work, "repo")
    commit_repository(repo, FILES)

    database = fresh_database(postgres, "schemathesis")
    subprocess.run([BIN, "migrate", "--postgres", database], check=True, capture_output=True)
    log_path = os.path.join(work, "daemon.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTAFF_")}
    prefix = f"schemathesis{os.getpid()}"
    with open(log_path, "w") as log:
        daemon = subprocess.Popen(
            [BIN, "daemon", "--repo", repo, "--postgres", database, "--redis", redis, "--redis-prefix", prefix,
             "--webhook-secret", "schemathesis-secret",
             "--listen", "127.0.0.1:0", "--poll-interval", "1"],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
    status = 1
    try:
        deadline = time.time() + 60
        port = logged_port(log_path, deadline)
        if port is None:
            sys.exit(f"the daemon did not listen; its log is {log_path}")
        base = f"http://127.0.0.1:{port}"
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(base + "/readyz").status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.1)
        else:
            sys.exit(f"the daemon never became ready; its log is {log_path}")
        # Made once the daemon serves (a key could be made before, too); the daemon reads new
        # keys within 5 s.
        created = subprocess.run(
            [BIN, "keys", "create", "--postgres", database, "--project", "shop", "--environment", "production",
             "--type", "admin", "--name", "schemathesis"],
            check=True, capture_output=True, text=True)
        key = created.stdout.strip().splitlines()[-1]
        while time.time() < deadline + 30:
            try:
                status_request = urllib.request.Request(base + "/api/v1/status", headers={"X-API-Key": key})
                if urllib.request.urlopen(status_request).status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        else:
            sys.exit("the daemon did not take the new key within 30 s")

        # The management API takes management keys only: an owner's, for a second run over
        # its routes (which write commits to this throwaway repository).
        owner = subprocess.run(
            [BIN, "keys", "create", "--postgres", database, "--type", "manage", "--role", "owner",
             "--name", "schemathesis owner"],
            check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        while time.time() < deadline + 60:
            try:
                request = urllib.request.Request(base + "/api/v1/projects", headers={"X-API-Key": owner})
                if urllib.request.urlopen(request).status == 200:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        else:
            sys.exit("the daemon did not take the owner key within 30 s")

        status = 0
        for name, credential, scope in [
            ("evaluation and service routes", key, ["--exclude-path-regex", MANAGEMENT]),
            # The management API checks more than a schema can say (a change must compile and
            # pass its golden tests: 422; a flag to promote must exist: 404; a key must not be
            # taken: 409), so valid-looking bodies may be refused; every answer must still be
            # documented, and none may be a 5xx.
            ("management routes", owner,
             ["--include-path-regex", MANAGEMENT, "--exclude-checks", "positive_data_acceptance"]),
        ]:
            print(f"== schemathesis: {name}", flush=True)
            status = status or run(work, base, credential, scope)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    if status != 0:
        print(f"the daemon's log is {log_path}", file=sys.stderr)
        sys.exit(status)
    print("schemathesis found every answer as documented")


# The management API's routes (SPEC §14).
MANAGEMENT = "^/api/v1/(organizations|projects|environments|flags|segments|api-keys|audit-logs|changes|promotions)"


def run(work, base, credential, scope):
    # The key for both security schemes, so that schemathesis sends it the way the document
    # says and can also leave it out or spoil it (`ignored_auth` then expects 401).
    config = os.path.join(work, "schemathesis.toml")
    with open(config, "w") as f:
        f.write(f'[auth.openapi.ApiKeyAuth]\napi_key = "{credential}"\n[auth.openapi.BearerAuth]\nbearer = "{credential}"\n')
    command = [
        # Through this Python rather than a `schemathesis` on PATH, which pip may have put
        # where PATH does not look.
        # Hypothesis describes a strategy's lambdas by parsing their source with ast.parse, and
        # CPython 3.11 before 3.11.8 can fail that with "SystemError: AST constructor recursion
        # depth mismatch" (a CPython fault, gh-106905, that a higher recursion limit does not
        # avoid). The description only names the lambda in reports, so a failed parse gets
        # Hypothesis's own "unknown" description instead of failing the run.
        sys.executable, "-c", LAUNCHER,
        "--config-file", config, "run", os.path.join(ROOT, "schemas", "openapi.yaml"),
        "--url", base,
        # Every check schemathesis has. The stateful ones (use_after_free,
        # ensure_resource_availability, object_level_authorization) need links between
        # operations that create and read resources; this API has none, so they do nothing.
        "--checks", "all",
        # The event stream answers 200 and then never ends (a comment every 15 s keeps it
        # open), so no response body can be read to check; tests in Tests/FlagServerTests
        # cover it instead.
        "--exclude-path", "/api/v1/stream",
        "--max-examples", MAX_EXAMPLES, "--max-time", MAX_TIME,
        "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "10", "--workers", "2",
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "1"),
        "--generation-database", "none", "--no-color",
    ] + scope
    started = time.time()
    status = subprocess.run(command, cwd=work).returncode
    print(f"schemathesis took {time.time() - started:.1f} s and exited with {status}")
    return status


if __name__ == "__main__":
    main()
