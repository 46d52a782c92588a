"""The WAYSCloud provider's pure parts, table-driven: status mapping, Retry-After, the callbacks'
parsers, the signature check and the connection settings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from app.providers.base import CallbackError, Inbound, Report
from app.providers.wayscloud import UPSTREAM_STATUSES, WaysCloudProvider, final_status, report_from_message
from app.providers.wayscloud_http import Answer, backoff_seconds, retry_after_seconds
from app.providers.wayscloud_settings import check, codes, settings
from app.services import webhook_signing

NOW = datetime(2026, 3, 30, 10, 0, 0, tzinfo=timezone.utc)
BASE = {
    "WAYSCLOUD_API_KEY": "wayscloud_sms_k1_secret", "WAYSCLOUD_BASE_URL": "https://api.wayscloud.services",
    "WAYSCLOUD_WEBHOOK_SECRET": "", "WAYSCLOUD_CONNECT_TIMEOUT_SECONDS": 5.0, "WAYSCLOUD_READ_TIMEOUT_SECONDS": 15.0,
    "WAYSCLOUD_CONCURRENCY": 8, "WAYSCLOUD_MAX_RETRIES": 3, "WAYSCLOUD_DEADLINE_SECONDS": 60.0,
    "SENDING_TIMEOUT_SECONDS": 120, "PUBLIC_BASE_URL": "", "PLATFORM_SENDER_ID": "+4759440000",
}


def provider(**config) -> WaysCloudProvider:
    return WaysCloudProvider(settings({**BASE, **config}, "wayscloud"))


# ------------------------------------------------------------------ status mapping


@pytest.mark.parametrize("upstream,expected", [
    ("QUEUED", None), ("SCHEDULED", None), ("SENDING", None), ("SENT", None), ("RECEIVED", None),
    ("DELIVERED", ("DELIVERED", None)),
    ("delivered", ("DELIVERED", None)),
    (" Delivered ", ("DELIVERED", None)),
    ("FAILED", ("FAILED", None)),
    ("UNDELIVERED", ("FAILED", "UNDELIVERED")),
    ("UNDELIVERABLE", ("FAILED", "UNDELIVERABLE")),
    ("REJECTED", ("FAILED", "REJECTED")),
    ("EXPIRED", ("FAILED", "EXPIRED")),
    ("CANCELLED", ("FAILED", "CANCELLED_UPSTREAM")),
    ("BUFFERED", None),  # a status we do not know: still on its way, never a failure
    ("", None), (None, None), (3, None),
])
def test_upstream_status_mapping(upstream, expected):
    assert final_status(upstream) == expected


def test_every_status_smsdesk_can_return_is_mapped():
    from app.models import Status

    assert set(Status.ALL) <= set(UPSTREAM_STATUSES)


@pytest.mark.parametrize("message,expected", [
    ({"status": "SENT"}, None),
    ({"status": "DELIVERED", "delivered_at": "2026-03-30T10:00:03Z", "error_code": None},
     Report("DELIVERED", "ref", "up-1", None, None, datetime(2026, 3, 30, 10, 0, 3, tzinfo=timezone.utc))),
    ({"status": "FAILED", "failed_at": "2026-03-30T10:00:03+02:00", "error_code": "ABSENT",
      "error_message": "Absent subscriber"},
     Report("FAILED", "ref", "up-1", "ABSENT", "Absent subscriber",
            datetime(2026, 3, 30, 8, 0, 3, tzinfo=timezone.utc))),
    ({"status": "EXPIRED", "error_message": "Validity expired", "failed_at": "garbage"},
     Report("FAILED", "ref", "up-1", "EXPIRED", "Validity expired", None)),
    ({"status": "FAILED"}, Report("FAILED", "ref", "up-1", None, None, None)),
])
def test_report_from_an_upstream_message(message, expected):
    assert report_from_message("ref", "up-1", message) == expected


# ------------------------------------------------------------------ Retry-After and back-off


@pytest.mark.parametrize("value,expected", [
    (None, None),
    ("0", 0.0),
    ("3", 3.0),
    (" 120 ", 120.0),
    ("1.5", None),  # delay-seconds are whole numbers
    ("-1", None),
    ("soon", None),
    ("", None),
    ("٣", None),  # a digit, but not ASCII
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
    ("Mon, 30 Mar 2026 10:00:45 GMT", 45.0),
    ("Mon, 30 Mar 2026 09:59:00 GMT", 0.0),  # already past
    ("Monday, 30-Mar-26 10:01:00 GMT", 60.0),  # obsolete RFC 850 form, which HTTP readers must accept
])
def test_retry_after(value, expected):
    assert retry_after_seconds(value, NOW) == expected


@pytest.mark.parametrize("attempt,seconds", [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 10.0), (20, 10.0)])
def test_backoff(attempt, seconds):
    assert backoff_seconds(attempt) == seconds


@pytest.mark.parametrize("body,code,message", [
    ({"detail": "No valid recipient", "error": {"code": "no_valid_recipients", "message": "x"}},
     "no_valid_recipients", "No valid recipient"),
    ({"detail": [{"loc": ["body", "to"], "msg": "bad number"}, {"msg": "too long"}]},
     "HTTP_422", "bad number; too long"),
    ({"error": {"code": "", "message": "Only the error object"}}, "HTTP_422", "Only the error object"),
    ("not json", "HTTP_422", "HTTP 422: Unprocessable"),
    (None, "HTTP_422", "HTTP 422: Unprocessable"),
])
def test_error_of_a_refusal(body, code, message):
    answer = Answer("refused", 422, body, "HTTP 422: Unprocessable")
    assert (answer.error_code, answer.error_message) == (code, message)


# ------------------------------------------------------------------ delivery callbacks (sms.status)

EVENT = {"event": "sms.status", "message_id": "up-1", "batch_id": "b-1", "status": "DELIVERED",
         "previous_status": "SENT", "to": "+4799999999", "customer_ref": "our-1", "units": 1,
         "error_code": None, "error_message": None, "timestamp": "2026-03-30T10:00:03Z"}
AT = datetime(2026, 3, 30, 10, 0, 3, tzinfo=timezone.utc)


@pytest.mark.parametrize("payload,expected", [
    (EVENT, [Report("DELIVERED", "our-1", "up-1", None, None, AT)]),
    ({**EVENT, "status": "delivered"}, [Report("DELIVERED", "our-1", "up-1", None, None, AT)]),
    ({**EVENT, "status": "FAILED", "error_code": "ABSENT", "error_message": "Absent subscriber"},
     [Report("FAILED", "our-1", "up-1", "ABSENT", "Absent subscriber", AT)]),
    ({**EVENT, "status": "EXPIRED"}, [Report("FAILED", "our-1", "up-1", "EXPIRED", None, AT)]),
    ({**EVENT, "status": "SENDING"}, []),
    ({**EVENT, "status": "SENT"}, []),
    ({**EVENT, "status": "QUEUED"}, []),
    ({**EVENT, "status": "SOMETHING_NEW"}, []),
    ({"message_id": "up-1", "status": "DELIVERED"}, [Report("DELIVERED", None, "up-1")]),  # minimal
    ({**EVENT, "customer_ref": None, "timestamp": None}, [Report("DELIVERED", None, "up-1")]),
    ({**EVENT, "timestamp": "2026-03-30T12:00:03+02:00"}, [Report("DELIVERED", "our-1", "up-1", None, None, AT)]),
    ({**EVENT, "unknown_field": {"nested": True}}, [Report("DELIVERED", "our-1", "up-1", None, None, AT)]),
    ([EVENT, {**EVENT, "message_id": "up-2", "customer_ref": "our-2", "status": "SENT"},
      {**EVENT, "message_id": "up-3", "customer_ref": "our-3", "status": "FAILED"}],
     [Report("DELIVERED", "our-1", "up-1", None, None, AT), Report("FAILED", "our-3", "up-3", None, None, AT)]),
])
def test_parse_reports(payload, expected):
    assert provider().parse_reports(payload) == expected


@pytest.mark.parametrize("payload,locs", [
    ("DELIVERED", [["body"]]),
    (42, [["body"]]),
    ([], [["body"]]),
    ([EVENT] * 1001, [["body"]]),
    ({**EVENT, "message_id": None}, [["body", "message_id"]]),
    ({k: v for k, v in EVENT.items() if k != "status"}, [["body", "status"]]),
    ({**EVENT, "status": 3}, [["body", "status"]]),
    ({**EVENT, "message_id": "", "status": ""}, [["body", "message_id"], ["body", "status"]]),
    ({**EVENT, "customer_ref": 12}, [["body", "customer_ref"]]),
    ({**EVENT, "error_code": "x" * 65}, [["body", "error_code"]]),
    ({**EVENT, "timestamp": "yesterday"}, [["body", "timestamp"]]),
    ({**EVENT, "event": "sms.inbound"}, [["body", "event"]]),
    ([EVENT, "nope", {**EVENT, "status": None}], [["body", 1], ["body", 2, "status"]]),
])
def test_parse_reports_refuses_bad_payloads_listing_every_problem(payload, locs):
    with pytest.raises(CallbackError) as caught:
        provider().parse_reports(payload)
    assert [p["loc"] for p in caught.value.problems] == locs
    assert all(p["msg"] and p["type"] for p in caught.value.problems)


# ------------------------------------------------------------------ inbound callbacks (sms.inbound)

INBOUND = {"event": "sms.inbound", "message_id": "in-1", "keyword": "INFO", "from": "+4799999999",
           "to": "+4759440000", "message": "INFO please ", "received_at": "2026-03-30T10:00:00Z"}


@pytest.mark.parametrize("payload,expected", [
    (INBOUND, [Inbound("+4799999999", "+4759440000", "INFO please ", "in-1", NOW)]),
    ({**INBOUND, "event": None, "keyword": None, "received_at": None},
     [Inbound("+4799999999", "+4759440000", "INFO please ", "in-1", None)]),
    ([INBOUND, {**INBOUND, "message_id": "in-2", "message": "STOP"}],
     [Inbound("+4799999999", "+4759440000", "INFO please ", "in-1", NOW),
      Inbound("+4799999999", "+4759440000", "STOP", "in-2", NOW)]),
])
def test_parse_inbound(payload, expected):
    assert provider().parse_inbound(payload) == expected


@pytest.mark.parametrize("payload,locs", [
    (["x"], [["body", 0]]),
    ({**INBOUND, "from": None}, [["body", "from"]]),
    ({**INBOUND, "to": 4759440000}, [["body", "to"]]),
    ({**INBOUND, "message": None, "message_id": None}, [["body", "message"], ["body", "message_id"]]),
    ({**INBOUND, "message": "x" * 10_001}, [["body", "message"]]),
    ({**INBOUND, "received_at": "now"}, [["body", "received_at"]]),
    ({**INBOUND, "event": "sms.status"}, [["body", "event"]]),
])
def test_parse_inbound_refuses_bad_payloads(payload, locs):
    with pytest.raises(CallbackError) as caught:
        provider().parse_inbound(payload)
    assert [p["loc"] for p in caught.value.problems] == locs


# ------------------------------------------------------------------ the upstream's signature

SECRET = webhook_signing.new_secret()
BODY = b'{"event":"sms.status","message_id":"up-1","status":"DELIVERED"}'


@pytest.mark.parametrize("configured,signed_with,body,expected", [
    (SECRET, SECRET, BODY, True),
    (SECRET, webhook_signing.new_secret(), BODY, False),  # another account's secret
    (SECRET, SECRET, BODY + b" ", False),  # altered body
    ("", SECRET, BODY, False),  # no secret configured: signatures are not accepted at all
    (SECRET, None, BODY, False),  # unsigned
])
def test_authenticate_by_signature(configured, signed_with, body, expected):
    now = int(datetime.now(timezone.utc).timestamp())
    headers = webhook_signing.headers(signed_with, "evt_1", now, BODY) if signed_with else {}
    assert provider(WAYSCLOUD_WEBHOOK_SECRET=configured).authenticate(headers, body) is expected


def test_authenticate_refuses_an_old_signature():
    old = int(datetime.now(timezone.utc).timestamp()) - 3600
    headers = webhook_signing.headers(SECRET, "evt_1", old, BODY)
    assert provider(WAYSCLOUD_WEBHOOK_SECRET=SECRET).authenticate(headers, BODY) is False


# ------------------------------------------------------------------ connections and their settings


@pytest.mark.parametrize("config,expected", [
    ({}, ["wayscloud"]),
    ({"WAYSCLOUD_API_KEY": ""}, []),
    ({"WAYSCLOUD_NORDIC_API_KEY": "k2"}, ["wayscloud", "wayscloud.nordic"]),
    ({"WAYSCLOUD_API_KEY": "", "WAYSCLOUD_EU_WEST_API_KEY": "k3", "WAYSCLOUD_SE_API_KEY": ""}, ["wayscloud.eu_west"]),
    ({"WAYSCLOUD_NORDIC_BASE_URL": "https://x.example"}, ["wayscloud"]),  # no key: no connection
])
def test_connections_are_those_with_an_api_key(config, expected):
    assert codes({**BASE, **config}) == expected


def test_labelled_settings_are_their_own():
    config = {**BASE, "WAYSCLOUD_BASE_URL": "https://staging.example/", "PUBLIC_BASE_URL": "https://sms.example.no",
              "WAYSCLOUD_NORDIC_API_KEY": "k2", "WAYSCLOUD_NORDIC_WEBHOOK_SECRET": SECRET}
    default, nordic = settings(config, "wayscloud"), settings(config, "wayscloud.nordic")
    assert (default.base_url, default.api_key, default.webhook_secret) == (
        "https://staging.example", BASE["WAYSCLOUD_API_KEY"], None)
    assert (nordic.base_url, nordic.api_key, nordic.webhook_secret) == ("https://api.wayscloud.services", "k2", SECRET)
    assert default.callback_base == "https://sms.example.no/v1/providers/wayscloud"
    assert nordic.callback_base == "https://sms.example.no/v1/providers/wayscloud.nordic"
    assert settings(BASE, "wayscloud").callback_base is None
    assert hash(default) != hash(nordic)


@pytest.mark.parametrize("config,message", [
    ({"WAYSCLOUD_NORDIC_BASE_URL": "https://x.example"}, "WAYSCLOUD_NORDIC_API_KEY is not"),
    ({"WAYSCLOUD_NORDIC_WEBHOOK_SECRET": SECRET}, "WAYSCLOUD_NORDIC_API_KEY is not"),
    ({"WAYSCLOUD_A_VERY_LONG_LABEL_INDEED_API_KEY": "k"}, "cannot label a connection"),
    ({"WAYSCLOUD_EU__WEST_API_KEY": "k"}, "cannot label a connection"),
    ({"WAYSCLOUD_BASE_URL": "api.wayscloud.services"}, "WAYSCLOUD_BASE_URL="),
    ({"WAYSCLOUD_NORDIC_API_KEY": "k", "WAYSCLOUD_NORDIC_BASE_URL": "ftp://x"}, "WAYSCLOUD_NORDIC_BASE_URL="),
    ({"PUBLIC_BASE_URL": "sms.example.no"}, "PUBLIC_BASE_URL="),
    ({"WAYSCLOUD_WEBHOOK_SECRET": "whsec_not base64!"}, "WAYSCLOUD_WEBHOOK_SECRET"),
    ({"WAYSCLOUD_DEADLINE_SECONDS": 110.0}, "must be less than SENDING_TIMEOUT_SECONDS"),
    ({"WAYSCLOUD_CONCURRENCY": 0}, "must be positive"),
    ({"WAYSCLOUD_READ_TIMEOUT_SECONDS": 0}, "must be positive"),
])
def test_check_refuses_what_would_fail_every_message(config, message):
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(")):
        check({**BASE, **config})


@pytest.mark.parametrize("config", [
    {},
    {"WAYSCLOUD_API_KEY": "", "WAYSCLOUD_DEADLINE_SECONDS": 500.0},  # no connection: timing is not checked
    {"WAYSCLOUD_NORDIC_API_KEY": "k", "WAYSCLOUD_NORDIC_BASE_URL": "http://127.0.0.1:8080",
     "WAYSCLOUD_NORDIC_WEBHOOK_SECRET": SECRET, "PUBLIC_BASE_URL": "https://sms.example.no"},
])
def test_check_accepts_good_settings(config):
    check({**BASE, **config})
