"""GSM 03.38 / UCS-2 detection and exact SMS part counting.

An SMS carries 140 octets of user data. In the GSM 7-bit default alphabet
that is 160 septets; in UCS-2 (really UTF-16 on modern handsets) it is 70
16-bit code units. A concatenated (multi-part) message spends 6 octets of
every part on the UDH header, leaving 153 septets or 67 code units.

Two kinds of characters occupy two units and must never be split across a
part boundary (handsets would show garbage):

* GSM-7 extension characters (``€``, ``{`` ...) are sent as ESC + char;
* characters outside the BMP (most emoji) are a UTF-16 surrogate pair.

Hence the part count is *not* ``ceil(length / 153)``: whenever a two-unit
character would start in the last free unit of a part, that unit is wasted
and the character moves to the next part. We compute this by greedy packing,
but only when two-unit characters exist (otherwise it is plain arithmetic),
and only at part ends. This is on the hot path (every message is counted
for billing), so all per-character work is done in C: precompiled regular
expressions, ``str.replace`` and the UTF-16 codec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from .errors import InvalidMessage

GSM7 = "GSM-7"
UCS2 = "UCS-2"

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67

# The GSM 03.38 default alphabet in code-table order (0x00-0x7F), minus
# 0x1B (ESC), which is the escape to the extension table, not a character.
_GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + char, i.e. costs 2 septets.
_GSM7_EXTENSION_TABLE = "^{}\\[~]|€\f"
_ESC = "\x1b"  # the escape septet; marks the first half of a pair

GSM7_BASIC: frozenset[str] = frozenset(_GSM7_BASIC_TABLE)
GSM7_EXTENSION: frozenset[str] = frozenset(_GSM7_EXTENSION_TABLE)
_GSM7_ALL: frozenset[str] = GSM7_BASIC | GSM7_EXTENSION

_NOT_BASIC = re.compile("[^" + re.escape(_GSM7_BASIC_TABLE) + "]")
_NOT_GSM7 = re.compile("[^" + re.escape(_GSM7_BASIC_TABLE + _GSM7_EXTENSION_TABLE) + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

# The public API documentation says "1600 chars (10 parts)", which cannot
# both hold: 1600 GSM-7 septets need 11 parts (10 x 153 = 1530) and 1600
# UCS-2 units need 24. We enforce the documented *character* limit (code
# points: what users see and what clients already check) and bill the true
# part count, instead of rejecting messages the docs promise to accept.
MAX_CHARACTERS = 1600


@dataclass(frozen=True)
class Segments:
    """How a text is encoded and split into SMS parts.

    ``length`` is in encoding units: septets for GSM-7, UTF-16 code units
    for UCS-2. ``per_part`` is the limit that applies (single-part limit
    when ``parts <= 1``). ``remaining`` is the number of units still free in
    the last part; for empty text (0 parts) it is the full single-part limit.
    """

    encoding: str
    characters: int
    length: int
    parts: int
    per_part: int
    remaining: int
    ucs2_characters: tuple[str, ...] = ()


def count_segments(text: str) -> Segments:
    """Classify ``text`` as GSM-7 or UCS-2 and count its SMS parts exactly."""
    first_non_basic = _NOT_BASIC.search(text)
    if first_non_basic is None:
        return _result(GSM7, len(text), len(text), GSM7_SINGLE, GSM7_MULTI)
    if _NOT_GSM7.search(text, first_non_basic.start()) is None:
        return _gsm7_extended(text)
    return _ucs2(text, tuple(c for c in dict.fromkeys(text) if c not in _GSM7_ALL))


def basic_gsm7_parts(text: str) -> int | None:
    """The parts of a text made only of basic GSM-7 characters (one septet each), or None for any
    other text: what ``count_segments`` finds, without building its result. For counting many
    personal texts (a campaign's), most of which are such text."""
    if _NOT_BASIC.search(text) is not None:
        return None
    length = len(text)
    if length <= GSM7_SINGLE:
        return 1 if length else 0
    return -(-length // GSM7_MULTI)


def _result(
    encoding: str,
    characters: int,
    length: int,
    single: int,
    multi: int,
    forcing: tuple[str, ...] = (),
    wasted: int = 0,
) -> Segments:
    """Build the result from the unit count (plus units wasted at part ends)."""
    if length <= single:
        parts = 1 if length else 0
        return Segments(encoding, characters, length, parts, single, single - length, forcing)
    parts = -(-(length + wasted) // multi)
    remaining = parts * multi - length - wasted
    return Segments(encoding, characters, length, parts, multi, remaining, forcing)


def _gsm7_extended(text: str) -> Segments:
    """GSM-7 text with extension characters (two septets each).

    Spelling out the escapes gives the real septet stream, in which a pair
    starts wherever there is an ESC. ``str.replace`` runs in C, so this is
    far cheaper than walking the characters in Python.
    """
    septets = text
    for char in _GSM7_EXTENSION_TABLE:
        septets = septets.replace(char, _ESC + char)
    length = len(septets)
    if length <= GSM7_SINGLE:
        return _result(GSM7, len(text), length, GSM7_SINGLE, GSM7_MULTI)
    wasted = _wasted_units(lambda unit: septets[unit] == _ESC, length, GSM7_MULTI)
    return _result(GSM7, len(text), length, GSM7_SINGLE, GSM7_MULTI, (), wasted)


def _ucs2(text: str, forcing: tuple[str, ...]) -> Segments:
    """UCS-2 text; characters outside the BMP take two UTF-16 units.

    Without them every character is one unit and nothing can straddle.
    Otherwise the UTF-16 encoding is the real unit stream, in which a pair
    starts wherever there is a high surrogate (0xD800-0xDBFF).
    """
    if _ASTRAL.search(text) is None:
        return _result(UCS2, len(text), len(text), UCS2_SINGLE, UCS2_MULTI, forcing)
    # surrogatepass: a lone surrogate in the str must not crash counting.
    data = text.encode("utf-16-le", "surrogatepass")
    length = len(data) // 2
    if length <= UCS2_SINGLE:
        return _result(UCS2, len(text), length, UCS2_SINGLE, UCS2_MULTI, forcing)
    wasted = _wasted_units(lambda unit: 0xD8 <= data[2 * unit + 1] <= 0xDB, length, UCS2_MULTI)
    return _result(UCS2, len(text), length, UCS2_SINGLE, UCS2_MULTI, forcing, wasted)


def _wasted_units(starts_pair: Callable[[int], bool], length: int, per_part: int) -> int:
    """Units left empty because a two-unit character would straddle parts.

    Greedy packing, checked only at part ends (O(parts), not O(length)):
    if the last unit of a part would be the first half of a pair, that unit
    is left empty and everything after it shifts one unit later. ``end`` is
    the end of the current part in the shifted stream, so the unit that
    would land in its last slot is ``end - 1 - wasted`` in the unshifted one.
    """
    wasted = 0
    end = per_part
    while end < length + wasted:  # there is content beyond this part
        if starts_pair(end - 1 - wasted):
            wasted += 1
        end += per_part
    return wasted


def validate_message(text: object) -> Segments:
    """Reject missing, blank or over-long message text; else count its parts."""
    if not isinstance(text, str):
        raise InvalidMessage(f"Message must be a string, not {type(text).__name__}")
    if not text.strip():
        raise InvalidMessage("Message must not be empty")
    if len(text) > MAX_CHARACTERS:
        raise InvalidMessage(
            f"Message is {len(text)} characters long; the maximum is {MAX_CHARACTERS} characters"
        )
    return count_segments(text)


# Common characters that silently force UCS-2 (usually pasted from word
# processors or phones' "smart punctuation") and that have a GSM-7 lookalike.
# Switching to UCS-2 more than halves the characters per part, so a UI can
# offer these replacements to the user. Letters with accents are left out
# on purpose: replacing them changes spelling, which is the user's call.
_GSM_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark / apostrophe
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
    "\u2032": "'",  # ′ prime
    "\u00b4": "'",  # ´ acute accent
    "`": "'",  # grave accent is not in GSM 03.38
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u201f": '"',  # ‟ double high-reversed-9 quotation mark
    "\u2033": '"',  # ″ double prime
    "\u00ab": '"',  # « left-pointing double angle quotation mark
    "\u00bb": '"',  # » right-pointing double angle quotation mark
    "\u2039": "'",  # ‹ single left-pointing angle quotation mark
    "\u203a": "'",  # › single right-pointing angle quotation mark
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    "\u2026": "...",  # … horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2009": " ",  # thin space
    "\u202f": " ",  # narrow no-break space
    "\t": " ",  # tab is not in GSM 03.38
    "\u2022": "-",  # • bullet
    "\u00d7": "x",  # × multiplication sign
}


def suggest_gsm_replacements(chars: Iterable[str]) -> dict[str, str]:
    """GSM-7 replacements for those of ``chars`` that have one, in input order.

    ``chars`` is typically ``Segments.ucs2_characters``; a plain string works
    too (it is iterated character by character).
    """
    return {c: _GSM_REPLACEMENTS[c] for c in chars if c in _GSM_REPLACEMENTS}
