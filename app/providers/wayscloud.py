"""The WAYSCloud provider: real SMS through a WAYSCloud account's REST API (or another smsdesk,
which speaks the same API).

- ``send``: one ``POST /v1/sms/send`` per message, ``customer_ref`` = our message id (also sent
  as ``Idempotency-Key``, which smsdesk honours), on a bounded thread pool. A message the upstream
  refuses (4xx) is FAILED with its error; one whose fate is unknown (no answer after the request
  left, a 5xx the look-up could not settle) or that could not be tried (upstream unreachable,
  the batch's time spent) is left out of the results: it stays SENDING, and the reconciler asks
  the upstream about it once no request for it can still be in flight.
- ``query``: the reconciler's question, ``GET /v1/sms/messages?customer_ref=<our id>``. A message
  the upstream has is recorded SENT with its id and never submitted again.
- ``poll``: ``GET /v1/sms/messages/{id}`` for messages whose delivery report did not come
  (``app.services.upstream_poll``).
- callbacks: the upstream's ``sms.status`` and ``sms.inbound`` webhooks (smsdesk's shapes; WAYSCloud
  documents none) at ``/v1/providers/<code>/dlr`` and ``/inbound``, authenticated by the callback
  token or by the upstream's Standard Webhooks signature (``WAYSCLOUD_WEBHOOK_SECRET``).

Sender: our ``from_number`` goes as ``sender_id`` (the SDK's field; the upstream picks its approved
profile with that sender id), except our platform's shared number (``PLATFORM_SENDER_ID``), which
the upstream account does not have: the upstream's default profile sends those.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from urllib.parse import quote

from app.providers import wayscloud_settings
from app.providers.base import CallbackError, Inbound, Outbound, Report, SendResult
from app.providers.callbacks import MAX_CALLBACK_ITEMS, MAX_INBOUND_CHARACTERS, Reader, raise_if
from app.providers.wayscloud_http import (
    BREAKING_STATUSES, CREDENTIAL_STATUSES, OK, REFUSED, UNKNOWN, Answer, Budget, Client,
)
from app.providers.wayscloud_settings import WaysCloudSettings
from app.services.webhook_signing import WebhookVerificationError, verify

log = logging.getLogger(__name__)

DELIVERED, FAILED = "DELIVERED", "FAILED"
# The upstream's statuses -> (our report's status, error code when the upstream gives none).
# None: still on its way (no report yet). Statuses not listed are read as still on the way too:
# a new upstream status must not fail messages or make its callbacks unreadable.
UPSTREAM_STATUSES: dict[str, tuple[str, str | None] | None] = {
    "QUEUED": None,
    "SCHEDULED": None,
    "SENDING": None,
    "SENT": None,
    "RECEIVED": None,  # an inbound message: never a report
    "DELIVERED": (DELIVERED, None),
    "FAILED": (FAILED, None),
    "UNDELIVERED": (FAILED, "UNDELIVERED"),
    "UNDELIVERABLE": (FAILED, "UNDELIVERABLE"),
    "REJECTED": (FAILED, "REJECTED"),
    "EXPIRED": (FAILED, "EXPIRED"),
    "CANCELLED": (FAILED, "CANCELLED_UPSTREAM"),  # cancelled at the upstream: it will never be sent
}


def final_status(upstream_status: object) -> tuple[str, str | None] | None:
    """(DELIVERED or FAILED, default error code) for a final upstream status, else None."""
    if not isinstance(upstream_status, str):
        return None
    return UPSTREAM_STATUSES.get(upstream_status.strip().upper())


class UpstreamError(RuntimeError):
    """The upstream could not be asked at all (the whole batch or look-up stays for later)."""


class WaysCloudProvider:
    code = wayscloud_settings.NAME  # the registry's name; an instance's code may be labelled
    labelled = True  # "wayscloud.<label>" codes are connections of this provider

    codes = staticmethod(wayscloud_settings.codes)
    settings = staticmethod(wayscloud_settings.settings)
    check = staticmethod(wayscloud_settings.check)

    def __init__(self, options: WaysCloudSettings) -> None:
        self.code = options.code
        self.options = options
        self.client = Client(options)

    def close(self) -> None:
        self.client.close()

    # -- sending ---------------------------------------------------------------------------------

    def send(self, batch: list[Outbound]) -> list[SendResult]:
        if not batch:
            return []
        budget = Budget(self.options.deadline)
        outcomes = self._each(batch, lambda item: self._submit(item, budget))
        results = [result for result in outcomes if result is not None]
        if not results:
            raise UpstreamError(f"{self.code}: none of {len(batch)} messages could be submitted"
                                f"{': ' + budget.broken if budget.broken else ''}; left to the reconciler")
        if len(results) < len(batch):
            log.warning("%s: %d of %d messages have no answer yet; the reconciler settles them",
                        self.code, len(batch) - len(results), len(batch))
        return results

    def _submit(self, item: Outbound, budget: Budget) -> SendResult | None:
        answer = self.client.call(
            "POST", "/v1/sms/send", budget, idempotent=False, json=self._body(item),
            headers={"Idempotency-Key": item.reference}, recheck=lambda: self._recheck(item.reference, budget))
        if answer.kind == OK:
            pmid = _text(answer.body, "sms_message_id")
            if pmid is None:
                log.warning("%s: accepted %s without sms_message_id; left to the reconciler", self.code, item.reference)
                return None
            return SendResult(item.reference, pmid)
        if answer.kind == REFUSED and answer.status not in BREAKING_STATUSES:
            return SendResult(item.reference, error_code=answer.error_code, error_message=answer.error_message)
        return None

    def _body(self, item: Outbound) -> dict:
        body = {"to": item.to, "message": item.body, "customer_ref": item.reference}
        if item.sender and item.sender != self.options.platform_sender:
            body["sender_id"] = item.sender
        if self.options.callback_base:
            body["callback_url"] = self.options.callback_base + "/dlr"
        return body

    def _recheck(self, reference: str, budget: Budget) -> Answer | None:
        """After a 5xx: does the upstream have the message after all? OK with its id if it does,
        None if it does not (submit again), UNKNOWN if it cannot tell."""
        answer, pmid = self._find(reference, budget)
        if answer.kind != OK:
            return Answer(UNKNOWN, answer.status, reason=f"look-up after a failed submission: {answer.reason}")
        return Answer(OK, 200, {"sms_message_id": pmid}) if pmid else None

    # -- asking the upstream -----------------------------------------------------------------------

    def query(self, references: list[str]) -> dict[str, SendResult]:
        """What the upstream has of these references. Raises when any could not be asked: an
        absent reference means "never received" and gets submitted again, so it must be sure."""
        if not references:
            return {}
        budget = Budget(self.options.deadline)
        found = self._each(references, lambda ref: (ref, *self._find(ref, budget)))
        unasked = [ref for ref, answer, _ in found if answer.kind != OK]
        if unasked:
            raise UpstreamError(f"{self.code}: could not ask the upstream about {len(unasked)} of "
                                f"{len(references)} messages ({budget.broken or 'no answer'}); asking again later")
        return {ref: SendResult(ref, pmid) for ref, _, pmid in found if pmid}

    def _find(self, reference: str, budget: Budget) -> tuple[Answer, str | None]:
        """The upstream's id of the message it has with our reference as customer_ref (its first
        one, should there be several), or None."""
        answer = self.client.call("GET", "/v1/sms/messages", budget, idempotent=True,
                                  params={"customer_ref": reference, "direction": "OUTBOUND", "page_size": 50})
        if answer.kind != OK:
            return answer, None
        listed = answer.body.get("messages") if isinstance(answer.body, dict) else None
        if not isinstance(listed, list):
            return Answer(UNKNOWN, answer.status, reason="the message list has no 'messages' array"), None
        # Checked here too: an upstream that ignored the filter would list other messages.
        ours = [m for m in listed if isinstance(m, dict) and m.get("customer_ref") == reference and _text(m, "id")]
        ours.sort(key=lambda m: str(m.get("created_at") or ""))
        return answer, (ours[0]["id"] if ours else None)

    def poll(self, items: list[tuple[str, str]]) -> dict[str, Report | None]:
        """For ``(reference, provider_message_id)`` pairs: the report each message's current
        upstream status makes (None: no news yet, or unknown there). Pairs the upstream could not
        be asked about are absent."""
        budget = Budget(self.options.deadline)
        answers = self._each(items, lambda item: (item, self._status(item, budget)))
        return {item[0]: report for item, (asked, report) in answers if asked}

    def _status(self, item: tuple[str, str], budget: Budget) -> tuple[bool, Report | None]:
        reference, pmid = item
        answer = self.client.call("GET", f"/v1/sms/messages/{quote(pmid, safe='')}", budget, idempotent=True,
                                  breaking=CREDENTIAL_STATUSES)
        if answer.kind == OK and isinstance(answer.body, dict):
            return True, report_from_message(reference, pmid, answer.body)
        if answer.kind == REFUSED:  # e.g. 404: the upstream does not know it (any more)
            log.warning("%s: upstream message %s (ours %s): %s", self.code, pmid, reference, answer.reason)
        return answer.kind in (OK, REFUSED), None

    def _each(self, items: list, work) -> list:
        """``work`` over ``items`` on at most WAYSCLOUD_CONCURRENCY threads, results in order."""
        workers = min(self.options.concurrency, len(items))
        if workers <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{self.code}-http") as pool:
            return list(pool.map(work, items))

    # -- callbacks ---------------------------------------------------------------------------------

    def authenticate(self, headers, body: bytes) -> bool:
        """A callback signed by the upstream (Standard Webhooks, the account's webhook secret)."""
        if not self.options.webhook_secret:
            return False
        try:
            return verify(self.options.webhook_secret, headers, body)
        except WebhookVerificationError:
            return False

    def parse_reports(self, payload: object) -> list[Report]:
        """``sms.status`` events, one object or a list: a report for each final status."""
        problems, found = [], []
        for loc, item in _events(payload):
            read = Reader(item, loc, problems)
            _event_is(read, "sms.status")
            pmid = read.text(("message_id",), 128)
            status = read.text(("status",), 32)
            values = dict(reference=read.text(("customer_ref",), 255, required=False), provider_message_id=pmid,
                          error_code=read.text(("error_code",), 64, required=False),
                          error_message=read.text(("error_message",), 500, required=False),
                          occurred_at=read.time("timestamp"))
            final = final_status(status)
            if not read.failed and final:
                found.append(Report(status=final[0], **{**values, "error_code": values["error_code"] or final[1]}))
        raise_if(problems)
        return found

    def parse_inbound(self, payload: object) -> list[Inbound]:
        """``sms.inbound`` events, one object or a list."""
        problems, found = [], []
        for loc, item in _events(payload):
            read = Reader(item, loc, problems)
            _event_is(read, "sms.inbound")
            values = (read.text(("from",), 32), read.text(("to",), 32),
                      read.text(("message",), MAX_INBOUND_CHARACTERS, strip=False),
                      read.text(("message_id",), 128), read.time("received_at"))
            if not read.failed:
                found.append(Inbound(*values))
        raise_if(problems)
        return found


def report_from_message(reference: str, pmid: str, message: dict) -> Report | None:
    """The report an upstream message object makes: None while it is on its way."""
    final = final_status(message.get("status"))
    if final is None:
        return None
    status, default_code = final
    stamp = message.get("delivered_at" if status == DELIVERED else "failed_at")
    return Report(status=status, reference=reference, provider_message_id=pmid,
                  error_code=((_text(message, "error_code") or default_code) if status == FAILED else None),
                  error_message=(_text(message, "error_message") if status == FAILED else None),
                  occurred_at=_time(stamp))


def _events(payload: object) -> list[tuple[list, object]]:
    """The events of a callback with where each is: a list of them, or one bare object."""
    if isinstance(payload, list):
        if not payload or len(payload) > MAX_CALLBACK_ITEMS:
            raise CallbackError([{"loc": ["body"], "type": "list_type",
                                  "msg": f"must be one event object or a list of 1 to {MAX_CALLBACK_ITEMS}"}])
        return [([i], item) for i, item in enumerate(payload)]
    if isinstance(payload, dict):
        return [([], payload)]
    raise CallbackError([{"loc": ["body"], "msg": "must be a JSON object or a list of them", "type": "dict_type"}])


def _event_is(read: Reader, expected: str) -> None:
    event = read.text(("event",), 32, required=False)
    if event is not None and event != expected:
        read.problem("event", f"must be {expected}", "literal_error")


def _text(body: object, name: str, limit: int = 500) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    return value[:limit] if isinstance(value, str) and value else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
