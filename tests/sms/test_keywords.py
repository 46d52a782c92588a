"""Keyword rules: spelling, reserved words with their meaning, and reading the first word of an
inbound text."""
from __future__ import annotations

import pytest

from app.sms.keywords import (
    HELP, OPT_IN, OPT_OUT, RESERVED, InvalidKeyword, ReservedKeyword, first_word, keyword_key, matches,
    parse_keyword, reserved_meaning, text_meaning,
)


@pytest.mark.parametrize("raw,parsed", [
    ("PROMO", "PROMO"),
    ("promo", "promo"),  # stored as written, never upper-cased
    ("Tilbud2024", "Tilbud2024"),
    ("AB", "AB"),  # 2: the minimum
    ("A" * 20, "A" * 20),  # 20: the maximum
    ("42", "42"),
    ("  join ", "join"),  # surrounding spaces are not part of it
])
def test_valid_keywords(raw, parsed):
    assert parse_keyword(raw) == parsed


@pytest.mark.parametrize("raw,fragment", [
    ("A", "2 to 20"),
    ("A" * 21, "2 to 20"),
    ("", "required"),
    ("   ", "required"),
    ("BLÅ", "Æ, Ø or Å"),
    ("ØL", "Æ, Ø or Å"),
    ("ÆRE", "Æ, Ø or Å"),
    ("two words", "letters A-Z"),
    ("PROMO!", "letters A-Z"),
    ("pro-mo", "letters A-Z"),
    ("CAFÉ", "letters A-Z"),
    ("ＰＲＯＭＯ", "letters A-Z"),  # full-width letters are not ASCII
    ("١٢٣", "letters A-Z"),  # other scripts' digits
    (None, "string"),
    (42, "string"),
])
def test_invalid_keywords(raw, fragment):
    with pytest.raises(InvalidKeyword) as caught:
        parse_keyword(raw)
    assert fragment in caught.value.message
    assert caught.value.code == "invalid_keyword"


@pytest.mark.parametrize("word,meaning", [
    ("STOP", OPT_OUT), ("stop", OPT_OUT), ("Stopp", OPT_OUT), ("SLUTT", OPT_OUT), ("AVSLUTT", OPT_OUT),
    ("UNSUBSCRIBE", OPT_OUT), ("END", OPT_OUT), ("CANCEL", OPT_OUT), ("QUIT", OPT_OUT), ("STOPALL", OPT_OUT),
    ("START", OPT_IN), ("STARTIGJEN", OPT_IN), ("UNSTOP", OPT_IN),
    ("HELP", HELP), ("HJELP", HELP), ("info", HELP),
])
def test_reserved_words_have_a_meaning_and_cannot_be_keywords(word, meaning):
    assert reserved_meaning(word) == meaning
    with pytest.raises(ReservedKeyword) as caught:
        parse_keyword(word)
    assert caught.value.code == "reserved_keyword" and "reserved" in caught.value.message


def test_every_reserved_word_is_a_valid_spelling():
    # So "is it reserved" is a plain lookup on a parsed keyword.
    for word, meaning in RESERVED.items():
        assert word.isascii() and word.isalnum() and word.isupper() and 2 <= len(word) <= 20
        assert meaning in (OPT_OUT, OPT_IN, HELP)


@pytest.mark.parametrize("word", ["STOPPED", "HELPER", "STARTER", "PROMO", "INFO2"])
def test_words_that_only_look_reserved_are_free(word):
    assert reserved_meaning(word) is None
    assert parse_keyword(word) == word


@pytest.mark.parametrize("text,word", [
    ("PROMO", "PROMO"),
    ("promo please", "promo"),
    ("   Promo", "Promo"),
    ("\n\tpromo", "promo"),
    ("...promo!", "promo"),
    ("#promo", "promo"),
    ("\"Promo\", takk", "Promo"),
    ("😀 promo", "promo"),
    ("promo,ja", "promo"),
    ("Blåbær er godt", "Blåbær"),  # a Nordic word stays whole, it is not cut at Å
    ("ＰＲＯＭＯ", "PROMO"),  # full-width, as some phones send
    ("", None),
    ("   ", None),
    ("?!", None),
    (None, None),
])
def test_first_word(text, word):
    assert first_word(text) == word


@pytest.mark.parametrize("keyword,text,expected", [
    ("PROMO", "promo", True),
    ("Promo", "PROMO yes", True),
    ("promo", "  Promo.", True),
    ("PROMO", "PROMOTION", False),
    ("PROMO", "PROMO2", False),
    ("PROMO", "I want PROMO", False),  # the first word only
    ("PROMO", "", False),
])
def test_matches(keyword, text, expected):
    assert matches(keyword, text) is expected


@pytest.mark.parametrize("text,meaning", [
    ("STOP", OPT_OUT),
    ("stopp.", OPT_OUT),
    ("  Slutt takk", OPT_OUT),
    ("Opt out", OPT_OUT),
    ("Start igjen", OPT_IN),
    ("START", OPT_IN),
    ("opt in", OPT_IN),
    ("hjelp?", HELP),
    ("Info", HELP),
    ("STOPPED", None),
    ("Please stop", None),  # not the first word
    ("", None),
])
def test_text_meaning(text, meaning):
    assert text_meaning(text) == meaning


def test_keyword_key_ignores_case():
    assert keyword_key("Promo") == keyword_key("PROMO") == keyword_key("promo")
