"""The contact directory: contacts, groups of them, and the numbers that must never be messaged.

Tenancy: every row carries ``account_id``. Group membership joins a group and a contact of the
same account; the services check that before inserting, because a foreign key alone cannot.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column, utcnow

CONTACT_TYPES = ("person", "company")
OPTOUT_SOURCES = ("api", "dashboard", "sms", "import")
ANONYMISED_NAME = "Anonymised"


SEARCHED_FIELDS = ("name", "first_name", "last_name", "company_name", "email", "phone_number")


def search_text_of(values: dict) -> str:
    return "\n".join(str(values[f]).casefold() for f in SEARCHED_FIELDS if values.get(f))


def tag_keys_of(tags: list[str] | None) -> str:
    """The JSON list of case-folded tags. A tag filter looks for ``json.dumps(tag.casefold())``
    inside it: the quotes make it match whole tags only, and escaping inside JSON strings means a
    quote in one tag can never close another."""
    return json.dumps([t.casefold() for t in tags or []])


def _search_default(context) -> str:
    return search_text_of(context.get_current_parameters())


def _tag_keys_default(context) -> str:
    return tag_keys_of(context.get_current_parameters().get("tags"))


group_members = Table(
    "contact_group_members",
    db.metadata,
    Column("group_id", ForeignKey("contact_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("added_at", UTCDateTime, nullable=False, default=utcnow),
)


class Contact(db.Model):
    """A person or company an account sends to.

    ``phone_number`` is E.164 and unique per account (NULLs do not collide), so one number is
    one contact. ``tags`` is kept as the client wrote it; ``search_text`` and ``tag_keys`` are
    case-folded copies of them, so search and tag filters are case-insensitive
    for every alphabet on every database (SQLite's ``lower()`` only folds ASCII).

    Both keys are column defaults computed from the row's own values, so a Core bulk insert (an
    import) fills them too; ORM updates refresh them in ``before_update``. A Core bulk UPDATE of
    these fields must set them itself (``search_text_of``/``tag_keys_of``).

    A GDPR erasure (:meth:`anonymise`) keeps the row and its id, so anything that refers to it
    stays consistent, but nothing that identifies the person.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "phone_number", name="uq_contacts_account_id_phone_number"),
        Index("ix_contacts_account_name", "account_id", "name"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), default="person")
    name: Mapped[str] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    company_name: Mapped[str | None] = mapped_column(String(200))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    tags: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, default=_search_default)
    tag_keys: Mapped[str] = mapped_column(Text, default=_tag_keys_default)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def anonymise(self) -> None:
        self.name = ANONYMISED_NAME
        self.first_name = self.last_name = self.company_name = None
        self.phone_number = self.email = self.notes = None
        self.tags = []
        self.anonymised_at = self.anonymised_at or utcnow()

    def refresh_keys(self) -> None:
        self.search_text = search_text_of({f: getattr(self, f) for f in SEARCHED_FIELDS})
        self.tag_keys = tag_keys_of(self.tags)


@event.listens_for(Contact, "before_update")
def _keep_keys(_mapper, _connection, contact: Contact) -> None:
    contact.refresh_keys()


class Group(db.Model):
    """A named set of contacts. Names are unique per account ignoring case (``name_key``)."""

    __tablename__ = "contact_groups"
    __table_args__ = (UniqueConstraint("account_id", "name_key", name="uq_contact_groups_account_id_name_key"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(400))  # casefold may lengthen a name
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    @staticmethod
    def key(name: str) -> str:
        return name.strip().casefold()

    @validates("name")
    def _set_key(self, _field: str, name: str) -> str:
        self.name_key = self.key(name)
        return name


class OptOut(db.Model):
    """A number the account must not message (STOP reply, request, import). One row per number."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("account_id", "number", name="uq_opt_outs_account_id_number"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[datetime] = created_column()
