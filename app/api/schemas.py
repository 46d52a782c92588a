"""Request bodies of the API, validated with pydantic (which also feeds the OpenAPI document).

Liberal in what they accept: unknown fields are ignored, ``to`` may be one string or a list.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator

from app.text import text_problem

MAX_TO_ENTRIES = 10_000  # a bound on work per request; the recipient limit is checked after expansion


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def storable_text(cls, value):
        # Refused here, with the field's name, rather than failing at the database with a 500.
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str) and (problem := text_problem(text)):
                raise ValueError(problem)
        return value


class SendBody(Body):
    to: list[StrictStr] = Field(default_factory=list, max_length=MAX_TO_ENTRIES,
                                description="E.164 numbers; a single string is accepted too")
    to_contacts: list[StrictStr] = Field(default_factory=list)
    to_groups: list[StrictStr] = Field(default_factory=list)
    message: StrictStr
    sender_profile_id: StrictStr | None = None
    sender_id: StrictStr | None = Field(None, description="Selects the approved profile with this sender id")
    allow_reply: StrictBool | None = None
    customer_ref: StrictStr | None = None
    callback_url: StrictStr | None = None
    scheduled_at: StrictStr | None = Field(None, description="ISO 8601; naive times are read in `timezone`")
    timezone: StrictStr | None = Field(None, description="IANA zone, e.g. Europe/Oslo")

    @field_validator("to", "to_contacts", "to_groups", mode="before")
    @classmethod
    def one_or_many(cls, value):
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("scheduled_at", "timezone", mode="before")
    @classmethod
    def blank_is_unset(cls, value):
        # Form-backed clients send "" for a field the user left empty: that means "send now".
        return None if isinstance(value, str) and not value.strip() else value


class EstimateBody(Body):
    message: StrictStr
    recipients: int = Field(1, ge=1, le=1_000_000, description="How many recipients to price for")
    to: list[StrictStr] = Field(default_factory=list, description="If given, its length is the recipient count")

    @field_validator("to", mode="before")
    @classmethod
    def one_or_many(cls, value):
        return SendBody.one_or_many(value)

    @field_validator("recipients", mode="before")
    @classmethod
    def not_a_bool(cls, value):
        # pydantic reads true as 1; a boolean recipient count is a client bug worth reporting.
        if isinstance(value, bool):
            raise ValueError("recipients must be a whole number")
        return value


class SenderProfileBody(Body):
    name: StrictStr
    sender_id: StrictStr
    allow_reply: StrictBool = False
    is_default: StrictBool = False
    brand_confirmation: StrictBool = False

    @field_validator("allow_reply", "is_default", "brand_confirmation", mode="before")
    @classmethod
    def null_is_unset(cls, value):
        # Terraform and other generated clients send null for optional attributes left unset.
        return False if value is None else value
