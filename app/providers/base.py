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


class Provider(Protocol):
    code: str

    def send(self, batch: list[Outbound]) -> list[SendResult]:
        """Submit a batch; one result per message, in any order. Raises only when the whole batch
        could not be submitted (then every message stays SENDING and is reconciled later)."""

    def query(self, references: list[str]) -> dict[str, SendResult]:
        """Optional: what the provider knows of these references (our message ids), keyed by
        reference; a reference it never received is absent. Asked for rows stuck in SENDING."""
