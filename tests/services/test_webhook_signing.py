"""Standard Webhooks signatures (DESIGN §6): known answers, rotation and every way verification fails."""
import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from app.services import webhook_signing as ws
from app.services.webhook_signing import WebhookVerificationError

# The test vector published by Standard Webhooks / Svix ("verifying webhooks manually").
VECTOR = {
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "timestamp": 1614265330,
    "body": '{"test": 2432232314}',
    "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
NOW = 1_700_000_000
BODY = b'{"event": "sms.status", "message_id": "m1", "status": "DELIVERED", "to": "+4799999999"}'
OLD, NEW = ws.new_secret(), ws.new_secret()


def _independent(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_published_vector():
    v = VECTOR
    assert ws.sign(v["secret"], v["msg_id"], v["timestamp"], v["body"]) == v["signature"]
    hdrs = {"webhook-id": v["msg_id"], "webhook-timestamp": str(v["timestamp"]), "webhook-signature": v["signature"]}
    assert ws.verify(v["secret"], hdrs, v["body"], now=v["timestamp"] + 10)


@pytest.mark.parametrize("msg_id,timestamp,body", [
    ("msg_1", NOW, BODY),
    ("evt_2Zb9", 0, b""),
    ("a.b.c", NOW, "Blåbær 😀".encode()),  # dots in the id and non-ASCII bodies are signed as bytes
    ("msg_3", NOW, b"\x00\xff binary"),
])
def test_known_answer_computed_independently(msg_id, timestamp, body):
    assert ws.sign(OLD, msg_id, timestamp, body) == _independent(OLD, msg_id, timestamp, body)


def test_str_body_is_signed_as_utf8_and_datetime_timestamp_as_seconds():
    when = datetime.fromtimestamp(NOW, UTC)
    assert ws.sign(OLD, "m", when, BODY.decode()) == ws.sign(OLD, "m", NOW, BODY)


@pytest.mark.parametrize("secret,key", [
    ("whsec_" + base64.b64encode(b"k" * 24).decode(), b"k" * 24),
    (base64.b64encode(b"k" * 24).decode(), b"k" * 24),  # the prefix is optional, as in the libraries
    (b"raw key bytes", b"raw key bytes"),
])
def test_decode_secret(secret, key):
    assert ws.decode_secret(secret) == key


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", "", b""])
def test_decode_secret_refuses_garbage(secret):
    with pytest.raises(ValueError):
        ws.decode_secret(secret)


def test_new_secret_is_prefixed_base64_of_32_random_bytes():
    secret = ws.new_secret()
    assert secret.startswith("whsec_")
    assert len(ws.decode_secret(secret)) == 32
    assert secret != ws.new_secret()
    assert len(ws.decode_secret(ws.new_secret(24))) == 24
    with pytest.raises(ValueError):
        ws.new_secret(16)


def test_headers_single_secret():
    assert ws.headers(OLD, "msg_1", NOW, BODY) == {
        "webhook-id": "msg_1", "webhook-timestamp": str(NOW),
        "webhook-signature": _independent(OLD, "msg_1", NOW, BODY)}


def test_rotation_signs_with_every_secret_and_either_verifies():
    hdrs = ws.headers([NEW, OLD], "msg_1", NOW, BODY)
    assert hdrs["webhook-signature"].split(" ") == [_independent(s, "msg_1", NOW, BODY) for s in (NEW, OLD)]
    for receiver_knows in (NEW, OLD, [OLD, NEW], [ws.new_secret(), NEW]):
        assert ws.verify(receiver_knows, hdrs, BODY, now=NOW)
    with pytest.raises(WebhookVerificationError):
        ws.verify(ws.new_secret(), hdrs, BODY, now=NOW)


def test_verify_ignores_header_case_and_unknown_signature_versions():
    good = ws.sign(OLD, "msg_1", NOW, BODY)
    hdrs = {"Webhook-Id": "msg_1", "WEBHOOK-TIMESTAMP": str(NOW),
            "webhook-signature": f"v1a,c29tZXRoaW5n v2,{good[3:]}  {good}"}
    assert ws.verify(OLD, hdrs, BODY, now=NOW)


def _signed(**override):
    hdrs = ws.headers(OLD, "msg_1", NOW, BODY)
    hdrs.update(override)
    return {k: v for k, v in hdrs.items() if v is not None}


FAILURES = [
    # (case, headers, body, now, reason)
    ("tampered body", _signed(), BODY.replace(b"DELIVERED", b"FAILED"), NOW, "no_matching_signature"),
    ("body with a trailing newline", _signed(), BODY + b"\n", NOW, "no_matching_signature"),
    ("another id (replayed signature)", _signed(**{"webhook-id": "msg_2"}), BODY, NOW, "no_matching_signature"),
    ("timestamp changed", _signed(**{"webhook-timestamp": str(NOW + 1)}), BODY, NOW, "no_matching_signature"),
    ("signature from another secret", _signed(**{"webhook-signature": ws.sign(NEW, "msg_1", NOW, BODY)}),
     BODY, NOW, "no_matching_signature"),
    ("signature without version", _signed(**{"webhook-signature": ws.sign(OLD, "msg_1", NOW, BODY)[3:]}),
     BODY, NOW, "no_matching_signature"),
    ("wrong version label", _signed(**{"webhook-signature": "v2," + ws.sign(OLD, "msg_1", NOW, BODY)[3:]}),
     BODY, NOW, "no_matching_signature"),
    ("too old", _signed(), BODY, NOW + 301, "timestamp_too_old"),
    ("too far in the future", _signed(), BODY, NOW - 301, "timestamp_too_new"),
    ("timestamp not a number", _signed(**{"webhook-timestamp": "soon"}), BODY, NOW, "invalid_timestamp"),
    ("negative timestamp", _signed(**{"webhook-timestamp": "-1"}), BODY, NOW, "invalid_timestamp"),
    ("missing id", _signed(**{"webhook-id": None}), BODY, NOW, "missing_headers"),
    ("missing timestamp", _signed(**{"webhook-timestamp": None}), BODY, NOW, "missing_headers"),
    ("missing signature", _signed(**{"webhook-signature": None}), BODY, NOW, "missing_headers"),
    ("empty signature", _signed(**{"webhook-signature": ""}), BODY, NOW, "missing_headers"),
]


@pytest.mark.parametrize("case,hdrs,body,now,reason", FAILURES, ids=[f[0] for f in FAILURES])
def test_verification_failures(case, hdrs, body, now, reason):
    with pytest.raises(WebhookVerificationError) as failure:
        ws.verify(OLD, hdrs, body, now=now)
    assert failure.value.reason == reason
    assert str(failure.value)  # a message a person can read


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_tolerance_edges_are_accepted(offset):
    assert ws.verify(OLD, _signed(), BODY, now=NOW + offset)


def test_custom_tolerance_and_datetime_now():
    assert ws.verify(OLD, _signed(), BODY, now=datetime.fromtimestamp(NOW + 3000, UTC), tolerance=3600)
    with pytest.raises(WebhookVerificationError):
        ws.verify(OLD, _signed(), BODY, now=NOW + 61, tolerance=60)


@pytest.mark.parametrize("msg_id,timestamp", [
    ("", NOW), ("msg 1", NOW), ("msg\n1", NOW), ("msg_1", -5), ("msg_1", 1.5), ("msg_1", True),
    ("msg_1", datetime(2024, 1, 1)),  # naive: ambiguous
])
def test_sign_refuses_bad_ids_and_timestamps(msg_id, timestamp):
    with pytest.raises(ValueError):
        ws.sign(OLD, msg_id, timestamp, BODY)


def test_headers_need_a_secret():
    with pytest.raises(ValueError):
        ws.headers([], "msg_1", NOW, BODY)
