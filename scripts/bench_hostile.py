"""Hostile clients against a running daemon, for scripts/bench-hostile.sh (which starts it).

    python3 scripts/bench_hostile.py PORT PID POST_LUA

For a baseline and then each attack in turn (slow-loris, idle connections, a connection
flood, oversized headers) it runs a good client beside the attack: wrk on a few keep-alive
connections (p50, p99, requests/s) and a probe that opens a new connection for every
request (p50, p99, failures). It samples the daemon's resident memory and open descriptors
while the attack runs and again once it has stopped. Loopback only; every loop is bounded in
count and in time, and every attack stops by itself.
"""

import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
PORT = int(sys.argv[1])
PID = int(sys.argv[2])
LUA = sys.argv[3]
PATH = "/ofrep/v1/evaluate/flags/flag-42"
BODY = b'{"context":{"targetingKey":"user-42","email":"kim@example.com","plan":"pro","country":"NL"}}'
DURATION = int(os.environ.get("ATTACK_SECONDS", "20"))
SETTLE = int(os.environ.get("SETTLE_SECONDS", "5"))
LORIS = int(os.environ.get("LORIS_CLIENTS", "1500"))
LORIS_GAP = float(os.environ.get("LORIS_GAP", "3"))
IDLE = int(os.environ.get("IDLE_CONNECTIONS", "10000"))
# Slow-loris and idle connections are held this long (past the daemon's idle timeout, 30 s by
# default) to see whether they are ever closed.
HOLD = int(os.environ.get("HOLD_SECONDS", "45"))
FLOOD_SECONDS = int(os.environ.get("FLOOD_SECONDS", "10"))
HEADERS = int(os.environ.get("HEADER_COUNT", "10000"))

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0


def open_fds():
    try:
        return len(os.listdir(f"/proc/{PID}/fd"))
    except OSError:
        return -1


def alive():
    return os.path.exists(f"/proc/{PID}") and open(f"/proc/{PID}/status").read().find("State:\tZ") < 0


