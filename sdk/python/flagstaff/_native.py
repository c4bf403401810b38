"""libflagstaff through ctypes: finding the library, and one engine per snapshot.

The contract is include/flagstaff.h. Strings the library returns are the library's and go
back through flagstaff_string_free, so those functions are declared as returning void
pointers (a c_char_p result would be copied and the pointer lost).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import threading
from datetime import datetime, timezone
from typing import Any, Mapping

__all__ = ["Engine", "FlagstaffError", "LibraryNotFoundError", "SnapshotError", "load_library"]

LIBRARY_NAME = "libflagstaff.so"
ENV_LIBRARY = "FLAGSTAFF_LIBRARY"


class FlagstaffError(Exception):
    """Base of the errors this package raises."""


class LibraryNotFoundError(FlagstaffError):
    """No libflagstaff could be loaded; `tried` lists each place and why it failed."""

    def __init__(self, tried: list[tuple[str, str]]):
        self.tried = tried
        lines = "\n".join(f"  {where}: {why}" for where, why in tried)
        super().__init__(
            "libflagstaff could not be loaded; tried:\n" + lines
            + f"\nPass library=PATH, set {ENV_LIBRARY}, put {LIBRARY_NAME} next to the flagstaff package, "
            "or install it where the system loader finds it (see docs/sdk.md)."
        )


class SnapshotError(FlagstaffError):
    """The library refused a snapshot; the message is the library's own."""


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    c_size, c_char_p, c_void_p = ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p
    lib.flagstaff_version.argtypes = []
    lib.flagstaff_version.restype = c_char_p
    lib.flagstaff_engine_new.argtypes = [c_char_p, c_size, ctypes.POINTER(c_void_p)]
    lib.flagstaff_engine_new.restype = c_void_p
    lib.flagstaff_engine_free.argtypes = [c_void_p]
    lib.flagstaff_engine_free.restype = None
    lib.flagstaff_engine_version.argtypes = [c_void_p]
    lib.flagstaff_engine_version.restype = c_char_p
    lib.flagstaff_evaluate.argtypes = [c_void_p, c_char_p, c_char_p, c_size, c_void_p, c_size]
    lib.flagstaff_evaluate.restype = ctypes.c_int64
    lib.flagstaff_evaluate_alloc.argtypes = [c_void_p, c_char_p, c_char_p, c_size]
    lib.flagstaff_evaluate_alloc.restype = c_void_p
    lib.flagstaff_evaluate_all.argtypes = [c_void_p, c_char_p, c_size, c_void_p, c_size]
    lib.flagstaff_evaluate_all.restype = ctypes.c_int64
    lib.flagstaff_evaluate_all_alloc.argtypes = [c_void_p, c_char_p, c_size]
    lib.flagstaff_evaluate_all_alloc.restype = c_void_p
    lib.flagstaff_string_free.argtypes = [c_void_p]
    lib.flagstaff_string_free.restype = None
    return lib


_loaded: dict[str, ctypes.CDLL] = {}
_load_lock = threading.Lock()


def _candidates(path: str | os.PathLike[str] | None) -> list[tuple[str, str]]:
    """(label, what to hand dlopen) in the order they are tried."""
    if path is not None:
        return [(f"library={os.fspath(path)!r}", os.fspath(path))]
    out = []
    env = os.environ.get(ENV_LIBRARY)
    if env:
        out.append((f"{ENV_LIBRARY}={env!r}", env))
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_NAME)
    out.append((f"next to the package ({beside})", beside))
    found = ctypes.util.find_library("flagstaff")
    out.append(("the system loader (libflagstaff.so)", found or LIBRARY_NAME))
    return out


def load_library(path: str | os.PathLike[str] | None = None) -> ctypes.CDLL:
    """Loads libflagstaff: `path` if given (and nothing else), else $FLAGSTAFF_LIBRARY, else
    libflagstaff.so next to this package, else wherever the system loader finds it."""
    tried: list[tuple[str, str]] = []
    with _load_lock:
        for label, target in _candidates(path):
            if target in _loaded:
                return _loaded[target]
            if os.sep in target and not os.path.exists(target):
                tried.append((label, "no such file"))
                continue
            try:
                lib = _declare(ctypes.CDLL(target))
            except OSError as error:
                tried.append((label, str(error)))
                continue
            except AttributeError as error:
                tried.append((label, f"not libflagstaff ({error})"))
                continue
            _loaded[target] = lib
            return lib
    raise LibraryNotFoundError(tried)


