"""What the Python tests share: a committed flag repository, a database of its own, and the
port a daemon logged. Imported by the tests under Tests/python and Tests/readme."""

import json
import os
import subprocess
import time
import urllib.parse


def commit_repository(repo, files):
    """Writes `files` ({path: text}) under `repo` and commits them on `main`."""
    for path, text in files.items():
        full = os.path.join(repo, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "flags"]):
        subprocess.run(["git", "-c", "user.name=Ana", "-c", "user.email=ana@acme.com", *args],
                       cwd=repo, check=True, capture_output=True)


def fresh_database(admin_url, prefix):
    """A new database on the test server (so nothing another test left is served), as a URL."""
    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin_url, "-c", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True)
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def logged_port(log_path, deadline):
    """The port of the daemon's JSON "listening" log line, or None by `deadline`."""
    while time.time() < deadline:
        with open(log_path) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("message") == "listening":
                    return int(entry["port"])
        time.sleep(0.1)
    return None


# What failed so far in this test process; every check prints one line.
failures = []


def check(condition, what):
    if condition:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures.append(what)
