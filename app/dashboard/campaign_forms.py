"""Forms of the campaign pages: the composer, the dispatch (send now / schedule) and the test send.

Field names are the service's (``name``, ``group_ids``, ``excluded_group_ids`` ...), so an error
that names a field lands next to the same field here. The rules themselves (text, groups, sender,
zone, window, schedule) are the campaigns service's; the forms only check that something was given.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Regexp

from app.dashboard.budget_forms import AmountField
from app.dashboard.send_forms import ids, one_newline, timezone_choices
from app.services.campaigns import NAME_MAX, CampaignSpec, Commitment
from app.services.errors import ServiceError
from app.sms import MERGE_FIELDS, to_local
from app.sms.errors import InvalidMessage, InvalidTimezone, ScheduleError, SmsError

# What each merge-field button inserts: the first name comes with a fallback, because a greeting
# is where an empty field shows most ("Hi ," rather than "Hi there,").
FALLBACKS = {"first_name": "there"}
MERGE_LABELS = {"first_name": "First name", "last_name": "Last name", "name": "Full name",
                "company_name": "Company"}
MERGE_BUTTONS = [(MERGE_LABELS.get(f, f), "{" + f + ("|" + FALLBACKS[f] if f in FALLBACKS else "") + "}")
                 for f in MERGE_FIELDS]


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


class CampaignForm(FlaskForm):
    name = StringField("Name", filters=[_stripped], validators=[
        InputRequired("Enter a name."), Length(max=NAME_MAX, message=f"At most {NAME_MAX} characters.")])
    sender_profile_id = SelectField("Sender", choices=[], validate_choice=False)
    group_ids = SelectMultipleField("Groups", choices=[], validate_choice=False, render_kw={"size": 5})
    excluded_group_ids = SelectMultipleField("Leave out members of", choices=[], validate_choice=False,
                                             render_kw={"size": 4})
    message = TextAreaField("Message", filters=[one_newline], render_kw={"rows": 7, "spellcheck": "true"})
    timezone = SelectField("Time zone", choices=[], validate_choice=False)
    window_start = StringField("Send only from", filters=[_stripped], render_kw={"type": "time"})
    window_end = StringField("until", filters=[_stripped], render_kw={"type": "time"})
    spend_cap = AmountField("Spending cap", render_kw={"inputmode": "decimal", "autocomplete": "off"})
    test_number = StringField("Send a test to", filters=[_stripped],
                              render_kw={"type": "tel", "placeholder": "+4791234567", "autocomplete": "tel"})

    # The fields that change what the preview shows, and the event that suits each control.
    LIVE = {"message": "input changed delay:400ms", "sender_profile_id": "change", "group_ids": "change",
            "excluded_group_ids": "change", "window_start": "change", "window_end": "change",
            "spend_cap": "change"}

    def enable_preview(self, url: str) -> None:
        """Make the fields post the form for a preview (never a save) to ``url`` as they change."""
        for name, trigger in self.LIVE.items():
            field = self[name]
            field.render_kw = {**(field.render_kw or {}), "hx-post": url, "hx-trigger": trigger,
                               "hx-vals": '{"intent": "preview"}', "hx-target": "#campaign-preview",
                               "hx-swap": "outerHTML", "hx-sync": "closest form:replace"}

    def spec(self, source_campaign_id: str | None = None, body: str | None = None) -> CampaignSpec:
        """The spec as typed. A resend-to-failed draft keeps its source and its text (its recipients
        get the very text they missed), whatever the form says."""
        return CampaignSpec(
            name=self.name.data or "",
            message=body if body is not None else (self.message.data or ""),
            group_ids=() if source_campaign_id else ids(self.group_ids.data),
            excluded_group_ids=() if source_campaign_id else ids(self.excluded_group_ids.data),
            sender_profile_id=self.sender_profile_id.data or None,
            timezone=self.timezone.data or None,
            window_start=self.window_start.data or None,
            window_end=self.window_end.data or None,
            source_campaign_id=source_campaign_id,
            spend_cap=self.spend_cap.data,
        )

    def offer(self, groups, member_counts: dict[str, int], profiles) -> None:
        """The choices: the groups with their sizes, the approved sender profiles, every IANA zone."""
        self.group_ids.choices = self.excluded_group_ids.choices = [
            SelectChoice(g.id, f"{g.name} ({n} member{'' if n == 1 else 's'})")
            for g in groups for n in (member_counts[g.id],)]
        self.sender_profile_id.choices = [
            SelectChoice(p.id, f"{p.name} ({p.sender_id}){' · default' if p.is_default else ''}")
            for p in profiles if p.can_send]
        self.timezone.choices = timezone_choices()

    def fill_from(self, campaign) -> None:
        self.name.data = campaign.name
        self.message.data = campaign.body
        self.sender_profile_id.data = campaign.sender_profile_id
        self.group_ids.data = list(campaign.group_ids or ())
        self.excluded_group_ids.data = list(campaign.excluded_group_ids or ())
        self.timezone.data = campaign.timezone
        self.window_start.data = campaign.window_start or ""
        self.window_end.data = campaign.window_end or ""
        self.spend_cap.data = campaign.spend_cap


STALE = "This form is out of date; reload the page and check the numbers again."
_COUNT = [InputRequired(STALE), Regexp(r"^[0-9]{1,9}$", message=STALE)]


class DispatchForm(FlaskForm):
    """Send now: the numbers the button showed come back, so a changed audience is refused."""

    recipients = HiddenField(validators=_COUNT)
    units = HiddenField(validators=_COUNT)

    def commitment(self) -> Commitment:
        return Commitment(recipients=int(self.recipients.data), units=int(self.units.data))

    def stale_errors(self) -> list[str]:
        return sorted({e for f in (self.recipients, self.units) for e in f.errors})


class ScheduleForm(DispatchForm):
    # The raw text goes to the service, which reads it in the chosen zone and explains mistakes.
    local_time = StringField("Send at", filters=[_stripped], validators=[InputRequired("Choose a date and time.")],
                             render_kw={"type": "datetime-local"})
    timezone = SelectField("Time zone", choices=[], validate_choice=False)

    @classmethod
    def for_campaign(cls, campaign) -> "ScheduleForm":
        """Empty, in the campaign's zone; a scheduled campaign's time is there to change."""
        form = cls(formdata=None)
        form.timezone.choices = timezone_choices()
        form.timezone.data = campaign.timezone
        if campaign.scheduled_at:
            form.local_time.data = f"{to_local(campaign.scheduled_at, campaign.timezone):%Y-%m-%dT%H:%M}"
        return form


class TestSendForm(FlaskForm):
    """A test from the campaign's page; the composer has the same field (the view checks it)."""

    test_number = CampaignForm.test_number


