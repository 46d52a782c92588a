"""The simulator's fault settings the scenarios use (off by default: the other simulator tests
run without them), and its delivery reports after our clock was stepped back (a bug the
clock-backward scenario found: they waited for as long as the step)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.models import utcnow
from app.providers import Outbound
from app.providers import simulator
from app.providers.simulator import (
    CarrierTimeout,
    CarrierUnavailable,
    SimulatorProvider,
    parse_suffixes,
    summary,
    take_due_reports,
)


def _provider(**settings) -> SimulatorProvider:
    return SimulatorProvider({
        "SIMULATOR_SUBMIT_LATENCY_MS": 0, "SIMULATOR_REPORT_LATENCY_MS": 0, "SIMULATOR_DELIVERY_RATE": 1.0,
        "SIMULATOR_FAIL_RULES": "", "SIMULATOR_FAULT_DELAY_MS": 0, **settings,
    })


def _batch(size: int = 3, to: str = "+4791234567") -> list[Outbound]:
    return [Outbound(str(uuid.uuid4()), to, "Acme", "Hello") for _ in range(size)]


@pytest.mark.parametrize("spec,suffixes", [
    ("", ()), (None, ()), (" ; ", ()), ("99", ("99",)), ("99; 123 ;", ("99", "123")),
])
def test_parse_suffixes(spec, suffixes):
    assert parse_suffixes(spec, "SIMULATOR_SILENT_SUFFIXES") == suffixes


@pytest.mark.parametrize("spec", ["+47", "9a", "²", "1;x"])
def test_parse_suffixes_refuses_what_no_number_ends_with(spec):
    with pytest.raises(ValueError, match="SIMULATOR_SILENT_SUFFIXES"):
        parse_suffixes(spec, "SIMULATOR_SILENT_SUFFIXES")


def test_an_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="SIMULATOR_FAULT"):
        _provider(SIMULATOR_FAULT="slow")


def test_5xx_keeps_nothing(ctx):
    with pytest.raises(CarrierUnavailable):
        _provider(SIMULATOR_FAULT="5xx").send(_batch())
    assert summary() == {"submissions": 0, "unique_references": 0, "duplicates": 0}


def test_timeout_keeps_the_batch_and_the_reconciler_can_ask_for_it(ctx):
    batch = _batch()
    provider = _provider(SIMULATOR_FAULT="timeout")
    with pytest.raises(CarrierTimeout):
        provider.send(batch)
    assert summary()["unique_references"] == 3
    assert set(provider.query([item.reference for item in batch])) == {item.reference for item in batch}


def test_the_fault_hits_every_nth_call(ctx):
    provider = _provider(SIMULATOR_FAULT="5xx", SIMULATOR_FAULT_EVERY=3)
    failed = 0
    for _ in range(9):
        try:
            provider.send(_batch(1))
        except CarrierUnavailable:
            failed += 1
    assert failed == 3
    assert summary()["unique_references"] == 6


def test_silent_numbers_are_accepted_and_never_reported(ctx, monkeypatch):
    provider = _provider(SIMULATOR_SILENT_SUFFIXES="99")
    silent, loud = _batch(2, "+4791234599"), _batch(2, "+4791234510")
    results = provider.send(silent + loud)
    assert all(r.accepted for r in results)
    assert {r.reference for r in take_due_reports()} == {item.reference for item in loud}
    # Not even once our clock has been stepped back (see the next test).
    monkeypatch.setattr(simulator, "utcnow", lambda: utcnow() - timedelta(hours=1))
    assert take_due_reports() == []


def test_reports_are_not_held_back_when_our_clock_steps_back(ctx, monkeypatch):
    batch = _batch()
    _provider(SIMULATOR_REPORT_LATENCY_MS=0).send(batch)
    monkeypatch.setattr(simulator, "utcnow", lambda: utcnow() - timedelta(hours=1))
    assert {r.reference for r in take_due_reports()} == {item.reference for item in batch}


def test_a_report_not_yet_due_still_waits(ctx):
    _provider(SIMULATOR_REPORT_LATENCY_MS=60_000).send(_batch())
    assert take_due_reports() == []
