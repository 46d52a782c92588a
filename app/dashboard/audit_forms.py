"""The audit log's filters."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app.services.audit import OBJECT_TYPES

OBJECT_CHOICES = [SelectChoice("", "Any"), *(SelectChoice(t, t.replace("_", " ")) for t in OBJECT_TYPES)]


def _trimmed(value):
    return value.strip() if isinstance(value, str) else value


# Days that still have a next day and a start in every time zone (9999-12-31 has neither).
FIRST_YEAR, LAST_YEAR = 1900, 9998


def _within_years(field) -> None:
    if field.data and not FIRST_YEAR <= field.data.year <= LAST_YEAR:
        raise ValidationError(f"must be a date between the years {FIRST_YEAR} and {LAST_YEAR}")


class AuditFilterForm(FlaskForm):
    """A GET form (no CSRF token: it changes nothing), read from the query string, so a filtered
    view is a link and the CSV export takes the same filters."""

    class Meta:
        csrf = False

    actor = StringField("Actor", validators=[Optional(), Length(max=254)], filters=[_trimmed],
                        render_kw={"type": "search", "placeholder": "email, key or id"})
    action = StringField("Action", validators=[Optional(), Length(max=60)], filters=[_trimmed],
                         render_kw={"type": "search", "placeholder": "campaign."})
    object_type = SelectField("Object", choices=OBJECT_CHOICES, default="")
    object_id = StringField("Object id", validators=[Optional(), Length(max=64)], filters=[_trimmed],
                            render_kw={"type": "search"})
    since = DateField("From", validators=[Optional()])
    until = DateField("To", validators=[Optional()])

    FILTERS = ("actor", "action", "object_type", "object_id", "since", "until")

    def validate_since(self, field) -> None:
        _within_years(field)

    def validate_until(self, field) -> None:
        _within_years(field)
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("must not be before From")

    def query(self) -> dict:
        """The filters that are set, by their names in the URL."""
        return {name: str(self[name].data) for name in self.FILTERS if self[name].data}
