"""Forms of the inbox: the reply on a thread's page, and the simulator's controls. Field names
are the services' (``sender_profile_id``, ``from_number``, ``text``, ``to``), so a refusal that names
a field lands next to it; the rules (text length, numbers, opt-outs) are the services'."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.dashboard.send_forms import new_idempotency_key, one_newline
from app.models import SenderProfile


def profile_choices(profiles: list[SenderProfile]) -> list[SelectChoice]:
    return [SelectChoice(p.id, f"{p.name} ({p.sender_id})") for p in profiles]


class ReplyForm(FlaskForm):
    message = TextAreaField("Reply", filters=[one_newline], render_kw={"rows": 3, "spellcheck": "true"})
    sender_profile_id = SelectField("From", choices=[], validate_choice=False)
    # One per rendered form: sending it twice (a double click, a resend after a lost answer) sends once.
    idempotency_key = HiddenField(validators=[
        InputRequired("This form is out of date; reload the page and try again."), Length(max=255)])

    @classmethod
    def fresh(cls, profiles: list[SenderProfile], written_to: SenderProfile | None) -> "ReplyForm":
        form = cls(formdata=None)
        form.offer(profiles, written_to)
        form.sender_profile_id.data = written_to.id if written_to else None
        form.idempotency_key.data = new_idempotency_key()
        return form

    def offer(self, profiles: list[SenderProfile], written_to: SenderProfile | None) -> None:
        """The senders to choose from: only the one the person wrote to, when it may reply."""
        self.sender_profile_id.choices = profile_choices([written_to] if written_to else profiles)


class SimulateInboundForm(FlaskForm):
    from_number = StringField("From", render_kw={"inputmode": "tel", "autocomplete": "off", "placeholder": "+4791234567"})
    text = StringField("Text", render_kw={"autocomplete": "off", "placeholder": "STOP, a keyword, or anything"})
    to = SelectField("To our number", choices=[], validate_choice=False)


class SimulateReplyForm(FlaskForm):
    text = StringField("Their reply", default="Takk!", render_kw={"autocomplete": "off"})
