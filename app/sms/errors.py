"""Exceptions raised by the SMS core.

Every error carries a stable machine-readable ``code`` (for API clients and
tests to branch on) and a human-readable ``message`` that is shown to API
clients verbatim, so messages must name the offending value and the rule.

All of them subclass ``ValueError`` because they describe bad input; callers
that only care about "the input was rejected" can catch ``ValueError``.
"""

from __future__ import annotations


class SmsError(ValueError):
    """Base class: bad input to the SMS core."""

    code: str = "sms_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidNumber(SmsError):
    """A recipient phone number could not be normalised to a valid E.164 number."""

    code = "invalid_number"


class InvalidMessage(SmsError):
    """The message text is missing, empty or too long."""

    code = "invalid_message"


class ScheduleError(SmsError):
    """A scheduled send time is malformed, non-existent or out of range."""

    code = "invalid_schedule"


class InvalidTimezone(ScheduleError):
    """A time zone name is not a known IANA zone."""

    code = "invalid_timezone"


class InvalidSenderId(SmsError):
    """A sender ID breaks the alphanumeric/numeric sender rules."""

    code = "invalid_sender_id"


class UnknownCurrency(SmsError):
    """A currency code is not one we price SMS in."""

    code = "unknown_currency"
