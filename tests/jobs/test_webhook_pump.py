"""The webhook pump in a real worker process: a receiver that hangs holds up no SMS."""
from __future__ import annotations

from collections import Counter

import pytest

from app.models import Status
from tests.jobs.conftest import statuses, wait_until
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def hanging_receiver(settings):
    settings(ALLOW_HTTP_CALLBACKS=True, WEBHOOK_ALLOWED_HOSTS=frozenset({"127.0.0.1"}))
    server = WebhookReceiver()
    server.hang.set()
    yield server
    server.stop()


def test_a_hanging_receiver_does_not_hold_up_sending(client, auth, start_worker, hanging_receiver):
    start_worker(ALLOW_HTTP_CALLBACKS="1", WEBHOOK_ALLOWED_HOSTS="127.0.0.1", WEBHOOK_TIMEOUT_SECONDS="60")
    with_callback = client.post("/v1/sms/send", headers=auth, json={
        "to": [f"+4791{i:06d}" for i in range(20)], "message": "Hi", "callback_url": hanging_receiver.url()})
    wait_until(lambda: hanging_receiver.hanging, 30, what="the pump to reach the receiver")

    plain = client.post("/v1/sms/send", headers=auth, json={
        "to": [f"+4792{i:06d}" for i in range(200)], "message": "Hi"})
    wait_until(lambda: statuses(plain.json["message_ids"])[Status.DELIVERED] == 200, 30,
               what="the plain messages to be delivered while the receiver hangs")
    assert statuses(with_callback.json["message_ids"])[Status.DELIVERED] == 20
    assert hanging_receiver.requests == []  # nothing answered yet: every POST is still hanging
    assert hanging_receiver.hanging <= 4  # WEBHOOK_PER_ENDPOINT: the other events wait their turn

    hanging_receiver.released.set()
    wait_until(lambda: len(hanging_receiver.accepted) == 60, 60, what="all 60 events once released")
    assert Counter(r.id for r in hanging_receiver.accepted).most_common(1)[0][1] == 1
