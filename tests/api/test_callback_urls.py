"""callback_url: https, and never an address inside the network smsdesk runs in (DESIGN §6)."""
import pytest

from app.services.errors import Invalid
from app.services.webhook_urls import check_callback_url

REFUSED = [
    "https://127.0.0.1/hook", "https://127.1.2.3/hook", "https://localhost/hook", "https://api.localhost/x",
    "https://10.0.0.5/hook", "https://172.16.0.1/hook", "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data", "https://0.0.0.0/hook", "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://[::ffff:10.0.0.1]/hook", "https://[2002:7f00:1::]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook", "https://[fe80::1]/hook", "https://[fd00::1]/hook",
    "https://224.0.0.1/hook", "https://example.com:0/hook",
    "http://example.com/hook", "ftp://example.com/hook", "https:///nohost", "https://exa mple.com/",
    "https://[::1/hook", "https://example.com:99999/",
]
ACCEPTED = ["https://example.com/webhooks/sms", "https://93.184.216.34/hook", "https://[2606:4700::1111]/x",
            "https://hooks.example.com:8443/sms?x=1"]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url):
    with pytest.raises(Invalid):
        check_callback_url(url, allow_http=False, allowed_hosts=frozenset())


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted(url):
    check_callback_url(url, allow_http=False, allowed_hosts=frozenset())


def test_allow_list_and_http_for_development():
    check_callback_url("http://127.0.0.1:8000/hook", allow_http=True, allowed_hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(Invalid):
        check_callback_url("http://127.0.0.1:8000/hook", allow_http=False, allowed_hosts=frozenset({"127.0.0.1"}))


def test_send_refuses_metadata_address_with_a_clear_message(client, auth):
    response = client.post("/v1/sms/send", headers=auth, json={
        "to": "+4799999999", "message": "Hi", "callback_url": "https://169.254.169.254/latest/meta-data"})
    assert response.status_code == 422
    assert "169.254.169.254" in response.json["detail"]
    assert response.json["errors"][0]["loc"] == ["body", "callback_url"]
