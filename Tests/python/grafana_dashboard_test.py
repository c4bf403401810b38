"""Keeps examples/grafana/flagstaff-dashboard.json true to the metrics a daemon exposes.

    python3 Tests/python/grafana_dashboard_test.py METRICS_FILE

METRICS_FILE is the text of a live daemon's /metrics (Tests/package/deb_test.sh saves one
from the installed daemon, after evaluations and a sync with PostgreSQL and Redis). Every
PromQL expression of the dashboard must name only metrics in it, and select or group only by
labels those metrics have (plus `instance` and `job`, which Prometheus adds when it scrapes).
Exits non-zero naming each problem.
"""

import json
import os
import re
import sys

DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "grafana", "flagstaff-dashboard.json")
SCRAPE_LABELS = {"instance", "job"}
# What the dashboard was asked to show: evaluations per flag and reason, request latency,
# sync lag, rejected commits, outbox depth.
REQUIRED = [
    "flagstaff_evaluations_total",
    "flagstaff_http_request_duration_seconds_bucket",
    "flagstaff_sync_lag_seconds",
    "flagstaff_sync_rejected_commits_total",
    "flagstaff_outbox_pending",
]

NAME = re.compile(r"\bflagstaff_[a-zA-Z0-9_]+")
SELECTOR = re.compile(r"\b(flagstaff_[a-zA-Z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def exposed(text):
    """Metric name → the label names its samples carry."""
    labels = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
        if not match:
            continue
        names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', match.group(3) or ""))
        labels.setdefault(match.group(1), set()).update(names)
    return labels


def expressions(dashboard):
    """(where, PromQL) for every panel target and every query variable."""
    found = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((f"panel '{panel.get('title')}' {target.get('refId')}", target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            found.append((f"variable '{variable['name']}'", query))
    return found


def check(dashboard, metrics):
    problems = []
    if dashboard.get("schemaVersion", 0) < 36:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')} is older than Grafana 9")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        problems.append("no ${datasource} variable")
    ids = []

    def walk(panels):
        for panel in panels:
            ids.append(panel.get("id"))
            if panel.get("type") != "row" and panel.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel '{panel.get('title')}' does not use ${{datasource}}")
            walk(panel.get("panels", []))

    walk(dashboard.get("panels", []))
    if len(ids) != len(set(ids)):
        problems.append("panel ids repeat")

    used = set()
    for where, expr in expressions(dashboard):
        names = set(NAME.findall(expr))
        if not names:
            problems.append(f"{where}: names no flagstaff metric: {expr}")
        used |= names
        known_labels = set(SCRAPE_LABELS)
        for name in names:
            if name not in metrics:
                problems.append(f"{where}: {name} is not in /metrics")
            else:
                known_labels |= metrics[name]
        for name, body in SELECTOR.findall(expr):
            for label in MATCHER.findall(body):
                if label not in metrics.get(name, set()) | SCRAPE_LABELS:
                    problems.append(f"{where}: {name} has no label '{label}'")
        for group in GROUPING.findall(expr):
            for label in filter(None, (part.strip() for part in group.split(","))):
                if label not in known_labels:
                    problems.append(f"{where}: groups by '{label}', which none of {sorted(names)} has")
    for name in REQUIRED:
        if name not in used:
            problems.append(f"no panel shows {name}")
    return problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    with open(sys.argv[1]) as f:
        metrics = exposed(f.read())
    problems = check(dashboard, metrics)
    for problem in problems:
        print(f"FAIL dashboard: {problem}")
    if problems:
        sys.exit(1)
    print(f"ok   the dashboard's {len(expressions(dashboard))} queries name only exposed metrics and labels")


if __name__ == "__main__":
    main()
