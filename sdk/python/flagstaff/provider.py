"""FlagstaffProvider: OpenFeature's Python SDK evaluating locally with libflagstaff.

    from openfeature import api
    from flagstaff.provider import FlagstaffProvider
    api.set_provider(FlagstaffProvider("http://flagstaff:8080", "fsk_…"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode as OFErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, Reason as OFReason
from openfeature.provider import AbstractProvider, Metadata

from ._details import EvaluationDetails, Reason
from .client import ClientEvent, FlagstaffClient, State

__all__ = ["FlagstaffProvider"]

_REASONS = {
    Reason.STATIC: OFReason.STATIC,
    Reason.DEFAULT: OFReason.DEFAULT,
    Reason.TARGETING_MATCH: OFReason.TARGETING_MATCH,
    Reason.SPLIT: OFReason.SPLIT,
    Reason.DISABLED: OFReason.DISABLED,
    Reason.PREREQUISITE_FAILED: OFReason.DISABLED,
    Reason.ERROR: OFReason.ERROR,
}
_ERRORS = {code.value: code for code in OFErrorCode}


def _context(evaluation_context: EvaluationContext | None) -> dict[str, Any] | None:
    """OpenFeature's context as Flagstaff's: the targeting key becomes `targetingKey`, and
    datetimes become RFC 3339 strings (the engine's `before`/`after` read those)."""
    if evaluation_context is None:
        return None
    attributes = evaluation_context.attributes
    if evaluation_context.targeting_key is None:
        return dict(attributes) if attributes else None
    context = dict(attributes) if attributes else {}
    context["targetingKey"] = evaluation_context.targeting_key
    return context


class FlagstaffProvider(AbstractProvider):
    """Takes a FlagstaffClient (`client=`) or the client's own arguments
    (`FlagstaffProvider(url, key, ...)`, `FlagstaffProvider(offline=PATH)`)."""

    def __init__(self, *args: Any, client: FlagstaffClient | None = None, ready_timeout: float = 10.0, **kwargs: Any):
        super().__init__()
        self._ready_timeout = ready_timeout
        self._owns_client = client is None
        if client is None:
            kwargs.setdefault("wait", False)  # initialize() waits, on OpenFeature's thread
            client = FlagstaffClient(*args, **kwargs)
        self.client = client
        client.add_listener(self._on_client_event)

    # MARK: life cycle and events

    def get_metadata(self) -> Metadata:
        return Metadata(name="flagstaff")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        state = self.client.wait_until_ready(self._ready_timeout)
        if state is State.NOT_READY or state is State.ERROR:
            # OpenFeature turns this into PROVIDER_ERROR; the client keeps trying and a
            # later snapshot makes the provider READY.
            raise ProviderNotReadyError(f"no snapshot from Flagstaff yet ({self.client.last_error or 'timed out'})")

    def shutdown(self) -> None:
        self.client.remove_listener(self._on_client_event)
        if self._owns_client:
            self.client.close()

    def _on_client_event(self, event: ClientEvent) -> None:
        metadata = {k: v for k, v in (("revision", event.revision), ("version", event.version)) if v is not None}
        if event.type == "snapshot":
            if event.changed and self.client.state is not State.NOT_READY:
                self.emit_provider_configuration_changed(
                    ProviderEventDetails(flags_changed=list(event.changed), metadata=metadata))
        elif event.state is State.READY:
            self.emit_provider_ready(ProviderEventDetails(metadata=metadata))
        elif event.state is State.STALE:
            self.emit_provider_stale(ProviderEventDetails(message=event.message, metadata=metadata))
        elif event.state is State.ERROR:
            self.emit_provider_error(ProviderEventDetails(message=event.message, error_code=OFErrorCode.GENERAL))

    def track(self, tracking_event_name: str, evaluation_context: EvaluationContext | None = None,
              tracking_event_details: Any = None) -> None:
        value = getattr(tracking_event_details, "value", None)
        attributes = getattr(tracking_event_details, "attributes", None)
        self.client.track(tracking_event_name, _context(evaluation_context), value, attributes)

    # MARK: resolution

    @staticmethod
    def _resolution(details: EvaluationDetails[Any], value: Any = None) -> FlagResolutionDetails[Any]:
        metadata: dict[str, Any] = {}
        if details.version is not None:
            metadata["version"] = details.version
        if details.rule_index is not None:
            metadata["ruleIndex"] = details.rule_index
        if details.rule_name is not None:
            metadata["ruleName"] = details.rule_name
        if details.native_reason is not None:
            metadata["reason"] = details.native_reason  # Flagstaff's own, e.g. PREREQUISITE_FAILED
        code = details.error_code
        return FlagResolutionDetails(
            value=details.value if value is None else value,
            error_code=_ERRORS.get(code, OFErrorCode.GENERAL) if code else None,
            error_message=details.error_message,
            reason=_REASONS.get(details.reason, details.reason) if details.reason else None,
            variant=details.variant,
            flag_metadata=metadata,
        )

    @staticmethod
    def _mismatch(details: EvaluationDetails[Any], default: Any, message: str) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(value=default, error_code=OFErrorCode.TYPE_MISMATCH, error_message=message,
                                     reason=OFReason.ERROR,
                                     flag_metadata={"version": details.version} if details.version else {})

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[bool]:
        return self._resolution(self.client.bool_details(flag_key, default_value, _context(evaluation_context)))

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[str]:
        return self._resolution(self.client.string_details(flag_key, default_value, _context(evaluation_context)))

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[int]:
        details = self.client.number_details(flag_key, default_value, _context(evaluation_context))
        if details.error_code is None and not isinstance(details.value, int):
            return self._mismatch(details, default_value, f"flag {flag_key!r} serves {details.value!r}, not an integer")
        return self._resolution(details)

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[float]:
        details = self.client.number_details(flag_key, default_value, _context(evaluation_context))
        if details.error_code is None:
            return self._resolution(details, float(details.value))
        return self._resolution(details)

    def resolve_object_details(self, flag_key: str, default_value: Sequence[Any] | Mapping[str, Any],
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        details = self.client.json_details(flag_key, default_value, _context(evaluation_context))
        if details.error_code is None and not isinstance(details.value, (dict, list)):
            return self._mismatch(details, default_value, f"flag {flag_key!r} serves {details.value!r}, not an object")
        return self._resolution(details)
