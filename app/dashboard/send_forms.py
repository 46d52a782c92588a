"""Forms of the send page and the messages log. Field names are the API's (``to``, ``to_contacts``,
``to_groups`` ...), so a service error that names a field lands next to the same field here; rules
the services enforce (numbers, text length, schedule) are left to them."""
from __future__ import annotations

import re
import uuid
from functools import lru_cache
from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from app.models import Status
from app.services.send import SendRequest

# A bound on the work one form can ask for; the recipient limit itself is the send service's.
MAX_NUMBERS = 10_000
NUMBER_SEPARATORS = re.compile(r"[,;\n\r]+")


def one_newline(text: str | None) -> str | None:
    # Browsers submit a textarea's line breaks as CR LF; the person typed one break (and htmx's
    # preview sends one), so the message carries one, as a phone would.
    return text.replace("\r\n", "\n") if isinstance(text, str) else text


def split_numbers(text: str | None) -> list[str]:
    """One number per line, or separated by commas or semicolons (spaces stay: "+47 912 34 567")."""
    return [part.strip() for part in NUMBER_SEPARATORS.split(text or "") if part.strip()]


def ids(values: list[str] | None) -> tuple[str, ...]:
    return tuple(values or ())


def new_idempotency_key() -> str:
    return f"dashboard-{uuid.uuid4()}"


@lru_cache(maxsize=1)
def timezone_choices() -> list[SelectChoice]:
    # "localtime" is the server's own zone file, not an IANA name: the same choice would mean
    # different zones on different machines.
    return [SelectChoice(zone) for zone in sorted(available_timezones() - {"localtime"})]


def _too_many_numbers(_form, field) -> None:
    if len(split_numbers(field.data)) > MAX_NUMBERS:
        raise ValidationError(f"At most {MAX_NUMBERS} numbers per form")


class SendForm(FlaskForm):
    message = TextAreaField("Message", filters=[one_newline],
                            render_kw={"rows": 6, "spellcheck": "true"})
    to = TextAreaField("Phone numbers", validators=[_too_many_numbers],
                       render_kw={"rows": 3, "placeholder": "+4791234567, one per line or separated by commas"})
    contact_search = StringField("Find contacts", render_kw={"type": "search", "autocomplete": "off"})
    to_contacts = SelectMultipleField("Contacts", choices=[], validate_choice=False,
                                      render_kw={"size": 6})
    to_groups = SelectMultipleField("Groups", choices=[], validate_choice=False,
                                    render_kw={"size": 4})
    sender_profile_id = SelectField("Sender", choices=[], validate_choice=False)
    # The raw text goes to the send service, which reads it in the chosen zone and explains mistakes.
    scheduled_at = StringField("Send at (optional)", render_kw={"type": "datetime-local"})
    timezone = SelectField("Time zone", choices=[], validate_choice=False)
    idempotency_key = HiddenField(validators=[
        InputRequired("This form is out of date; reload the page and try again."), Length(max=255)])

    # Each field that changes the preview asks for it, on the event that suits the control.
    LIVE = {"message": "input changed delay:300ms", "to": "input changed delay:300ms",
            "to_contacts": "change", "to_groups": "change", "scheduled_at": "change", "timezone": "change"}

    def enable_preview(self, url: str) -> None:
        """Make the fields post the form for a preview (never a send) to ``url`` as they change."""
        for name, trigger in self.LIVE.items():
            field = self[name]
            field.render_kw = {**(field.render_kw or {}), "hx-post": url, "hx-trigger": trigger,
                               "hx-vals": '{"intent": "preview"}', "hx-target": "#send-preview",
                               "hx-swap": "outerHTML", "hx-sync": "closest form:replace"}

    def send_request(self) -> SendRequest:
        return SendRequest(
            message=self.message.data or "",
            to=tuple(split_numbers(self.to.data)),
            to_contacts=ids(self.to_contacts.data),
            to_groups=ids(self.to_groups.data),
            sender_profile_id=self.sender_profile_id.data or None,
            scheduled_at=(self.scheduled_at.data or "").strip() or None,
            timezone=self.timezone.data or None,
        )


STATUS_CHOICES = [SelectChoice(status, status.capitalize()) for status in Status.ALL]
DIRECTION_CHOICES = [SelectChoice("", "Any"), SelectChoice("OUTBOUND", "Outbound"), SelectChoice("INBOUND", "Inbound")]


class MessageFilterForm(FlaskForm):
    """The log's filters: a GET form (no CSRF token: it changes nothing), read from the query."""

    class Meta:
        csrf = False

    status = SelectMultipleField("Status", choices=STATUS_CHOICES,
                                 filters=[lambda values: [v.strip().upper() for v in values] if values else values])
    direction = SelectField("Direction", choices=DIRECTION_CHOICES, default="")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    number = StringField("Number", validators=[Optional(), Length(max=64)],
                         render_kw={"type": "search", "placeholder": "+4791234567"})
    batch_id = StringField("Batch", validators=[Optional(), Length(max=64)], render_kw={"type": "search"})
