"""The developer's first journey: send with the API key, watch the message reach DELIVERED."""
from app.models import Status


def test_send_then_delivered(client, auth, run_jobs):
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hello"}, headers=auth)
    assert response.status_code == 200, response.json
    sent = response.json
    assert sent["status"] == Status.QUEUED
    assert sent["to"] == ["+4799999999"]
    assert sent["units_estimate"] == 1

    run_jobs()  # dispatch, then the simulator's delivery report

    message = client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth).json
    assert message["status"] == Status.DELIVERED
    assert message["sent_at"] and message["delivered_at"]


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}
