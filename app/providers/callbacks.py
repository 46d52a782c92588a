"""Reading a provider's callback JSON: every problem collected with its location (the API's
field-error shape), so a carrier's operator sees all of them in one 422. Shared by the providers'
``parse_inbound`` / ``parse_reports``."""
from __future__ import annotations

from datetime import datetime, timezone

from app.providers.base import CallbackError

MAX_INBOUND_CHARACTERS = 10_000  # a long text arrives reassembled; anything longer is not an SMS
MAX_CALLBACK_ITEMS = 1000


def items_of(payload: object, key: str) -> list[tuple[int | None, object]]:
    """The objects of a callback with their position: a list under ``key``, or one bare object."""
    if isinstance(payload, dict) and key in payload:
        listed = payload[key]
        if not isinstance(listed, list) or not listed or len(listed) > MAX_CALLBACK_ITEMS:
            raise CallbackError([{"loc": ["body", key], "type": "list_type",
                                  "msg": f"must be a list of 1 to {MAX_CALLBACK_ITEMS} objects"}])
        return list(enumerate(listed))
    if isinstance(payload, dict):
        return [(None, payload)]
    raise CallbackError([{"loc": ["body"], "msg": "must be a JSON object", "type": "dict_type"}])


def raise_if(problems: list[dict]) -> None:
    if problems:
        raise CallbackError(problems)


class Reader:
    """Reads fields of one callback object, collecting every problem rather than stopping at the
    first, so the provider's operator sees all of them at once."""

    def __init__(self, item: object, loc: list, problems: list[dict]):
        self.item, self.loc, self.problems, self.failed = item, loc, problems, False
        self.required = isinstance(item, dict)  # a non-object has one problem, not one per field
        if not self.required:
            self.item = {}
            self.problem(None, "must be a JSON object", "dict_type")

    def problem(self, name: str | None, msg: str, kind: str) -> None:
        self.failed = True
        self.problems.append({"loc": ["body", *self.loc, *([name] if name else [])], "msg": msg, "type": kind})

    def text(self, names: tuple[str, ...], limit: int, *, required: bool = True, strip: bool = True):
        name = next((n for n in names if self.item.get(n) is not None), names[0])
        value = self.item.get(name)
        if value is None:
            if required and self.required:
                self.problem(name, "Field required", "missing")
            return None
        if not isinstance(value, str) or (strip and not value.strip()):
            self.problem(name, "must be a non-empty string", "string_type")
            return None
        if len(value) > limit:
            self.problem(name, f"may be at most {limit} characters", "string_too_long")
            return None
        return value.strip() if strip else value

    def time(self, name: str) -> datetime | None:
        value = self.item.get(name)
        if value is None:
            return None
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
        except ValueError:
            when = None
        if when is None:
            self.problem(name, "must be an ISO 8601 time", "datetime_parsing")
            return None
        # A time without an offset is read as UTC, the only zone a carrier's clock can be assumed in.
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
