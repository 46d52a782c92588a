"""The upstream smsdesk calls us back: its signed ``sms.status`` webhooks (the lead's pump,
``app.services.webhooks.pump_once``) reach our ``/v1/providers/wayscloud/dlr`` over real HTTP, are
verified with ``WAYSCLOUD_WEBHOOK_SECRET`` and deliver our message without any polling."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import DeliveryReport, DeliveryState, Status, WebhookDelivery
from tests.jobs.conftest import message, statuses
from tests.jobs.test_wayscloud_upstream import (  # noqa: F401 - the fixtures register under their own names
    by_ref,
    send,
    serve,
    through_upstream_fixture,
    upstream_app_fixture,
    upstream_fixture,
    upstream_url_fixture,
)


@pytest.fixture
def our_url(app):
    url, stop = serve(app)
    yield url
    stop()


def test_the_upstreams_signed_webhooks_deliver_our_messages(client, auth, through_upstream, our_url, settings,
                                                            run_jobs):
    from app.services.webhooks import pump_once

    upstream = through_upstream
    settings(PUBLIC_BASE_URL=our_url, WAYSCLOUD_WEBHOOK_SECRET=upstream.webhook_secret,
             WAYSCLOUD_POLL_AFTER_SECONDS=3600)  # no polling: only the webhooks can tell us
    ours = send(client, auth, to=["+4799999999", "+4791230000"])["message_ids"]
    run_jobs()
    theirs = by_ref(upstream)
    assert {m.callback_url for m in theirs.values()} == {f"{our_url}/v1/providers/wayscloud/dlr"}

    upstream.work()  # dispatched and reported at the upstream: DELIVERED and FAILED there
    db.session.commit()  # our test session holds nothing while our server writes
    attempts = upstream.run(pump_once)

    assert attempts == 6  # SENDING, SENT and a final status per message, one POST each
    assert statuses(ours) == {Status.DELIVERED: 1, Status.FAILED: 1}
    for mid in ours:
        assert message(mid).provider_message_id == theirs[mid].id
    failed = next(message(mid) for mid in ours if message(mid).status == Status.FAILED)
    assert (failed.error_code, failed.error_message) == ("UNKNOWN_SUBSCRIBER", "Unknown subscriber")
    applied = db.session.scalars(select(DeliveryReport.applied).where(DeliveryReport.provider == "wayscloud")).all()
    assert sorted(applied) == [True, True]
    states = upstream.run(lambda: db.session.scalars(select(WebhookDelivery.state)).all())
    assert states == [DeliveryState.DELIVERED] * 6  # every event answered 2xx by us


def test_webhooks_signed_with_another_secret_are_refused(client, auth, through_upstream, our_url, settings, run_jobs):
    from app.services import webhook_signing
    from app.services.webhooks import pump_once

    upstream = through_upstream
    settings(PUBLIC_BASE_URL=our_url, WAYSCLOUD_WEBHOOK_SECRET=webhook_signing.new_secret(),
             WAYSCLOUD_POLL_AFTER_SECONDS=3600)
    [mid] = send(client, auth, to="+4799999999")["message_ids"]
    run_jobs()
    upstream.work()
    db.session.commit()
    upstream.run(pump_once)
    assert message(mid).status == Status.SENT  # refused (401): the upstream will retry later
