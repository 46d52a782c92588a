"""GET /overview (the guide's "monitor overall usage") is /status, this month's /usage and /stats
in one answer: the same figures for the same data, on both paths."""
from __future__ import annotations


def get(client, path: str, headers: dict) -> dict:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def test_overview_equals_status_usage_and_stats(client, auth, run_jobs):
    for to in ("+4799999999", "+4798888888", "+4791230000"):  # the simulator fails numbers ending 0000
        assert client.post("/v1/sms/send", json={"to": to, "message": "Hello"}, headers=auth).status_code == 200
    run_jobs()

    overview = get(client, "/v1/sms/overview", auth)
    status = get(client, "/v1/sms/status", auth)
    assert {key: value for key, value in overview.items() if key not in ("usage", "stats")} == status
    assert overview["usage"] == get(client, "/v1/sms/usage", auth)
    assert overview["stats"] == get(client, "/v1/sms/stats", auth)
    # Not all zeros: the comparison above would also hold on an empty account.
    assert overview["messages_today"] == 3 and overview["usage"]["messages_sent"] == 3
    assert overview["stats"]["status_breakdown"] == {"DELIVERED": 2, "FAILED": 1}


def test_overview_at_the_guides_path_with_a_bearer_token(client, api_key):
    bearer = {"Authorization": f"Bearer {api_key}"}
    assert get(client, "/v1/dashboard/sms/overview", bearer) == get(client, "/v1/sms/overview", bearer)
