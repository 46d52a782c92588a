"""Merge fields: personalising one message text for each recipient.

A field is written ``{first_name}``; ``{first_name|there}`` gives the text used when the contact
has no value for it. The fallback travels inside the text, so the same template means the same
thing in the dashboard, the API and a resend. A brace that does not open a known field is plain
text; a field name that looks like one but is unknown is an error, because a typo such as
``{firstname}`` would otherwise reach every recipient verbatim.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

from .errors import InvalidMessage

FIELDS: tuple[str, ...] = ("first_name", "last_name", "name", "company_name")

# A field: a lower-case identifier, optionally "|" and a fallback without braces.
_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)(?:\|([^{}\n]*))?\}", re.ASCII)


@dataclass(frozen=True)
class Template:
    """A parsed text: literal pieces and ``(field, fallback)`` pairs, in order."""

    text: str
    pieces: tuple[str | tuple[str, str], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields used, each once, in order of first use."""
        return tuple(dict.fromkeys(p[0] for p in self.pieces if isinstance(p, tuple)))

    @cached_property  # asked once per recipient when rendering
    def is_personal(self) -> bool:
        return any(isinstance(p, tuple) for p in self.pieces)

    def render(self, values: Mapping[str, str | None]) -> str:
        """The text for one recipient: each field's value, its fallback when the value is empty."""
        if not self.is_personal:
            return self.text
        return "".join(
            piece if isinstance(piece, str) else ((values.get(piece[0]) or "").strip() or piece[1])
            for piece in self.pieces
        )


def parse_template(text: str) -> Template:
    """Split ``text`` into literals and fields, refusing unknown field names."""
    pieces: list[str | tuple[str, str]] = []
    position = 0
    for match in _FIELD.finditer(text):
        name, fallback = match[1], match[2] or ""
        if name not in FIELDS:
            known = ", ".join("{" + f + "}" for f in FIELDS)
            raise InvalidMessage(f"Unknown merge field {{{name}}}; the fields are {known}",
                                 code="unknown_merge_field")
        if match.start() > position:
            pieces.append(text[position:match.start()])
        pieces.append((name, fallback))
        position = match.end()
    if position < len(text):
        pieces.append(text[position:])
    return Template(text, tuple(pieces))
