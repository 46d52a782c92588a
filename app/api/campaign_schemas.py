"""Request bodies of ``/v1/campaigns``, validated with pydantic (types and shapes only; the rules
about values — groups, merge fields, windows, zones, schedules — live in ``services.campaigns`` so
the dashboard applies them too).

The send window has one shape, ``send_window: {"start": "HH:MM", "end": "HH:MM"}`` (or null for
"any time"), so setting or clearing it is one field in a PATCH, never half of two.
"""
from __future__ import annotations

from decimal import Decimal

from pydantic import Field, StrictInt, StrictStr, field_validator, model_validator

from app.api.schemas import Body
from app.sms.budget import parse_amount

MAX_GROUPS = 1_000  # a bound on work per request; unknown ids are refused by the service
MESSAGE_DOC = ("Message text, at most 1600 characters, with optional merge fields {first_name}, {last_name}, "
               "{name}, {company_name}, each with an optional fallback ({first_name|there}); any other {field} "
               "is 422 unknown_merge_field")


def _no_default(schema: dict) -> None:
    # The default (None) of a not-nullable field only means "not sent"; documented, it would read
    # as a value the field may take.
    schema.pop("default", None)


SPEND_CAP_DOC = ("The most this campaign may release to the carrier, in the account currency (at most two "
                 "decimals); when the next slice would pass it the campaign is PAUSED with a note saying so. "
                 "null or absent: no cap. May be changed (e.g. raised, then resume) until the campaign is over")


def _amount_schema(schema: dict) -> None:
    schema.clear()
    schema.update({"type": ["number", "null"], "minimum": 0, "description": SPEND_CAP_DOC})


class SendWindow(Body):
    """The local times of day (in the campaign's time zone) during which the campaign may send.
    An end before the start runs over midnight (20:00-08:00). Unknown fields are ignored."""

    start: StrictStr = Field(description="Opening time, HH:MM on a 24-hour clock", examples=["09:00"])
    end: StrictStr = Field(description="Closing time, HH:MM on a 24-hour clock (exclusive); must differ from "
                                       "start", examples=["20:00"])


class CampaignChanges(Body):
    """The fields of a campaign draft; in a PATCH only the fields sent change (null clears
    excluded_group_ids, sender_profile_id, timezone and send_window back to their defaults).
    Unknown fields are ignored."""

    # name, message and group_ids may be left out of a PATCH but not cleared: not nullable.
    name: StrictStr = Field(None, description="Campaign name, 1 to 200 characters", json_schema_extra=_no_default)
    message: StrictStr = Field(None, description=MESSAGE_DOC, json_schema_extra=_no_default)
    group_ids: list[StrictStr] = Field(None, max_length=MAX_GROUPS, json_schema_extra=_no_default,
                                       description="Contact groups to send to (at least one); a contact in "
                                                   "several groups gets one message. One id or an array")
    excluded_group_ids: list[StrictStr] | None = Field(None, max_length=MAX_GROUPS,
                                                       description="Contact groups whose members are left out. One "
                                                                   "id or an array")
    sender_profile_id: StrictStr | None = Field(None, description="Sender profile (approved); default: the "
                                                                  "account's default profile")
    timezone: StrictStr | None = Field(None, description="IANA time zone of the send window and of schedule "
                                                         "times (e.g. Europe/Oslo); default: the account's zone")
    send_window: SendWindow | None = Field(None, description="Quiet hours: send only between start and end, "
                                                             "local time; null or absent: any time")
    spend_cap: Decimal | None = Field(None, description=SPEND_CAP_DOC, json_schema_extra=_amount_schema)

    @field_validator("group_ids", "excluded_group_ids", mode="before")
    @classmethod
    def one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("sender_profile_id", "timezone", mode="before")
    @classmethod
    def blank_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("spend_cap", mode="before")
    @classmethod
    def amount(cls, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, type(None))):
            raise ValueError("spend_cap must be a number (or null for no cap)")
        return parse_amount(value)

    def values(self) -> dict:
        """The fields the client sent (explicit nulls included), the window as the service's
        window_start/window_end."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        if "send_window" in sent:
            window = sent.pop("send_window")
            sent["window_start"], sent["window_end"] = (window.start, window.end) if window else (None, None)
        for name in ("group_ids", "excluded_group_ids"):
            if name in sent:
                sent[name] = tuple(sent[name] or ())
        return sent


class CampaignBody(CampaignChanges):
    """A new campaign draft. Unknown fields are ignored."""

    name: StrictStr = Field(description="Required. Campaign name, 1 to 200 characters")
    message: StrictStr = Field(description="Required. " + MESSAGE_DOC)


class DispatchBody(Body):
    """Optional: the recipients and units the client saw in the preview. If given (both), the
    campaign is dispatched only if the audience still has exactly these figures; otherwise 409
    audience_changed. Unknown fields are ignored."""

    expected_recipients: StrictInt | None = Field(None, ge=0, description="Recipients from the preview")
    expected_units: StrictInt | None = Field(None, ge=0, description="Units from the preview")

    @model_validator(mode="after")
    def both_or_neither(self):
        if (self.expected_recipients is None) != (self.expected_units is None):
            raise ValueError("give expected_recipients and expected_units together, or neither")
        return self


class ScheduleBody(DispatchBody):
    """When to send: a local wall time in ``timezone`` (default: the campaign's zone), or an
    absolute time with Z or an offset. Unknown fields are ignored."""

    scheduled_at: StrictStr = Field(description="Required. ISO 8601 date-time, e.g. 2026-05-04T09:00:00 (local "
                                                "wall time in `timezone`) or 2026-05-04T07:00:00Z (absolute); "
                                                "in the future and at most 30 days ahead")
    timezone: StrictStr | None = Field(None, description="IANA zone the wall time is read in; it becomes the "
                                                         "campaign's zone. Default: the campaign's zone")

    @field_validator("timezone", mode="before")
    @classmethod
    def blank_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value
