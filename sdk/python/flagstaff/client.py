"""FlagstaffClient: local evaluation of a snapshot kept current by the service's stream.

One background thread follows GET /api/v1/stream?events=snapshot (after GET
/api/v1/snapshot), another sends evaluation counts and tracking events. Evaluations never
wait for either: they read one reference to what is served (an engine and the flag types),
which the stream thread replaces whole when a new revision arrives.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import socket
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Mapping

from . import __version__
from ._details import ErrorCode, EvaluationDetails, error_details, from_result
from ._native import Engine, FlagstaffError, SnapshotError, load_library
from ._reporting import Reporter
from ._sse import read_events

__all__ = ["ClientEvent", "FlagstaffClient", "State"]

log = logging.getLogger("flagstaff")
USER_AGENT = f"flagstaff-python/{__version__}"


class State(str, Enum):
    """NOT_READY: starting. READY: serving a snapshot and following the service. STALE:
    serving the last snapshot (or the cache file) without the service. ERROR: no snapshot
    at all yet (still trying)."""

    NOT_READY = "not_ready"
    READY = "ready"
    STALE = "stale"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """What listeners receive: `type` is "state" (the state changed) or "snapshot" (a new
    revision is served; `changed` names the flags added, changed or removed)."""

    type: str
    state: State
    revision: int | None = None
    version: str | None = None
    commit: str | None = None
    changed: tuple[str, ...] = ()
    message: str | None = None


@dataclass(frozen=True, slots=True)
class _Served:
    """Everything one evaluation reads, swapped as one reference."""

    engine: Engine
    types: dict[str, str]
    flags: dict[str, Any]
    revision: int | None
    version: str
    commit: str | None
    etag: str | None


class _Unavailable(Exception):
    """The service answered, but not with a snapshot (an HTTP error status)."""

    def __init__(self, status: int, body: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.retry_after = retry_after


def _retry_after(response: http.client.HTTPResponse) -> float | None:
    value = response.getheader("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


class FlagstaffClient:
    """Evaluates flags locally with libflagstaff.

    `FlagstaffClient(url, key)` follows a Flagstaff service; `FlagstaffClient(offline=PATH)`
    serves a snapshot file written by `flagstaff compile` and touches no network.
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        project: str | None = None,
        environment: str | None = None,
        offline: str | os.PathLike[str] | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        library: str | os.PathLike[str] | None = None,
        wait: bool = True,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 45.0,
        backoff_initial: float = 0.25,
        backoff_max: float = 30.0,
        reporting: bool = True,
        flush_interval: float = 10.0,
        max_count_keys: int = 10_000,
        max_events: int = 10_000,
        analytics_pause: float = 600.0,
        listeners: list[Callable[[ClientEvent], None]] | None = None,
    ):
        if offline is None and not url:
            raise ValueError("FlagstaffClient needs the service's url, or offline=PATH")
        self._library = load_library(library)
        self._url = url.rstrip("/") if url else None
        self._key = key
        self._project = project
        self._environment = environment
        self._cache_path = os.fspath(cache_path) if cache_path is not None else None
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._served: _Served | None = None
        self._state = State.NOT_READY
        self._state_lock = threading.Lock()
        self._settled = threading.Condition(self._state_lock)
        self._listeners: list[Callable[[ClientEvent], None]] = list(listeners or [])
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._reporter: Reporter | None = None

        if offline is not None:
            with open(offline, "rb") as f:
                self._apply(f.read(), revision=None, etag=None)
            self._set_state(State.READY)
            return

        parts = urllib.parse.urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._parts = parts
        if reporting:
            self._reporter = Reporter(self._post, sdk=USER_AGENT, interval=flush_interval, max_keys=max_count_keys,
                                      max_events=max_events, unavailable_pause=analytics_pause)
            self._reporter.start()
        self._thread = threading.Thread(target=self._follow, name="flagstaff-stream", daemon=True)
        self._thread.start()
        if wait:
            self.wait_until_ready(timeout)

    # MARK: life cycle

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, library: str | os.PathLike[str] | None = None) -> FlagstaffClient:
        """Offline mode: the snapshot `flagstaff compile` wrote, no network."""
        return cls(offline=path, library=library)

    @property
    def state(self) -> State:
        return self._state

    @property
    def revision(self) -> int | None:
        served = self._served
        return served.revision if served else None

    @property
    def version(self) -> str | None:
        served = self._served
        return served.version if served else None

    def wait_until_ready(self, timeout: float | None = None) -> State:
        """Waits until the client serves a snapshot (READY or STALE) or has given up on
        its first try (ERROR), at most `timeout` seconds; returns the state."""
        with self._settled:
            self._settled.wait_for(lambda: self._state is not State.NOT_READY, timeout)
            return self._state

    def add_listener(self, listener: Callable[[ClientEvent], None]) -> None:
        """Calls `listener` on the stream thread for every state change and new revision."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[ClientEvent], None]) -> None:
        self._listeners.remove(listener)

    def close(self) -> None:
        """Stops following the service and sends what reporting still holds. Evaluations
        keep answering from the last snapshot."""
        self._stop.set()
        sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
        if self._reporter is not None:
            self._reporter.close()

    def __enter__(self) -> FlagstaffClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # MARK: evaluation

    def _details(self, key: str, default: Any, context: Mapping[str, Any] | None, expected: str | None) -> EvaluationDetails:
        served = self._served
        if served is None:
            return error_details(key, default, ErrorCode.PROVIDER_NOT_READY,
                                 f"no snapshot yet ({self.last_error or 'starting'})")
        details = from_result(served.engine.evaluate(key, context), default, expected, served.types.get(key))
        reporter = self._reporter
        if reporter is not None:
            if details.error_code == ErrorCode.FLAG_NOT_FOUND:
                reporter.record_not_found()
            else:
                reporter.record(key, details.variant, details.native_reason or details.reason, details.version)
        return details

    def bool_details(self, key: str, default: bool, context: Mapping[str, Any] | None = None) -> EvaluationDetails[bool]:
        return self._details(key, default, context, "boolean")

    def string_details(self, key: str, default: str, context: Mapping[str, Any] | None = None) -> EvaluationDetails[str]:
        return self._details(key, default, context, "string")

    def number_details(self, key: str, default: float, context: Mapping[str, Any] | None = None) -> EvaluationDetails[float]:
        return self._details(key, default, context, "number")

    def json_details(self, key: str, default: Any, context: Mapping[str, Any] | None = None) -> EvaluationDetails[Any]:
        return self._details(key, default, context, "json")

    def details(self, key: str, default: Any = None, context: Mapping[str, Any] | None = None) -> EvaluationDetails[Any]:
        """Any type: the flag's own value."""
        return self._details(key, default, context, None)

    def bool(self, key: str, default: bool, context: Mapping[str, Any] | None = None) -> bool:
        return self._details(key, default, context, "boolean").value

    def string(self, key: str, default: str, context: Mapping[str, Any] | None = None) -> str:
        return self._details(key, default, context, "string").value

    def number(self, key: str, default: float, context: Mapping[str, Any] | None = None) -> float:
        return self._details(key, default, context, "number").value

    def json(self, key: str, default: Any, context: Mapping[str, Any] | None = None) -> Any:
        return self._details(key, default, context, "json").value

    def evaluate_all(self, context: Mapping[str, Any] | None = None) -> dict[str, EvaluationDetails[Any]]:
        """Every flag of the snapshot, by key (empty when there is no snapshot yet)."""
        served = self._served
        if served is None:
            return {}
        return {r["key"]: from_result(r, None, None, None) for r in served.engine.evaluate_all(context)}

    def flag_type(self, key: str) -> str | None:
        served = self._served
        return served.types.get(key) if served else None

    # MARK: reporting

    def track(self, name: str, context: Mapping[str, Any] | None = None, value: float | None = None,
              details: Mapping[str, Any] | None = None) -> None:
        """Queues an OpenFeature tracking event for POST /api/v1/events."""
        if self._reporter is not None:
            self._reporter.track(name, context, value, details)

    def flush(self) -> None:
        """Sends the counts and events recorded so far, now (normally the background does)."""
        if self._reporter is not None:
            self._reporter.flush()

    @property
    def reporting_stats(self) -> dict[str, int]:
        return dict(self._reporter.stats) if self._reporter else {}

    # MARK: serving a snapshot

    def _apply(self, data: bytes, revision: int | None, etag: str | None, commit: str | None = None) -> bool:
        """Builds an engine for `data` and serves it; False when it is what is served already."""
        served = self._served
        snapshot = json.loads(data)
        flags = snapshot.get("flags") or {}
        engine = Engine(data, self._library)
        if served is not None and served.version == engine.version:
            if revision is not None and served.revision != revision:
                self._served = _Served(served.engine, served.types, served.flags, revision, served.version,
                                       served.commit, etag or served.etag)
            return False
        types = {k: (f.get("type") or "boolean") for k, f in flags.items()}
        new = _Served(engine, types, flags, revision, engine.version, commit or snapshot.get("commit"), etag)
        self._served = new  # the swap: one reference; evaluations hold the old engine while they run
        changed: tuple[str, ...] = ()
        if served is not None:
            changed = tuple(sorted(k for k in set(served.flags) | set(flags) if served.flags.get(k) != flags.get(k)))
        else:
            changed = tuple(sorted(flags))
        self._emit(ClientEvent("snapshot", self._state, revision, new.version, new.commit, changed))
        return True

    def _write_cache(self, data: bytes) -> None:
        if self._cache_path is None:
            return
        directory = os.path.dirname(os.path.abspath(self._cache_path))
        try:
            fd, temporary = tempfile.mkstemp(prefix=".flagstaff-cache-", dir=directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(temporary, self._cache_path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            log.warning("flagstaff: could not write the cache file %s: %s", self._cache_path, error)

    def _load_cache(self) -> bool:
        if self._cache_path is None or self._served is not None:
            return False
        try:
            with open(self._cache_path, "rb") as f:
                self._apply(f.read(), revision=None, etag=None)
            return True
        except FileNotFoundError:
            return False
        except (OSError, ValueError, FlagstaffError) as error:
            log.warning("flagstaff: the cache file %s is unusable: %s", self._cache_path, error)
            return False

    # MARK: states and listeners

    def _set_state(self, state: State, message: str | None = None) -> None:
        with self._settled:
            if state is self._state:
                return
            self._state = state
            self._settled.notify_all()
        served = self._served
        self._emit(ClientEvent("state", state, served.revision if served else None,
                               served.version if served else None, served.commit if served else None,
                               message=message))

    def _emit(self, event: ClientEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("flagstaff: a listener failed")

    # MARK: following the service (the stream thread)

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        if self._project:
            headers["X-Flagstaff-Project"] = self._project
        if self._environment:
            headers["X-Flagstaff-Environment"] = self._environment
        return headers

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        parts = self._parts
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = cls(parts.hostname, parts.port, timeout=timeout)
        connection.connect()
        connection.sock.settimeout(timeout)
        return connection

    def _path(self, route: str) -> str:
        return (self._parts.path.rstrip("/") or "") + route

    def _fetch_snapshot(self) -> None:
        connection = self._connect(self._connect_timeout)
        try:
            headers = self._headers()
            served = self._served
            if served is not None and served.etag:
                headers["If-None-Match"] = served.etag
            connection.request("GET", self._path("/api/v1/snapshot"), headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status == 304:
                return
            if response.status != 200:
                raise _Unavailable(response.status, body.decode(errors="replace"), _retry_after(response))
            revision = response.getheader("X-Flagstaff-Revision")
            if self._apply(body, int(revision) if revision else None, response.getheader("ETag")):
                self._write_cache(body)
        finally:
            connection.close()

    def _stream(self) -> None:
        """Reads the stream until it ends or fails; raises on failure."""
        connection = self._connect(self._connect_timeout)
        # The socket itself: http.client lets go of it once a response without a length
        # starts, and close() must still be able to cut a read short.
        sock = connection.sock
        self._socket = sock
        try:
            headers = self._headers()
            headers["Accept"] = "text/event-stream"
            served = self._served
            if served is not None and served.revision is not None:
                headers["Last-Event-ID"] = str(served.revision)
            connection.request("GET", self._path("/api/v1/stream?events=snapshot"), headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                raise _Unavailable(response.status, response.read().decode(errors="replace"), _retry_after(response))
            sock.settimeout(self._read_timeout)  # keep-alive comments arrive every 15 s
            self._set_state(State.READY)
            self._attempt = 0
            for event in read_events(response):
                if self._stop.is_set():
                    return
                if event.event != "snapshot":
                    continue
                message = json.loads(event.data)
                snapshot = self._snapshot_bytes(event.data, message)
                revision = message.get("revision")
                if self._apply(snapshot, revision, f'"{message.get("version")}"', message.get("commit")):
                    self._write_cache(snapshot)
            raise ConnectionError("the service closed the stream")
        finally:
            self._socket = None
            connection.close()

    @staticmethod
    def _snapshot_bytes(data: str, message: dict[str, Any]) -> bytes:
        """The snapshot exactly as the service wrote it: the event's last member, sliced out
        (the fields before it are keys, a version and a commit, which cannot hold the marker)."""
        marker = data.find(',"snapshot":')
        if marker >= 0 and data.endswith("}"):
            return data[marker + len(',"snapshot":'):-1].encode()
        return json.dumps(message["snapshot"], separators=(",", ":"), ensure_ascii=False).encode()

    def _follow(self) -> None:
        self._attempt = 0
        while not self._stop.is_set():
            pause: float | None = None
            try:
                # After every (re)connect: the snapshot first (a 304 when nothing moved),
                # then the stream from the revision served.
                self._fetch_snapshot()
                self._stream()
            except Exception as error:
                if self._stop.is_set():
                    return
                if isinstance(error, _Unavailable):
                    pause = error.retry_after
                self.last_error = f"{type(error).__name__}: {error}" if not isinstance(error, _Unavailable) else str(error)
                if isinstance(error, (SnapshotError, ValueError, KeyError)):
                    log.warning("flagstaff: %s", self.last_error)
                if self._served is None:
                    self._load_cache()
                self._set_state(State.STALE if self._served is not None else State.ERROR, self.last_error)
            self._attempt += 1
            # Capped exponential backoff with jitter: a fleet does not come back at once.
            ceiling = min(self._backoff_max, self._backoff_initial * 2 ** min(self._attempt - 1, 20))
            delay = random.uniform(ceiling / 2, ceiling)
            if pause is not None:
                delay = max(delay, pause)
            self._stop.wait(delay)

    def _post(self, path: str, body: bytes) -> tuple[int | None, float | None]:
        """The reporter's transport: one request, a fresh connection."""
        try:
            connection = self._connect(self._connect_timeout)
        except OSError:
            return None, None
        try:
            headers = self._headers()
            headers["Content-Type"] = "application/json"
            connection.request("POST", self._path(path), body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, _retry_after(response)
        except (OSError, http.client.HTTPException):
            return None, None
        finally:
            connection.close()