def library_version(lib: ctypes.CDLL) -> str:
    return lib.flagstaff_version().decode()


# One result buffer per thread, shared by every engine: evaluations on one thread never
# overlap, and a buffer that grew once stays grown.
_buffers = threading.local()
_INITIAL_CAPACITY = 4096


def _buffer(needed: int = 0) -> ctypes.Array[ctypes.c_char]:
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) < needed:
        size = max(_INITIAL_CAPACITY, 1 << (max(needed, 1) - 1).bit_length())
        buffer = ctypes.create_string_buffer(size)
        _buffers.buffer = buffer
    return buffer


def _context_bytes(context: Mapping[str, Any] | str | bytes | None) -> bytes | None:
    if context is None:
        return None
    if isinstance(context, bytes):
        return context
    if isinstance(context, str):
        return context.encode()
    return _encode(context).encode()


def _json_default(value: Any) -> Any:
    # Datetimes (OpenFeature contexts carry them) as RFC 3339, which `before`/`after` read.
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# One encoder for every call: json.dumps with options builds a new one each time.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default).encode


class Engine:
    """One compiled snapshot in libflagstaff. Immutable: any number of threads may evaluate
    on it at once. The engine is freed when the last reference to this object goes (an
    evaluation in progress holds one), or by close() when the caller knows no other thread
    still uses it."""

    __slots__ = ("_lib", "_handle", "version", "__weakref__")

    def __init__(self, snapshot_json: bytes | str, library: ctypes.CDLL | str | os.PathLike[str] | None = None):
        lib = library if isinstance(library, ctypes.CDLL) else load_library(library)
        data = snapshot_json.encode() if isinstance(snapshot_json, str) else bytes(snapshot_json)
        error = ctypes.c_void_p()
        handle = lib.flagstaff_engine_new(data, len(data), ctypes.byref(error))
        if not handle:
            message = "libflagstaff refused the snapshot"
            if error.value:
                message = ctypes.string_at(error.value).decode(errors="replace")
                lib.flagstaff_string_free(error.value)
            raise SnapshotError(message)
        self._lib = lib
        self._handle = handle
        self.version: str = lib.flagstaff_engine_version(handle).decode()

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            self._lib.flagstaff_engine_free(handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def _call(self, function, *arguments) -> bytes:
        handle = self._handle
        if not handle:
            raise FlagstaffError("the engine was closed")
        buffer = _buffer()
        n = function(handle, *arguments, buffer, len(buffer))
        if n < 0:
            buffer = _buffer(-n)
            n = function(handle, *arguments, buffer, len(buffer))
            if n < 0:  # cannot happen for an immutable engine; say so rather than loop
                raise FlagstaffError(f"libflagstaff asked for {-n} bytes twice")
        return ctypes.string_at(buffer, n)

    def evaluate_raw(self, key: str, context: Mapping[str, Any] | str | bytes | None = None) -> bytes:
        """The result JSON of one flag, as the library wrote it."""
        data = _context_bytes(context)
        return self._call(self._lib.flagstaff_evaluate, key.encode(), data, len(data) if data else 0)

    def evaluate(self, key: str, context: Mapping[str, Any] | str | bytes | None = None) -> dict[str, Any]:
        """The result of one flag: {"key","value","variant","reason","metadata"} or, on error,
        {"key","errorCode","errorDetails",...}."""
        return json.loads(self.evaluate_raw(key, context))

    def evaluate_all_raw(self, context: Mapping[str, Any] | str | bytes | None = None) -> bytes:
        data = _context_bytes(context)
        return self._call(self._lib.flagstaff_evaluate_all, data, len(data) if data else 0)

    def evaluate_all(self, context: Mapping[str, Any] | str | bytes | None = None) -> list[dict[str, Any]]:
        """Every flag's result, in key order."""
        return json.loads(self.evaluate_all_raw(context))["flags"]
