"""Sends share a dispatch job: one waiting job serves every send made meanwhile, and a send made
after the job started gets a job of its own (nothing is left QUEUED without one)."""
from app.jobs.queue import DISPATCH_PENDING_KEY, get_queue
from app.extensions import redis_conn
from app.models import Status
from tests.jobs.conftest import statuses


def _send(client, auth, number):
    response = client.post("/v1/sms/send", json={"to": number, "message": "Hi"}, headers=auth)
    assert response.status_code == 200
    return response.json["sms_message_id"]


def test_waiting_job_serves_later_sends(client, auth, run_jobs):
    ids = [_send(client, auth, f"+479100001{i}") for i in range(3)]
    assert len(get_queue()) == 1
    run_jobs()
    assert statuses(ids) == {Status.DELIVERED: 3}


def test_a_send_after_the_job_started_gets_its_own_job(client, auth, run_jobs):
    first = _send(client, auth, "+4791000001")
    run_jobs()  # the job started: the pending mark is gone
    assert not redis_conn().exists(DISPATCH_PENDING_KEY)
    second = _send(client, auth, "+4791000002")
    assert len(get_queue()) == 1
    run_jobs()
    assert statuses([first, second]) == {Status.DELIVERED: 2}
