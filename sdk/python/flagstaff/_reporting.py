"""Evaluation counts and tracking events, kept in memory and sent in batches (SPEC §15).

Recording is a dictionary update under a lock; sending happens only on the reporter's own
thread. Memory is bounded: past `max_keys` distinct (flag, variant, reason, version) keys
or `max_events` queued events, new ones are dropped and counted, and the count is sent
with the next batch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

__all__ = ["Reporter", "METRICS_PATH", "EVENTS_PATH"]

METRICS_PATH = "/api/v1/metrics"
EVENTS_PATH = "/api/v1/events"
log = logging.getLogger("flagstaff")

# post(path, body) -> (HTTP status or None when the service could not be reached, Retry-After seconds or None)
Post = Callable[[str, bytes], "tuple[int | None, float | None]"]


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Reporter:
    def __init__(self, post: Post, *, sdk: str, interval: float = 10.0, max_keys: int = 10_000,
                 max_events: int = 10_000, batch_size: int = 1_000, unavailable_pause: float = 600.0,
                 clock: Callable[[], float] = time.time):
        self._post = post
        self._sdk = sdk
        self.interval = interval
        self._max_keys = max_keys
        self._max_events = max_events
        self._batch_size = batch_size
        self._unavailable_pause = unavailable_pause
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str | None, str | None, str | None], int] = {}
        self._window_start = clock()
        self._events: deque[dict[str, Any]] = deque()
        self._dropped_counts = 0
        self._dropped_events = 0
        self._not_found = 0
        # When a route answered 404 (or 429), nothing is sent to it before this time.
        self._paused_until: dict[str, float] = {}
        self.stats = {"metrics_sent": 0, "events_sent": 0, "counts_dropped": 0, "events_dropped": 0,
                      "unavailable": 0, "failures": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # MARK: recording (any thread, cheap)

    def record(self, flag: str, variant: str | None, reason: str | None, version: str | None) -> None:
        key = (flag, variant, reason, version)
        with self._lock:
            n = self._counts.get(key)
            if n is not None:
                self._counts[key] = n + 1
            elif len(self._counts) < self._max_keys:
                self._counts[key] = 1
            else:
                self._dropped_counts += 1

    def record_not_found(self) -> None:
        """Unknown keys are counted in one number, not by name: made-up keys cannot grow memory."""
        with self._lock:
            self._not_found += 1

    def track(self, name: str, context: Mapping[str, Any] | None, value: float | None,
              details: Mapping[str, Any] | None) -> None:
        event: dict[str, Any] = {"kind": "tracking", "name": name, "time": _rfc3339(self._clock()),
                                 "context": dict(context or {})}
        if value is not None:
            event["value"] = value
        if details:
            event["details"] = dict(details)
        with self._lock:
            if len(self._events) < self._max_events:
                self._events.append(event)
            else:
                self._dropped_events += 1

    # MARK: sending (the reporter's thread, or close())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flagstaff-reporter", daemon=True)
        self._thread.start()

    def close(self, flush: bool = True, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if flush:
            self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # never let a bug in reporting end the thread
                log.exception("flagstaff: reporting failed")

    def _paused(self, path: str, now: float) -> bool:
        return self._paused_until.get(path, 0.0) > now

    def flush(self) -> None:
        """Sends what was recorded since the last flush: one metrics body, and events in
        batches of at most `batch_size`."""
        now = self._clock()
        with self._lock:
            counts, self._counts = self._counts, {}
            start, self._window_start = self._window_start, now
            dropped_counts, self._dropped_counts = self._dropped_counts, 0
            not_found, self._not_found = self._not_found, 0
        self.stats["counts_dropped"] += dropped_counts
        if counts or dropped_counts or not_found:
            if self._paused(METRICS_PATH, now):
                self.stats["unavailable"] += 1
            else:
                body = {"sdk": self._sdk, "windowStart": _rfc3339(start), "windowEnd": _rfc3339(now),
                        "counts": [{"flag": f, "variant": v, "reason": r, "version": ver, "count": n}
                                   for (f, v, r, ver), n in counts.items()],
                        "notFound": not_found, "dropped": dropped_counts}
                if self._send(METRICS_PATH, body, now):
                    self.stats["metrics_sent"] += 1
                elif not self._paused(METRICS_PATH, now):
                    self._restore_counts(counts, start, dropped_counts, not_found)
        while True:
            with self._lock:
                if not self._events and not self._dropped_events:
                    return
                batch = [self._events.popleft() for _ in range(min(self._batch_size, len(self._events)))]
                dropped_events, self._dropped_events = self._dropped_events, 0
            self.stats["events_dropped"] += dropped_events
            if self._paused(EVENTS_PATH, now):
                self.stats["unavailable"] += 1
                continue  # dropped quietly: the server cannot take them
            if self._send(EVENTS_PATH, {"sdk": self._sdk, "events": batch, "dropped": dropped_events}, now):
                self.stats["events_sent"] += len(batch)
            else:
                if not self._paused(EVENTS_PATH, now):
                    self._restore_events(batch, dropped_events)
                return

    def _send(self, path: str, body: dict[str, Any], now: float) -> bool:
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        status, retry_after = self._post(path, data)
        if status is not None and 200 <= status < 300:
            return True
        if status == 404:
            # The service has no analytics routes (yet): stop trying for a while, quietly.
            if not self._paused(path, now):
                log.debug("flagstaff: %s answered 404; pausing reports for %ss", path, self._unavailable_pause)
            self._paused_until[path] = now + self._unavailable_pause
            self.stats["unavailable"] += 1
            return False
        if status == 429 and retry_after:
            self._paused_until[path] = now + retry_after
        self.stats["failures"] += 1
        log.debug("flagstaff: %s failed (%s); keeping the batch for the next flush", path, status)
        return False

    def _restore_counts(self, counts, start: float, dropped: int, not_found: int) -> None:
        with self._lock:
            self._not_found += not_found
            self._window_start = min(self._window_start, start)
            self._dropped_counts += dropped
            for key, n in counts.items():
                if key in self._counts:
                    self._counts[key] += n
                elif len(self._counts) < self._max_keys:
                    self._counts[key] = n
                else:
                    self._dropped_counts += n

    def _restore_events(self, batch: list[dict[str, Any]], dropped: int) -> None:
        with self._lock:
            self._dropped_events += dropped
            room = self._max_events - len(self._events)
            keep = batch[:max(room, 0)]
            self._dropped_events += len(batch) - len(keep)
            self._events.extendleft(reversed(keep))
