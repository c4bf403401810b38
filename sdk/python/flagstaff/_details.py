"""What a typed getter answers, and how an engine result becomes one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["ErrorCode", "EvaluationDetails", "Reason", "from_result"]

T = TypeVar("T")


class Reason:
    """Reasons a result carries. The engine's own PREREQUISITE_FAILED reaches callers as
    DISABLED (what OpenFeature accepts), with the native reason in `native_reason`."""

    STATIC = "STATIC"
    DEFAULT = "DEFAULT"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DISABLED = "DISABLED"
    PREREQUISITE_FAILED = "PREREQUISITE_FAILED"
    ERROR = "ERROR"


class ErrorCode:
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    PARSE_ERROR = "PARSE_ERROR"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    GENERAL = "GENERAL"
    PROVIDER_NOT_READY = "PROVIDER_NOT_READY"


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a microsecond more per evaluation
class EvaluationDetails(Generic[T]):
    """One evaluation. On error `value` is the caller's default and `error_code` says why."""

    key: str
    value: T
    variant: str | None = None
    reason: str | None = None
    rule_index: int | None = None
    rule_name: str | None = None
    version: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    native_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


# The flag types each getter accepts, by the snapshot's declared type.
_TYPE_OF_GETTER = {"bool": "boolean", "string": "string", "number": "number", "json": "json"}


def _mapped_reason(reason: str | None) -> str | None:
    return Reason.DISABLED if reason == Reason.PREREQUISITE_FAILED else reason


def error_details(key: str, default: T, code: str, message: str, version: str | None = None) -> EvaluationDetails[T]:
    return EvaluationDetails(key=key, value=default, reason=Reason.ERROR, version=version,
                             error_code=code, error_message=message)


def from_result(result: dict[str, Any], default: T, expected: str | None, declared: str | None) -> EvaluationDetails[T]:
    """A typed answer from an engine result. `expected` is the getter's flag type (None: any),
    `declared` the flag's type in the snapshot."""
    key = result.get("key", "")
    metadata = result.get("metadata") or {}
    version = metadata.get("version")
    code = result.get("errorCode")
    if code is not None:
        return EvaluationDetails(key=key, value=default, reason=Reason.ERROR, version=version, error_code=code,
                                 error_message=result.get("errorDetails"), metadata=metadata)
    if expected is not None and declared is not None and declared != expected:
        return EvaluationDetails(key=key, value=default, reason=Reason.ERROR, version=version,
                                 error_code=ErrorCode.TYPE_MISMATCH,
                                 error_message=f"flag {key!r} is of type {declared}, not {expected}",
                                 metadata=metadata)
    native = metadata.get("reason") or result.get("reason")
    return EvaluationDetails(
        key=key, value=result.get("value"), variant=result.get("variant"), reason=_mapped_reason(result.get("reason")),
        rule_index=metadata.get("ruleIndex"), rule_name=metadata.get("ruleName"), version=version,
        native_reason=native, metadata=metadata)
