"""Request bodies of ``/v1/contacts``, validated with pydantic (types and shapes only; the rules
about values — names, numbers, tags — live in the services so the dashboard applies them too).

Liberal in what they accept: unknown fields are ignored, ``contact_type`` is an alias of
``type``, ``tags`` and ``contact_ids`` may be one string (tags: comma-separated) or a list.
"""
from __future__ import annotations

from pydantic import Field, StrictStr, field_validator, model_validator

from app.api.schemas import Body

MAX_LIST = 10_000  # a bound on work per request; the services apply the real limits


class ContactBody(Body):
    type: StrictStr | None = Field(None, description="person or company (default person)")
    contact_type: StrictStr | None = Field(None, description="Alias of type")
    name: StrictStr | None = Field(None, description="Required unless first_name/last_name (or, for a "
                                                     "company, company_name) are given")
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None
    company_name: StrictStr | None = None
    phone_number: StrictStr | None = Field(None, description="E.164; national numbers are read in the "
                                                             "account's region")
    email: StrictStr | None = None
    tags: list[StrictStr] | None = Field(None, max_length=MAX_LIST)
    notes: StrictStr | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def comma_list(cls, value):
        return value.split(",") if isinstance(value, str) else value

    @model_validator(mode="after")
    def one_type(self):
        if self.type is not None and self.contact_type is not None and \
                self.type.strip().lower() != self.contact_type.strip().lower():
            raise ValueError(f"type '{self.type}' and contact_type '{self.contact_type}' disagree; send one of them")
        return self

    def values(self) -> dict:
        """The fields the client sent (explicit nulls included), ``contact_type`` folded into ``type``."""
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        alias = sent.pop("contact_type", None)
        if "contact_type" in self.model_fields_set and sent.get("type") is None:
            sent["type"] = alias
        return sent


class GroupBody(Body):
    name: StrictStr | None = Field(None, description="Required on create and PUT; unique per account, "
                                                     "ignoring case")
    description: StrictStr | None = None

    def values(self) -> dict:
        return {name: getattr(self, name) for name in self.model_fields_set}


class MembersBody(Body):
    contact_ids: list[StrictStr] = Field(max_length=MAX_LIST, description="Ids of the account's contacts")

    @field_validator("contact_ids", mode="before")
    @classmethod
    def one_or_many(cls, value):
        return [value] if isinstance(value, str) else value
