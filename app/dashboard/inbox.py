"""The inbox: conversations with the people who text the account's numbers (everyone reads them);
admins and marketers reply. While the carrier simulator is the provider, they can also make texts
arrive, to try STOP, keywords and replies without a phone.

- ``/inbox``: the threads, the person's latest text first; with ``HX-Request`` (search, pager)
  the list alone.
- ``/inbox/<number>?via=<our number>``: one conversation, oldest first; with ``HX-Request`` its
  messages alone (they poll while a reply is on its way). POST to the same URL sends a reply.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, SENDER_EDITORS, role_required
from app.dashboard.contacts import page_number, show_field_error
from app.dashboard.inbox_forms import ReplyForm, SimulateInboundForm, SimulateReplyForm, profile_choices
from app.dashboard.pages import is_htmx, render, show_error
from app.dashboard.send_forms import new_idempotency_key
from app.services import inbox as inbox_service
from app.services import simulator_inbound as simulator
from app.services.errors import ServiceError
from app.services.inbox import Conversation
from app.sms.errors import InvalidMessage, SmsError

PAGE_SIZE = 25
MAX_SEARCH = 200
POLLER = "thread-messages"  # the element that polls: its answers leave the flash area alone
SIMULATE_LABELS = {"from_number": "From", "text": "Text", "to": "To our number"}


# -- the thread list ---------------------------------------------------------------------------------

@dashboard.get("/inbox")
@role_required(*EVERYONE)
def inbox():
    search = (request.args.get("search") or "").strip()[:MAX_SEARCH]
    context = _threads(search, page_number())
    if not is_htmx():
        context.update(_simulator(SimulateInboundForm(formdata=None)))
    return render("inbox/index.html", "inbox/_threads.html", **context)


def _threads(search: str, page: int) -> dict:
    return {"result": inbox_service.threads(current_user.account, search, page, PAGE_SIZE), "search": search}


def _simulator(form: SimulateInboundForm) -> dict:
    """The simulator's control, while it is the provider in use."""
    if not simulator.simulator_in_use(current_user.account):
        return {"simulate": None}
    numbers = simulator.our_numbers(current_user.account)
    form.to.choices = profile_choices(numbers)
    if not form.to.data and numbers:
        form.to.data = numbers[0].id
    return {"simulate": form}


@dashboard.post("/inbox/simulate")
@role_required(*SENDER_EDITORS)
def simulate_inbound():
    if not simulator.simulator_in_use(current_user.account):
        abort(404)
    form = SimulateInboundForm()
    if form.validate_on_submit():
        try:
            received = simulator.simulate_inbound(current_user.account, form.from_number.data or "",
                                                  form.text.data or "", form.to.data or None)
        except ServiceError as exc:
            show_field_error(form, exc, SIMULATE_LABELS)
        else:
            flash(simulator.describe(received), "success")
            if not is_htmx():
                return redirect(url_for("dashboard.inbox"), 303)
            form.text.data = ""  # the same person and number stay chosen for their next text
            return render("inbox/index.html", "inbox/_simulate.html", oob=("inbox/_threads.html",),
                          **_threads("", 1), **_simulator(form))
    context = _simulator(form) if is_htmx() else {**_threads("", 1), **_simulator(form)}
    return render("inbox/index.html", "inbox/_simulate.html", http_status=422, **context)


# -- one conversation --------------------------------------------------------------------------------

def _number_or_404(raw: str) -> str:
    try:
        return inbox_service.read_number(current_user.account, raw)
    except ServiceError:
        abort(404)


def _via() -> str | None:
    return (request.values.get("via") or "").strip()[:32] or None


def _conversation(number: str, before: str | None = None) -> Conversation:
    """The conversation, or 404 when the account has none with this number (another account's
    conversation included)."""
    found = inbox_service.conversation(current_user.account, number, _via(), before=before)
    if not found.messages and before is None:
        abort(404)
    return found


def _thread_context(found: Conversation, form: ReplyForm | None = None, **context) -> dict:
    if form is None:
        form = ReplyForm.fresh(found.reply_profiles, found.written_to)
    simulate = SimulateReplyForm(formdata=None) if simulator.simulator_in_use(current_user.account) else None
    return {"conversation": found, "form": form, "simulate_reply": simulate, "via": found.our_number,
            "before": request.args.get("before"), **context}


@dashboard.get("/inbox/<number>")
@role_required(*EVERYONE)
def thread(number: str):
    found = _conversation(_number_or_404(number), request.args.get("before") or None)
    context = _thread_context(found)
    if is_htmx() and request.headers.get("HX-Trigger") == POLLER:
        return render_template("inbox/_messages.html", **context)
    return render("inbox/thread.html", "inbox/_messages.html", **context)


@dashboard.post("/inbox/<number>")
@role_required(*SENDER_EDITORS)
def reply(number: str):
    person = _number_or_404(number)
    found = _conversation(person)
    form = ReplyForm()
    form.offer(found.reply_profiles, found.written_to)
    # Without a profile that may reply the answer is the notice that says so (``_reply.html``).
    if found.reply_profiles and form.validate_on_submit():
        try:
            sent = inbox_service.reply(current_user.account, person, form.message.data or "",
                                       form.sender_profile_id.data, idempotency_key=form.idempotency_key.data)
        except (ServiceError, SmsError) as exc:
            if exc.code == "idempotency_key_reused":  # sent already, then changed: a new reply
                form.idempotency_key.data = new_idempotency_key()
            show_error(form, exc, _reply_field(exc))
        else:
            flash(f"Reply to {sent.to_number} queued from {sent.from_number}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.thread", number=person, via=found.our_number), 303)
            found = _conversation(person)
            return render("inbox/thread.html", "inbox/_reply.html", oob=("inbox/_messages.html",),
                          **_thread_context(found))
    return render("inbox/thread.html", "inbox/_reply.html", http_status=422, **_thread_context(found, form))


def _reply_field(exc: ServiceError | SmsError) -> str | None:
    if isinstance(exc, InvalidMessage):
        return "message"
    if isinstance(exc, ServiceError) and exc.code in ("reply_not_possible", "sender_not_approved",
                                                      "unknown_sender_profile"):
        return "sender_profile_id"
    return None  # an opted-out number and the like: above the form


@dashboard.post("/inbox/<number>/simulate-reply")
@role_required(*SENDER_EDITORS)
def simulate_reply(number: str):
    if not simulator.simulator_in_use(current_user.account):
        abort(404)
    person = _number_or_404(number)
    found = _conversation(person)
    form = SimulateReplyForm()
    if form.validate_on_submit():
        try:
            received = simulator.simulate_in_thread(current_user.account, person, found.our_number,
                                                    form.text.data or "")
        except ServiceError as exc:
            show_field_error(form, exc, {"text": "Their reply"}, default="text")
        else:
            flash(simulator.describe(received), "success")
            if not is_htmx():
                return redirect(url_for("dashboard.thread", number=person, via=found.our_number), 303)
            return render("inbox/thread.html", "inbox/_simulate_reply.html", oob=("inbox/_messages.html",),
                          **_thread_context(_conversation(person), simulate_reply=SimulateReplyForm(formdata=None)))
    return render("inbox/thread.html", "inbox/_simulate_reply.html", http_status=422,
                  **_thread_context(found, simulate_reply=form))
