"""GSM-7 / UCS-2 detection and exact part counting.

Expected values are derived from the rules (160/153 septets, 70/67 UTF-16
units, two-unit characters never split across parts), and cross-checked
against a deliberately naive character-by-character reference packer.
"""

from __future__ import annotations

import pytest

from app.sms.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_CHARACTERS,
    Segments,
    _GSM_REPLACEMENTS,
    count_segments,
    suggest_gsm_replacements,
    validate_message,
)
from app.sms.errors import InvalidMessage

EURO = "\u20ac"  # GSM-7 extension: 2 septets
EMOJI = "\U0001f600"  # outside the BMP: a surrogate pair, 2 UTF-16 units
CYR = "\u0436"  # ж: forces UCS-2, 1 unit


def reference_segments(text: str) -> tuple[str, int, int]:
    """Naive reference: (encoding, units, parts) by packing one char at a time."""
    gsm = all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)
    if gsm:
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, multi = 160, 153
    else:
        costs = [len(c.encode("utf-16-le")) // 2 for c in text]
        single, multi = 70, 67
    units = sum(costs)
    if units == 0:
        return ("GSM-7" if gsm else "UCS-2"), 0, 0
    if units <= single:
        return ("GSM-7" if gsm else "UCS-2"), units, 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return ("GSM-7" if gsm else "UCS-2"), units, parts


# --- the alphabet ---------------------------------------------------------


def test_basic_alphabet_has_127_printable_characters_and_no_escape() -> None:
    assert len(GSM7_BASIC) == 127
    assert "\x1b" not in GSM7_BASIC


def test_extension_table_is_exactly_the_ten_escaped_characters() -> None:
    assert GSM7_EXTENSION == frozenset("^{}\\[~]|\u20ac\f")
    assert GSM7_BASIC.isdisjoint(GSM7_EXTENSION)


@pytest.mark.parametrize(
    "char",
    list("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà")
    + ["0", "9", "A", "Z", "a", "z"],
    ids=repr,
)
def test_basic_character_costs_one_septet(char: str) -> None:
    seg = count_segments(char)
    assert (seg.encoding, seg.length, seg.parts) == ("GSM-7", 1, 1)


@pytest.mark.parametrize("char", list("^{}\\[~]|\u20ac\f"), ids=repr)
def test_extension_character_costs_two_septets(char: str) -> None:
    seg = count_segments(char)
    assert (seg.encoding, seg.length, seg.characters) == ("GSM-7", 2, 1)


@pytest.mark.parametrize(
    "char",
    [
        "\u00e7",  # ç: only capital Ç is in the table
        "\u00e1",  # á
        "`",  # backtick is not in GSM 03.38
        "\t",
        "\x1b",  # a literal ESC is not a printable GSM character
        "\u0142",  # ł
        "\u2019",  # ’ curly apostrophe
        "\u00a0",  # no-break space
        CYR,
        "\u4e2d",  # 中
    ],
    ids=repr,
)
def test_non_gsm_character_forces_ucs2(char: str) -> None:
    seg = count_segments("Hello " + char)
    assert seg.encoding == "UCS-2"
    assert seg.ucs2_characters == (char,)


# --- part counting --------------------------------------------------------

# (id, text, encoding, characters, length, parts, per_part, remaining)
SEGMENT_CASES = [
    ("empty", "", "GSM-7", 0, 0, 0, 160, 160),
    ("one-char", "a", "GSM-7", 1, 1, 1, 160, 159),
    ("gsm-160-single-limit", "a" * 160, "GSM-7", 160, 160, 1, 160, 0),
    ("gsm-161-first-concat", "a" * 161, "GSM-7", 161, 161, 2, 153, 145),
    ("gsm-306-two-full-parts", "a" * 306, "GSM-7", 306, 306, 2, 153, 0),
    ("gsm-307-third-part", "a" * 307, "GSM-7", 307, 307, 3, 153, 152),
    ("gsm-1600-chars-is-11-parts", "a" * 1600, "GSM-7", 1600, 1600, 11, 153, 83),
    ("ext-ends-exactly-at-160", "a" * 158 + EURO, "GSM-7", 159, 160, 1, 160, 0),
    ("ext-pushes-over-160", "a" * 159 + EURO, "GSM-7", 160, 161, 2, 153, 145),
    ("80-euros-fill-single", EURO * 80, "GSM-7", 80, 160, 1, 160, 0),
    ("81-euros-76-per-part", EURO * 81, "GSM-7", 81, 162, 2, 153, 143),
    # 153 is odd: a part holds 76 escape pairs + 1 wasted septet, so 153
    # euros need 3 parts although ceil(306 / 153) == 2.
    ("153-euros-need-3-parts", EURO * 153, "GSM-7", 153, 306, 3, 153, 151),
    ("ext-fits-last-two-septets", "a" * 151 + EURO + "a" * 8, "GSM-7", 160, 161, 2, 153, 145),
    ("ext-straddles-moves-on", "a" * 152 + EURO + "a" * 7, "GSM-7", 160, 161, 2, 153, 144),
    ("ext-straddle-adds-part", "a" * 152 + EURO + "a" * 152, "GSM-7", 305, 306, 3, 153, 152),
    ("ext-no-straddle-two-parts", "a" * 151 + EURO + "a" * 153, "GSM-7", 305, 306, 2, 153, 0),
    ("ucs2-70-single-limit", CYR * 70, "UCS-2", 70, 70, 1, 70, 0),
    ("ucs2-71-first-concat", CYR * 71, "UCS-2", 71, 71, 2, 67, 63),
    ("ucs2-134-two-full-parts", CYR * 134, "UCS-2", 134, 134, 2, 67, 0),
    ("ucs2-135-third-part", CYR * 135, "UCS-2", 135, 135, 3, 67, 66),
    ("ucs2-gsm-ext-costs-one-unit", CYR + EURO * 69, "UCS-2", 70, 70, 1, 70, 0),
    ("emoji-35-fill-single", EMOJI * 35, "UCS-2", 35, 70, 1, 70, 0),
    ("emoji-36-33-per-part", EMOJI * 36, "UCS-2", 36, 72, 2, 67, 61),
    ("emoji-67-need-3-parts", EMOJI * 67, "UCS-2", 67, 134, 3, 67, 65),
    ("emoji-fits-last-two-units", CYR * 65 + EMOJI + CYR * 5, "UCS-2", 71, 72, 2, 67, 62),
    ("emoji-straddles-moves-on", CYR * 66 + EMOJI + CYR * 4, "UCS-2", 71, 72, 2, 67, 61),
    ("emoji-straddle-adds-part", CYR * 66 + EMOJI + CYR * 66, "UCS-2", 133, 134, 3, 67, 66),
    ("one-char-forces-ucs2", "a" * 100 + "\u00e7", "UCS-2", 101, 101, 2, 67, 33),
    ("gsm-with-emoji-is-ucs2", "Hi " + EMOJI, "UCS-2", 4, 5, 1, 70, 65),
]


@pytest.mark.parametrize(
    "text,encoding,characters,length,parts,per_part,remaining",
    [case[1:] for case in SEGMENT_CASES],
    ids=[case[0] for case in SEGMENT_CASES],
)
def test_count_segments(
    text: str, encoding: str, characters: int, length: int, parts: int, per_part: int, remaining: int
) -> None:
    seg = count_segments(text)
    assert (seg.encoding, seg.characters, seg.length, seg.parts, seg.per_part, seg.remaining) == (
        encoding,
        characters,
        length,
        parts,
        per_part,
        remaining,
    )


def _sweep() -> list[tuple[str, str]]:
    """Texts with two-unit characters at every offset around part boundaries."""
    cases = []
    for filler, wide, name in [("a", EURO, "gsm"), (CYR, EMOJI, "ucs2"), ("a", "{", "gsm-brace")]:
        limit = 153 if name.startswith("gsm") else 67
        for offset in range(limit - 3, 2 * limit + 2):
            text = filler * offset + wide + filler * 3 + wide + filler * (limit - 1)
            cases.append((f"{name}-wide-at-{offset}", text))
        for count in range(limit // 2 - 1, limit + 3):
            cases.append((f"{name}-{count}-wide-only", wide * count))
    return cases


SWEEP = _sweep()


@pytest.mark.parametrize("text", [t for _, t in SWEEP], ids=[i for i, _ in SWEEP])
def test_count_segments_matches_naive_packer(text: str) -> None:
    seg = count_segments(text)
    assert (seg.encoding, seg.length, seg.parts) == reference_segments(text)
    # remaining is consistent with parts: never negative, less than a part.
    assert 0 <= seg.remaining < seg.per_part


@pytest.mark.parametrize(
    "text,expected",
    [
        ("plain GSM", ()),
        ("GSM with ext " + EURO + "{}", ()),
        ("Hei \u201cdu\u201d \u2013 ok \u00e7\u201c", ("\u201c", "\u201d", "\u2013", "\u00e7")),
        (EMOJI + CYR + EMOJI + "a", (EMOJI, CYR)),
        (EURO + CYR + "{a}", (CYR,)),
    ],
    ids=["gsm", "gsm-ext", "distinct-first-appearance", "emoji-then-cyrillic", "gsm-ext-not-blamed"],
)
def test_ucs2_characters_lists_distinct_forcing_chars_in_order(text: str, expected: tuple[str, ...]) -> None:
    assert count_segments(text).ucs2_characters == expected


def test_segments_is_frozen() -> None:
    seg = count_segments("hi")
    with pytest.raises(AttributeError):
        seg.parts = 5  # type: ignore[misc]
    assert isinstance(seg, Segments)


# --- validate_message -----------------------------------------------------


@pytest.mark.parametrize(
    "text,message",
    [
        (None, "Message must be a string, not NoneType"),
        (5, "Message must be a string, not int"),
        (b"hi", "Message must be a string, not bytes"),
        ("", "Message must not be empty"),
        (" ", "Message must not be empty"),
        ("\n\t \r", "Message must not be empty"),
        ("\u00a0\u2003", "Message must not be empty"),
        ("a" * 1601, "Message is 1601 characters long; the maximum is 1600 characters"),
        (EMOJI * 1601, "Message is 1601 characters long; the maximum is 1600 characters"),
    ],
    ids=["none", "int", "bytes", "empty", "space", "whitespace", "unicode-spaces", "gsm-1601", "emoji-1601"],
)
def test_validate_message_rejects(text: object, message: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        validate_message(text)
    assert info.value.message == message
    assert str(info.value) == message
    assert info.value.code == "invalid_message"


@pytest.mark.parametrize(
    "text,parts",
    [
        ("x", 1),
        (" x ", 1),
        ("a" * MAX_CHARACTERS, 11),
        (EURO * MAX_CHARACTERS, 22),  # 3200 septets, 76 pairs per part
        (EMOJI * MAX_CHARACTERS, 49),  # counted in code points, 33 per part
    ],
    ids=["one-char", "padded", "gsm-1600-limit", "euro-1600-limit", "emoji-1600-limit"],
)
def test_validate_message_accepts_and_counts(text: str, parts: int) -> None:
    seg = validate_message(text)
    assert seg == count_segments(text)
    assert seg.parts == parts


# --- replacements -----------------------------------------------------------


@pytest.mark.parametrize(
    "chars,expected",
    [
        ("\u2018\u2019", {"\u2018": "'", "\u2019": "'"}),
        ("\u201c\u201d\u00ab\u00bb", {"\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"'}),
        ("\u2013\u2014", {"\u2013": "-", "\u2014": "-"}),
        ("\u2026", {"\u2026": "..."}),
        ("\u00a0", {"\u00a0": " "}),
        (("\u2014", CYR, "\u2018"), {"\u2014": "-", "\u2018": "'"}),
        ((CYR, EMOJI), {}),
        ((), {}),
    ],
    ids=["single-quotes", "double-quotes", "dashes", "ellipsis", "nbsp", "skips-unmappable", "none-mappable", "empty"],
)
def test_suggest_gsm_replacements(chars: object, expected: dict[str, str]) -> None:
    result = suggest_gsm_replacements(chars)  # type: ignore[arg-type]
    assert result == expected
    assert list(result) == list(expected)  # input order preserved


def test_suggestions_for_count_segments_output_make_text_gsm() -> None:
    text = "\u201cHei\u201d \u2013 vi ses\u2026"
    seg = count_segments(text)
    fixes = suggest_gsm_replacements(seg.ucs2_characters)
    fixed = "".join(fixes.get(c, c) for c in text)
    assert seg.encoding == "UCS-2"
    assert count_segments(fixed).encoding == "GSM-7"
    assert fixed == '"Hei" - vi ses...'


@pytest.mark.parametrize("char,replacement", sorted(_GSM_REPLACEMENTS.items()), ids=repr)
def test_every_replacement_maps_a_ucs2_char_to_gsm(char: str, replacement: str) -> None:
    assert count_segments(char).encoding == "UCS-2"
    assert count_segments(replacement).encoding == "GSM-7"
