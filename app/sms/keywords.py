"""Inbound keywords: what a keyword may look like, the words no account may claim, and how the
first word of an inbound text is read.

A keyword is 2-20 ASCII letters and digits, matched ignoring case. Æ, Ø and Å are refused, as the
user's documents refuse them in sender IDs: handsets and carriers transliterate them (Å -> A,
Ø -> O) on the way in, so a keyword spelled with them would not reliably match what arrives.

The reserved words are the opt-out, opt-in and help words that carriers and regulators require
every sender to honour (English and the Nordic variants). ``RESERVED`` maps each to its meaning so
the inbound handler can act on them before any account keyword is looked at.
"""
from __future__ import annotations

import re
import unicodedata

from .errors import SmsError

MIN_LENGTH = 2
MAX_LENGTH = 20

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"

_OPT_OUT_WORDS = ("STOP", "STOPP", "STOPALL", "STOPPA", "SLUTT", "AVSLUTT", "AVMELD", "AFMELD", "UNSUBSCRIBE",
                  "END", "CANCEL", "QUIT", "OPTOUT", "REVOKE")
_OPT_IN_WORDS = ("START", "STARTIGJEN", "UNSTOP", "OPTIN", "SUBSCRIBE")
_HELP_WORDS = ("HELP", "HJELP", "INFO")

# Word (upper case) -> meaning. Every entry is itself a valid keyword spelling, so the check
# "is this keyword reserved" is a plain lookup.
RESERVED: dict[str, str] = {
    **{word: OPT_OUT for word in _OPT_OUT_WORDS},
    **{word: OPT_IN for word in _OPT_IN_WORDS},
    **{word: HELP for word in _HELP_WORDS},
}
# Two-word forms people type; their single-word spellings are in RESERVED.
RESERVED_PHRASES: dict[tuple[str, str], str] = {
    ("START", "IGJEN"): OPT_IN,
    ("OPT", "OUT"): OPT_OUT,
    ("OPT", "IN"): OPT_IN,
    ("STOP", "ALL"): OPT_OUT,
}

_KEYWORD = re.compile(r"[A-Za-z0-9]+")
_NORDIC = set("ÆØÅæøå")


class InvalidKeyword(SmsError):
    """A keyword breaks the spelling rules."""

    code = "invalid_keyword"


class ReservedKeyword(SmsError):
    """A keyword is one of the opt-out, opt-in or help words."""

    code = "reserved_keyword"


def keyword_key(word: str) -> str:
    """The form keywords are compared and stored unique in: case-folded."""
    return word.casefold()


def parse_keyword(raw: object) -> str:
    """The keyword as written (surrounding spaces removed), or InvalidKeyword / ReservedKeyword."""
    if not isinstance(raw, str):
        raise InvalidKeyword("keyword must be a string")
    word = raw.strip()
    if not word:
        raise InvalidKeyword("keyword is required")
    if _NORDIC & set(word):
        raise InvalidKeyword(f"keyword '{word[:40]}' contains Æ, Ø or Å: use A-Z and 0-9 only "
                             "(handsets and carriers often replace these letters)")
    if not _KEYWORD.fullmatch(word):
        raise InvalidKeyword(f"keyword '{word[:40]}' may contain only the letters A-Z and the digits 0-9 "
                             "(no spaces or punctuation)")
    if not MIN_LENGTH <= len(word) <= MAX_LENGTH:
        raise InvalidKeyword(f"keyword must be {MIN_LENGTH} to {MAX_LENGTH} characters, not {len(word)}")
    meaning = reserved_meaning(word)
    if meaning is not None:
        raise ReservedKeyword(f"'{word}' is reserved: it is {_LABELS[meaning]} word that every sender "
                              "must honour, so it cannot be used as a keyword")
    return word


_LABELS = {OPT_OUT: "an opt-out (unsubscribe)", OPT_IN: "an opt-in (resubscribe)", HELP: "a help"}


def reserved_meaning(word: str) -> str | None:
    """opt_out / opt_in / help for a reserved word (any case), else None."""
    return RESERVED.get(word.upper())


def words(text: str, limit: int = 2) -> list[str]:
    """The first ``limit`` words of an inbound text: runs of letters and digits, anything else
    (spaces, punctuation, emoji) separating them. NFKC first, so full-width letters count."""
    found: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFKC", text or ""):
        if char.isalnum():
            current.append(char)
            continue
        if current:
            found.append("".join(current))
            current = []
            if len(found) == limit:
                return found
    if current:
        found.append("".join(current))
    return found[:limit]


def first_word(text: str) -> str | None:
    """The first word of an inbound text as written ("  stopp!" -> "stopp"), or None."""
    found = words(text, 1)
    return found[0] if found else None


def text_meaning(text: str) -> str | None:
    """What an inbound text means if it starts with a reserved word or phrase ("Start igjen",
    "stop.", "OPT OUT please"), else None."""
    found = [w.upper() for w in words(text, 2)]
    if len(found) == 2 and tuple(found) in RESERVED_PHRASES:
        return RESERVED_PHRASES[tuple(found)]
    return reserved_meaning(found[0]) if found else None


def matches(keyword: str, text: str) -> bool:
    """True if the inbound text's first word is this keyword, ignoring case."""
    word = first_word(text)
    return word is not None and keyword_key(word) == keyword_key(keyword)
