"""A Server-Sent Events reader over a file-like HTTP response (the WHATWG parsing rules
that matter here: fields, multi-line data, comments, ids, the blank line that dispatches)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterator

__all__ = ["Event", "read_events"]


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str
    id: str | None
    retry: int | None = None


def read_events(stream: BinaryIO) -> Iterator[Event]:
    """Yields each dispatched event; returns when the stream ends."""
    data: list[str] = []
    event = ""
    last_id: str | None = None
    retry: int | None = None
    while True:
        raw = stream.readline()
        if not raw:
            return
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield Event(event or "message", "\n".join(data), last_id, retry)
            elif retry is not None:
                yield Event("", "", last_id, retry)
            data, event, retry = [], "", None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
