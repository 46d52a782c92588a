"""The audience stream and the preview's counting: the same recipients, skips and parts as the
plain definitions, however the contacts fall into pages; and the preview's shortcut for plain
GSM-7 texts counts exactly what ``count_segments`` counts."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import insert

from app.extensions import db
from app.models import Contact, group_members, new_id
from app.services import campaign_audience, campaigns, optouts
from app.services.campaigns import CampaignSpec
from app.services.groups import create_group
from app.sms import GSM7_BASIC, basic_gsm7_parts, count_segments

BASIC = "".join(sorted(GSM7_BASIC))


@pytest.mark.parametrize("text", [
    "", "a", "Hi Ada, 20% off today", "x" * 160, "x" * 161, "x" * 306, "x" * 307, "x" * 1530, "x" * 1531,
    BASIC, BASIC * 3, "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ ¤¡¿ÄÖÑÜ§äöñüà",  # basic, though not ASCII
    "é" * 161,
    # Not basic GSM-7: an extension character (two septets, may straddle parts), UCS-2, an
    # emoji (a surrogate pair), the escape itself: the shortcut declines, count_segments counts.
    "Price: 10€", "{x}", "x" * 152 + "€" + "x" * 10, "Zoë", "Łukasz", "Hi 👋", "\x1b", "x" * 159 + "ë",
])
def test_the_plain_gsm7_shortcut_counts_what_count_segments_counts(text):
    segments = count_segments(text)
    plain = basic_gsm7_parts(text)
    if plain is None:
        assert set(text) - GSM7_BASIC, "a basic GSM-7 text must take the shortcut"
    else:
        assert segments.encoding == "GSM-7" and plain == segments.parts


def test_the_shortcut_agrees_for_every_length_up_to_eleven_parts():
    for length in range(0, 153 * 11 + 2):
        assert basic_gsm7_parts("a" * length) == count_segments("a" * length).parts, length


# -- the audience ------------------------------------------------------------------------------------

def _contacts(account, group, specs) -> list[str]:
    """``specs``: (phone number or None, first name) per contact; returns their ids."""
    rows = [{"id": new_id(), "account_id": account.id, "name": f"{first or 'Contact'} {i}", "first_name": first,
             "phone_number": number, "type": "person", "tags": []} for i, (number, first) in enumerate(specs)]
    db.session.execute(insert(Contact.__table__), rows)
    if group is not None:
        db.session.execute(insert(group_members), [{"group_id": group.id, "contact_id": r["id"]} for r in rows])
    db.session.commit()
    return [r["id"] for r in rows]


def _join(group, ids) -> None:
    db.session.execute(insert(group_members), [{"group_id": group.id, "contact_id": i} for i in ids])
    db.session.commit()


@pytest.fixture
def directory(account, other_account):
    """Two chosen groups that overlap, an excluded group, and every reason to be left out."""
    first, second, excluded = (create_group(account, name) for name in ("First", "Second", "Excluded"))
    plain = _contacts(account, first, [(f"+479{3000001 + i:07d}", name) for i, name in
                                       enumerate(["Ada", "Zoë", None, "Bjørn", "Kari"] * 4)])
    _join(second, plain[:6])  # six contacts in both chosen groups: sent once
    only_second = _contacts(account, second, [(f"+479{3100001 + i:07d}", "Ola") for i in range(5)])
    _join(excluded, plain[10:13] + only_second[:1])  # four excluded
    _contacts(account, first, [(None, "Nils"), ("4799999999", "Per"), ("", "Tom")])  # no / invalid number
    optouts.add_optout(account, "+4793000016", source="dashboard")  # plain[15]
    # Another account's contact in our group (nothing creates that; if it existed): never reached.
    theirs = _contacts(other_account[0], None, [("+4793900001", "Eve")])
    _join(first, theirs)
    return first, second, excluded


EXPECTED_SKIPPED = {"in_several_groups": 6, "excluded_group": 4, "no_number": 2, "invalid_number": 1,
                    "opted_out": 1}


@pytest.mark.parametrize("page", [1, 2, 7, 5000])
def test_the_audience_is_the_same_whatever_the_page_size(account, directory, monkeypatch, page):
    monkeypatch.setattr(campaign_audience, "PAGE", page)
    first, second, excluded = directory
    spec = CampaignSpec(name="x", message="Hi {first_name|there}", group_ids=(first.id, second.id),
                        excluded_group_ids=(excluded.id,))
    preview = campaigns.preview(account, spec)

    # 20 + 5 contacts with numbers, minus 4 excluded and 1 opted out.
    assert preview.recipients == 20
    assert preview.skipped == EXPECTED_SKIPPED
    assert preview.encodings == {"GSM-7": 17, "UCS-2": 3} and preview.parts == {1: 20} and preview.units == 20
    assert preview.ucs2_characters == ["ë"]

    checked = campaigns.check(account, spec)
    audience = campaign_audience.Audience()
    streamed = list(campaign_audience.recipients(account, checked.template, checked.group_ids,
                                                 checked.excluded_group_ids, None, audience))
    numbers = [r.number for r in streamed]
    assert len(set(numbers)) == len(numbers) == 20
    for left_out in ("+4793000016", "+4793000011", "+4793100001", "+4793900001"):
        assert left_out not in numbers
    assert Counter(r.text for r in streamed) == {"Hi Ada": 2, "Hi Zoë": 3, "Hi there": 3, "Hi Bjørn": 4,
                                                 "Hi Kari": 4, "Hi Ola": 4}
    assert audience.skipped == EXPECTED_SKIPPED
    assert preview.samples == streamed[:3]


def test_a_preview_of_mixed_texts_counts_each_like_count_segments(account):
    group = create_group(account, "Mixed")
    names = ["Ada", "Zoë", "€uro", None, "A" * 90, "😀", "Bjørn", "Ola" + "€" * 40]
    tail = " Our spring sale starts today: 20% off everything in the shop. See you there!"
    _contacts(account, group, [(f"+479{3200001 + i:07d}", names[i % len(names)]) for i in range(70)])
    spec = CampaignSpec(name="x", message="Hi {first_name|there}!" + tail, group_ids=(group.id,))
    preview = campaigns.preview(account, spec)

    texts = [f"Hi {names[i % len(names)] or 'there'}!{tail}" for i in range(70)]
    counted = [count_segments(t) for t in texts]
    assert preview.parts == dict(sorted(Counter(s.parts for s in counted).items()))
    assert preview.encodings == dict(Counter(s.encoding for s in counted))
    assert preview.units == sum(s.parts for s in counted)
    assert set(preview.parts) == {1, 2}
    assert sorted(preview.ucs2_characters) == sorted({"ë", "😀"})
