"""Flagstaff's Python SDK: local flag evaluation with libflagstaff, kept current by the
service's stream, and an OpenFeature provider (flagstaff.provider.FlagstaffProvider)."""

__version__ = "0.1.0"

from ._details import ErrorCode, EvaluationDetails, Reason  # noqa: E402
from ._native import Engine, FlagstaffError, LibraryNotFoundError, SnapshotError, load_library  # noqa: E402
from .client import ClientEvent, FlagstaffClient, State  # noqa: E402

__all__ = [
    "ClientEvent", "Engine", "ErrorCode", "EvaluationDetails", "FlagstaffClient", "FlagstaffError",
    "LibraryNotFoundError", "Reason", "SnapshotError", "State", "load_library", "__version__",
]


def __getattr__(name: str):
    # The provider needs openfeature-sdk; import it only when asked for.
    if name == "FlagstaffProvider":
        from .provider import FlagstaffProvider
        return FlagstaffProvider
    raise AttributeError(name)
