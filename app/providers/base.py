"""The one small interface every carrier gateway implements."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Outbound:
    """One message handed to a provider. ``reference`` is our message id: the provider uses it to
    de-duplicate a re-submission after a crash."""

    reference: str
    to: str
    sender: str | None
    body: str


@dataclass(frozen=True)
class SendResult:
    """The provider's answer for one message: accepted (``provider_message_id``) or rejected."""

    reference: str
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.provider_message_id is not None


@dataclass(frozen=True)
class Report:
    """A delivery report: the final fate of a message the provider accepted."""

    status: str  # DELIVERED or FAILED
    reference: str | None = None
    provider_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Inbound:
    """A text a person sent to one of our numbers, as the provider's inbound callback reports it.
    ``received_at`` is the provider's time, when it gives one (informational: we stamp our own)."""

    from_number: str
    to_number: str
    body: str
    provider_message_id: str
    received_at: datetime | None = None


class CallbackError(ValueError):
    """A provider callback we cannot read; ``problems`` lists what is wrong as
    ``{"loc", "msg", "type"}`` entries (the API's field-error shape), for a 422."""

    def __init__(self, problems: list[dict]):
        super().__init__("; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems))
        self.problems = problems


class Provider(Protocol):
    code: str

    def send(self, batch: list[Outbound]) -> list[SendResult]:
        """Submit a batch; one result per message whose fate is known, in any order. A message
        left out (its request got no answer, so the provider may or may not have it) stays SENDING
        and is reconciled later; so does the whole batch when this raises."""

    def query(self, references: list[str]) -> dict[str, SendResult]:
        """Optional: what the provider knows of these references (our message ids), keyed by
        reference; a reference it never received is absent. Asked for rows stuck in SENDING."""

    # Optional, for providers that call us back (``/v1/providers/<code>/inbound`` and ``/dlr``):
    # ``parse_inbound(payload) -> list[Inbound]`` and ``parse_reports(payload) -> list[Report]``,
    # each raising CallbackError for a payload it cannot read.