# -- which field a refusal is about ------------------------------------------------------------

# Service error codes about a composer field whose name the error does not carry.
FIELD_OF_CODE = {
    "invalid_name": "name", "no_groups": "group_ids", "unknown_group": "group_ids",
    "unknown_sender_profile": "sender_profile_id", "sender_not_approved": "sender_profile_id",
    "no_sender_profile": "sender_profile_id", "invalid_send_window": "window_start",
    "invalid_timezone": "timezone", "invalid_schedule": "local_time",
}


def field_for(form: FlaskForm, exc: ServiceError | SmsError) -> str | None:
    """The form field a refusal is about; None puts it above the form."""
    if isinstance(exc, InvalidMessage):
        name = "message"
    elif isinstance(exc, InvalidTimezone):
        name = "timezone"
    elif isinstance(exc, ScheduleError) and exc.code != "invalid_send_window":
        name = "local_time"
    else:
        named = [f["loc"][-1] for f in getattr(exc, "fields", []) if f.get("loc")]
        name = named[0] if named else FIELD_OF_CODE.get(exc.code)
    return name if name in form else None


def schedule_message(exc: ServiceError | SmsError) -> str:
    """The SMS core names the API's field ("scheduled_at is in the past"); the form calls it a time."""
    return exc.message.replace("scheduled_at ", "The time ", 1) if exc.message.startswith("scheduled_at ") \
        else exc.message