class Sampler(threading.Thread):
    """Resident memory and open descriptors of the daemon every 0.25 s until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.rss = []
        self.fds = []

    def run(self):
        while not self.stop.is_set():
            self.rss.append(rss_kb())
            self.fds.append(open_fds())
            self.stop.wait(0.25)


def wrk(seconds):
    out = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", "-s", LUA, f"http://{HOST}:{PORT}{PATH}"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    result = {"rps": None, "p50": None, "p99": None, "errors": ""}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec"):
            result["rps"] = float(parts[1])
        elif parts[:1] == ["50%"]:
            result["p50"] = parts[1]
        elif parts[:1] == ["99%"]:
            result["p99"] = parts[1]
        elif "Socket errors" in line or "Non-2xx" in line:
            result["errors"] += line.strip() + " "
    return result


def probe(seconds, results):
    """A new connection per request, ten a second: what a client arriving now sees."""
    request = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n").encode() + BODY
    end = time.time() + seconds
    while time.time() < end:
        start = time.perf_counter()
        try:
            with socket.create_connection((HOST, PORT), timeout=5) as s:
                s.sendall(request)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            ok = data.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        elapsed = (time.perf_counter() - start) * 1000
        results.append((ok, elapsed))
        time.sleep(max(0.0, 0.1 - elapsed / 1000))


def measure(name, attack, seconds):
    """Runs `attack(stop_event)` in a thread beside wrk and the probe for `seconds`, then
    samples memory and descriptors again after SETTLE seconds."""
    sampler = Sampler()
    sampler.start()
    stop = threading.Event()
    notes = {}
    ready = threading.Event()
    attacker = threading.Thread(target=lambda: attack(stop, ready, notes, seconds), daemon=True) if attack else None
    before_rss, before_fds = rss_kb(), open_fds()
    if attacker:
        attacker.start()
        ready.wait(90)  # measure once the attack has taken hold (every connection open)
    probes = []
    prober = threading.Thread(target=probe, args=(seconds, probes), daemon=True)
    prober.start()
    good = wrk(seconds)
    prober.join(seconds + 30)
    stop.set()
    if attacker:
        attacker.join(HOLD + 120)
    sampler.stop.set()
    sampler.join()
    time.sleep(SETTLE)
    latencies = sorted(ms for ok, ms in probes if ok)
    failed = sum(1 for ok, _ in probes if not ok)
    row = {
        "name": name, **good,
        "probe_p50": statistics.median(latencies) if latencies else None,
        "probe_p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None,
        "probe_failed": failed, "probe_n": len(probes),
        "rss_before": before_rss, "rss_max": max(sampler.rss), "rss_after": rss_kb(),
        "fds_before": before_fds, "fds_max": max(sampler.fds), "fds_after": open_fds(),
        "alive": alive(), "notes": notes,
    }
    print_row(row)
    return row


def print_row(r):
    def fmt(v, unit=""):
        return "-" if v is None else (f"{v:.2f}{unit}" if isinstance(v, float) else f"{v}{unit}")
    print(f"{r['name']:<26} wrk {fmt(r['rps'])} req/s p50 {fmt(r['p50'])} p99 {fmt(r['p99'])} {r['errors']}| "
          f"new-conn probe p50 {fmt(r['probe_p50'], 'ms')} p99 {fmt(r['probe_p99'], 'ms')} "
          f"failed {r['probe_failed']}/{r['probe_n']} | RSS kB before {r['rss_before']} max {r['rss_max']} "
          f"after {r['rss_after']} | fds before {r['fds_before']} max {r['fds_max']} after {r['fds_after']} | "
          f"alive {r['alive']}", flush=True)
    for key, value in r["notes"].items():
        print(f"    {key}: {value}", flush=True)


# MARK: attacks

def slow_loris(stop, ready, notes, seconds):
    """LORIS clients each send a request line, then one byte of a header every LORIS_GAP s."""
    head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\n".encode()
    trickle = b"X-Loris: " + b"a" * 4096
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(LORIS):
        try:
            s = socket.create_connection((HOST, PORT), timeout=5)
            s.sendall(head)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
        except OSError:
            break
    notes["opened"] = len(socks)
    ready.set()
    started = time.time()
    closed_at = {}
    sent = 0
    end = started + max(seconds, HOLD)
    while time.time() < end and len(closed_at) < len(socks):
        for s in socks:
            if s in closed_at:
                continue
            try:
                s.send(trickle[sent % len(trickle):sent % len(trickle) + 1])
            except OSError:
                closed_at[s] = time.time() - started
        sent += 1
        deadline = time.time() + LORIS_GAP
        while time.time() < deadline:
            for key, _ in sel.select(timeout=max(0.0, deadline - time.time())):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data and s not in closed_at:
                    closed_at[s] = time.time() - started
                sel.unregister(s)
    times = sorted(closed_at.values())
    notes["bytes sent per client"] = sent
    notes["closed by the server"] = f"{len(times)} of {len(socks)}" + (
        f", first after {times[0]:.1f} s, last after {times[-1]:.1f} s" if times else "")
    for s in socks:
        s.close()


def idle_connections(stop, ready, notes, seconds):
    """IDLE connections opened and held without sending a byte."""
    socks = []
    sel = selectors.DefaultSelector()
    started = time.time()
    for i in range(IDLE):
        if time.time() - started > 60:
            break
        try:
            s = socket.create_connection((HOST, PORT), timeout=5)
        except OSError as error:
            notes["connect failed"] = f"after {i}: {error}"
            break
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    notes["opened"] = f"{len(socks)} in {time.time() - started:.1f} s"
    ready.set()
    closed_at = []
    end = started + max(seconds, HOLD)
    while time.time() < end and len(closed_at) < len(socks):
        for key, _ in sel.select(timeout=0.5):
            closed_at.append(time.time() - started)
            sel.unregister(key.fileobj)
    notes["closed by the server"] = f"{len(closed_at)} of {len(socks)}" + (
        f", first after {closed_at[0]:.1f} s, last after {closed_at[-1]:.1f} s" if closed_at else "")
    for s in socks:
        s.close()


def connection_flood(stop, ready, notes, seconds):
    """Connects and resets (SO_LINGER 0, so the client's ports do not sit in TIME_WAIT) as fast
    as two threads can, for FLOOD_SECONDS."""
    ready.set()
    counts = [0, 0]
    linger = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")

    def worker(index):
        end = time.time() + FLOOD_SECONDS
        while time.time() < end:
            try:
                s = socket.socket()
                s.settimeout(2)
                s.connect((HOST, PORT))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                s.close()
                counts[0] += 1
            except OSError:
                counts[1] += 1
                s.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    notes["connections"] = f"{counts[0]} in {FLOOD_SECONDS} s ({counts[0] / FLOOD_SECONDS:.0f}/s), {counts[1]} failed"


def send_and_read(request):
    start = time.perf_counter()
    try:
        with socket.create_connection((HOST, PORT), timeout=10) as s:
            try:
                s.sendall(request)
            except OSError:
                pass  # the server may answer and close before it has read everything
            data = b""
            while len(data) < 65536:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
    except OSError as error:
        return f"error {error.__class__.__name__}", (time.perf_counter() - start) * 1000
    status = data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"
    return status, (time.perf_counter() - start) * 1000


def huge_headers(stop, ready, notes, seconds):
    """Requests with HEADER_COUNT headers, and with one 1 MiB header line, again and again
    (bounded by count and time) so that any memory they cost would show."""
    many = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(HEADERS))
            + f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY
    long_line = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Long: " + "a" * (1 << 20)
                 + f"\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY
    ready.set()
    for label, request in ((f"{HEADERS} headers", many), ("one 1 MiB header", long_line)):
        statuses = {}
        times = []
        end = time.time() + seconds / 2
        for _ in range(500):
            if time.time() > end or stop.is_set():
                break
            status, ms = send_and_read(request)
            statuses[status] = statuses.get(status, 0) + 1
            times.append(ms)
        notes[label] = f"{len(times)} sent, answers {statuses}, median {statistics.median(times):.1f} ms"


def main():
    print(f"daemon pid {PID} on {HOST}:{PORT}; {os.cpu_count()} cores; good client: wrk -t1 -c4 plus a new "
          f"connection every 0.1 s; attacks {DURATION} s, then {SETTLE} s to settle", flush=True)
    rows = [measure("baseline", None, DURATION)]
    rows.append(measure(f"slow-loris x{LORIS}", slow_loris, DURATION))
    rows.append(measure(f"{IDLE} idle connections", idle_connections, DURATION))
    rows.append(measure("connection flood", connection_flood, FLOOD_SECONDS))
    rows.append(measure(f"{HEADERS} headers, 1 MiB line", huge_headers, DURATION))
    rows.append(measure("after all", None, DURATION))
    # Whatever an attack left open should be closed by now if the daemon reaps idle connections.
    time.sleep(HOLD)
    print(f"{HOLD} s later: RSS {rss_kb()} kB, {open_fds()} open descriptors", flush=True)
    if not all(r["alive"] for r in rows):
        print("the daemon died", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
