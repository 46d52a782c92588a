"""The webhook log's filters."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from app.models.webhook import DeliveryState

STATE_CHOICES = [SelectChoice("", "Any"), *(SelectChoice(state, state.lower()) for state in DeliveryState.ALL)]


def _trimmed(value):
    return value.strip() if isinstance(value, str) else value


class DeliveryFilterForm(FlaskForm):
    """A GET form (no CSRF token: it changes nothing), read from the query string, so a filtered
    view is a link. States are read in any case (a hand-typed ``?state=failed`` works)."""

    class Meta:
        csrf = False

    state = SelectField("State", choices=STATE_CHOICES, default="",
                        filters=[lambda value: value.strip().upper() if isinstance(value, str) else value])
    message_id = StringField("Message id", validators=[Optional(), Length(max=64)], filters=[_trimmed],
                             render_kw={"type": "search"})
    # Not "endpoint" in the URL: that name is url_for's own first argument.
    url = StringField("Endpoint", validators=[Optional(), Length(max=2048)], filters=[_trimmed],
                           render_kw={"type": "search", "placeholder": "https://example.com/hooks"})

    def query(self) -> dict:
        """The filters that are set, by their names in the URL."""
        return {field.name: field.data for field in (self.state, self.message_id, self.url) if field.data}

    def values(self) -> dict:
        """The filters that are set, by the names ``webhook_log.list_deliveries`` takes."""
        return {"endpoint" if name == "url" else name: value for name, value in self.query().items()}
