"""The guide's /v1/dashboard/sms paths answer a person signed in to the dashboard (API.md: session
tokens for the dashboard mirror); /v1/sms stays API-key only."""
import pytest

BODY = {"to": "+4799999999", "message": "From the dashboard session"}


def test_a_signed_in_person_reads_their_accounts_messages(login_as):
    browser = login_as("viewer")
    response = browser.get("/v1/dashboard/sms/messages")
    assert response.status_code == 200
    assert response.json["total"] == 0


@pytest.mark.parametrize("role", ["admin", "marketer"])
def test_writers_send_with_the_pages_csrf_token(login_as, role):
    browser = login_as(role)
    response = browser.request("POST", "/v1/dashboard/sms/send", json=BODY, headers={"X-CSRFToken": browser.token})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "QUEUED"


def test_a_session_send_without_the_csrf_token_is_refused(login_as):
    browser = login_as("admin")
    response = browser.request("POST", "/v1/dashboard/sms/send", json=BODY)
    assert response.status_code == 400
    assert "CSRF" in response.json["detail"]


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_readers_may_not_send(login_as, role):
    browser = login_as(role)
    response = browser.request("POST", "/v1/dashboard/sms/send", json=BODY, headers={"X-CSRFToken": browser.token})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_the_session_does_not_open_the_api_key_paths(login_as):
    assert login_as("admin").get("/v1/sms/messages").status_code == 401
