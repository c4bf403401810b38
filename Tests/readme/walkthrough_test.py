"""Runs the README's walkthrough as a new user would, so that it stays right.

Run by scripts/test.sh after the Swift tests, with the throwaway PostgreSQL and Redis of
scripts/services.sh (FLAGSTAFF_TEST_POSTGRES_URL, FLAGSTAFF_TEST_REDIS_URL) and the built
binary (FLAGSTAFF_BIN). In a copy of this repository's tracked files it starts
`bash scripts/run.sh` (with FLAGSTAFF_BIN, so it does not build again, and a free port),
then runs the shell block between the README's walkthrough markers as written, with two
substitutions only: the demo's port for 8080 and the built binary for
.build/release/flagstaff. Exits non-zero on the first failed check, saying which.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "python"))
from support import fresh_database  # noqa: E402

BIN = os.path.abspath(os.environ.get("FLAGSTAFF_BIN", os.path.join(ROOT, ".build/debug/flagstaff")))
failures = []


def check(condition, what, detail=""):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)
        if detail:
            print("     " + detail.replace("\n", "\n     "))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def walkthrough_block(name="walkthrough"):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    match = re.search(rf"<!-- {name}:start.*?-->\s*```sh\n(.*?)```\s*<!-- {name}:end -->", text, re.S)
    if not match:
        sys.exit(f"README.md has no block between <!-- {name}:start --> and <!-- {name}:end -->")
    return match.group(1)


def run_block(name, copy, port):
    """Runs a README block as a user's bash would, with the demo's port and the built binary."""
    script = re.sub(r"(\.\./)*\.build/release/flagstaff", BIN,
                    walkthrough_block(name).replace("localhost:8080", f"localhost:{port}"))
    walk = subprocess.Popen(["bash", "-e", "-c", script], cwd=copy, env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True)
    try:
        output, _ = walk.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(walk.pid, signal.SIGKILL)
        output, _ = walk.communicate()
    # Indented: the walkthrough's own "N passed, M failed" is not this suite's tally.
    print("\n".join("  | " + line for line in output.splitlines()))
    return walk.returncode, output


def main():
    work = tempfile.mkdtemp(prefix="flagstaff-readme-")
    copy = os.path.join(work, "flagstaff")
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for path in filter(None, files.decode().split("\0")):
        source = os.path.join(ROOT, path)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(os.path.join(copy, path)), exist_ok=True)
            shutil.copy2(source, os.path.join(copy, path))

    port = free_port()
    env = dict(os.environ)
    env.update(
        FLAGSTAFF_BIN=BIN, FLAGSTAFF_PORT=str(port), FLAGSTAFF_POSTGRES=fresh_database(os.environ["FLAGSTAFF_TEST_POSTGRES_URL"], "readme"),
        FLAGSTAFF_REDIS=os.environ["FLAGSTAFF_TEST_REDIS_URL"])
    log = open(os.path.join(work, "run.log"), "w")
    demo = subprocess.Popen(["bash", "scripts/run.sh"], cwd=copy, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            sys.exit("the demo did not become ready:\n" + open(os.path.join(work, "run.log")).read()[-3000:])

        # The walkthrough's webhook secret is the demo's; the user's shell would be bash.
        code, output = run_block("walkthrough", copy, port)
        check(code == 0, "the walkthrough's commands all succeed", f"exit {code}")
        before = output.find('"variant":"standard"')
        after = output.find('"variant":"long"')
        check(before >= 0, "production first serves 25 results (standard)")
        check(after > before >= 0, "after the commit it serves 50 (long)")
        check('"changed":["search-results-per-page"]' in output, "Redis printed the change message")
        check("refetchEvaluation" in output, "the event stream sent refetchEvaluation")
        check("flag.updated | search-results-per-page" in output, "psql shows the audit row")
        check("audit chain valid" in output and "reaching the anchored head" in output,
              "audit verify finds the chain valid up to the anchored head")
        check("passed, 0 failed" in output, "flagstaff test passes on the change")

        code, output = run_block("manage-walkthrough", copy, port)
        check(code == 0, "the management walkthrough's commands all succeed", f"exit {code}")
        check('"enabled":false' in output and '"applied":{' in output,
              "the kill switch answers with the configuration and the applied snapshot")
        check("anonymous | Disable new-checkout in production" in output, "the kill switch is a commit by the caller")
        check("incident 2231: card payments fail" in output and "Flagstaff-Actor: anonymous" in output,
              "the commit carries the comment and the trailers")
        check("new-checkout" in output.split("Flagstaff-Request-Id", 1)[-1], "the change's diff names the flag")
        check('"state":"merged"' in output, "the change is merged")
        check(re.search(r"flag\.\w+ production anonymous", output) is not None, "the audit trail names the caller")
    finally:
        for process in (demo,):
            if process and process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
        if not failures:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"demo log: {work}/run.log")
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print("README walkthrough: every check passed")


if __name__ == "__main__":
    main()
