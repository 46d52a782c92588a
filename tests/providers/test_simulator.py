"""The carrier simulator: failure rules, fates, de-duplication by reference, its report."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import SimulatorSubmission
from app.providers import Outbound, get_provider
from app.providers.simulator import EXPIRED, FailRule, SimulatorProvider, _fraction, parse_fail_rules, summary, \
    take_due_reports


@pytest.mark.parametrize("spec,rules", [
    ("", []),
    (None, []),
    ("  ;; ", []),
    ("0000=UNKNOWN_SUBSCRIBER:Unknown subscriber",
     [FailRule("0000", "UNKNOWN_SUBSCRIBER", "Unknown subscriber")]),
    ("13=ABSENT", [FailRule("13", "ABSENT", "ABSENT")]),  # the text defaults to the code
    (" 7 = BARRED : Barred by operator ;", [FailRule("7", "BARRED", "Barred by operator")]),
    ("1=A:x;22=B:y", [FailRule("1", "A", "x"), FailRule("22", "B", "y")]),
    ("5=ERR:text: with a colon", [FailRule("5", "ERR", "text: with a colon")]),
])
def test_parse_fail_rules(spec, rules):
    assert parse_fail_rules(spec) == rules


@pytest.mark.parametrize("spec", [
    "0000",               # no code
    "0000=",              # empty code
    "0000=:text",         # empty code, text given
    "=CODE:text",         # no suffix
    "abc=CODE:text",      # suffix not digits
    "+47=CODE",           # a plus is not a digit
    "²=CODE",             # unicode digits are not ASCII digits (no number ends with them)
    "١٢=CODE",
    "1=A;bad",            # one bad rule spoils the lot
])
def test_parse_fail_rules_refuses_bad_specs(spec):
    with pytest.raises(ValueError, match="SIMULATOR_FAIL_RULES"):
        parse_fail_rules(spec)


def _provider(rules: str = "", rate: float = 1.0) -> SimulatorProvider:
    return SimulatorProvider({
        "SIMULATOR_SUBMIT_LATENCY_MS": 0, "SIMULATOR_REPORT_LATENCY_MS": 0,
        "SIMULATOR_DELIVERY_RATE": rate, "SIMULATOR_FAIL_RULES": rules,
    })


def _outbound(to: str = "+4791234567", reference: str | None = None) -> Outbound:
    return Outbound(reference or str(uuid.uuid4()), to, "Acme", "Hello")


@pytest.mark.parametrize("to,rules,fate", [
    ("+4791234567", "", ("DELIVERED", None, None)),
    ("+4791230000", "0000=UNKNOWN_SUBSCRIBER:Unknown subscriber",
     ("FAILED", "UNKNOWN_SUBSCRIBER", "Unknown subscriber")),
    ("+4791230001", "0000=UNKNOWN_SUBSCRIBER:Unknown subscriber", ("DELIVERED", None, None)),
    ("+4791234513", "3=A:first;13=B:second", ("FAILED", "A", "first")),  # the first matching rule
    ("+4791234513", "13=B:second;3=A:first", ("FAILED", "B", "second")),
])
def test_fate_by_rules(to, rules, fate):
    assert _provider(rules).fate(_outbound(to)) == fate


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_fate_by_delivery_rate(rate):
    provider = _provider(rate=rate)
    references = [f"ref-{i}" for i in range(400)]
    fates = {ref: provider.fate(_outbound(reference=ref)) for ref in references}
    for ref, fate in fates.items():
        expected = ("DELIVERED", None, None) if _fraction(ref) < rate else ("FAILED", *EXPIRED)
        assert fate == expected
    delivered = sum(f[0] == "DELIVERED" for f in fates.values())
    assert abs(delivered / len(references) - rate) < 0.08  # the fraction is spread evenly
    # The same reference always gets the same fate: a re-submission cannot change its mind.
    assert {ref: provider.fate(_outbound(reference=ref)) for ref in references} == fates


def test_rules_win_over_delivery_rate():
    assert _provider("9=X:no", rate=1.0).fate(_outbound("+4791234569"))[0] == "FAILED"


def test_same_reference_twice_is_one_message(ctx):
    provider = get_provider("simulator")
    item = _outbound()
    first = provider.send([item])
    again = provider.send([item])
    assert first == again  # the same provider message id both times
    rows = db.session.scalars(select(SimulatorSubmission)).all()
    assert len(rows) == 1 and rows[0].submissions == 2
    assert summary() == {"submissions": 2, "unique_references": 1, "duplicates": 1}


def test_a_duplicate_is_reported_once(ctx):
    provider = get_provider("simulator")
    item = _outbound()
    provider.send([item])
    assert len(take_due_reports()) == 1
    db.session.commit()
    provider.send([item])
    assert take_due_reports() == []


def test_query_knows_what_was_submitted(ctx):
    provider = get_provider("simulator")
    item = _outbound()
    other = _outbound()
    assert provider.query([item.reference, other.reference]) == {}
    (result,) = provider.send([item])
    assert provider.query([item.reference, other.reference]) == {item.reference: result}
    assert result.accepted and result.provider_message_id == f"sim-{item.reference}"


def test_take_due_reports_respects_its_limit(ctx):
    provider = get_provider("simulator")
    provider.send([_outbound() for _ in range(25)])
    sizes = []
    while reports := take_due_reports(10):
        sizes.append(len(reports))
        db.session.commit()
    assert sizes == [10, 10, 5]


def test_report_command_prints_json(ctx):
    provider = get_provider("simulator")
    items = [_outbound() for _ in range(3)]
    provider.send(items)
    provider.send(items[:1])
    result = ctx.test_cli_runner().invoke(args=["simulator", "report"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"submissions": 4, "unique_references": 3, "duplicates": 1}


def test_report_command_on_an_empty_carrier(ctx):
    result = ctx.test_cli_runner().invoke(args=["simulator", "report"])
    assert json.loads(result.output) == {"submissions": 0, "unique_references": 0, "duplicates": 0}
