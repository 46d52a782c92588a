"""Misconfiguration fails at start, with a message naming the fix."""
import pytest

from app import create_app


def test_unknown_provider_refuses_to_start(test_config):
    with pytest.raises(RuntimeError, match="SMS_PROVIDER='nope' is not a known provider; use one of simulator"):
        create_app({**test_config, "SMS_PROVIDER": "nope"})
