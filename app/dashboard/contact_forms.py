"""Forms of the contacts, groups and opt-outs pages. The rules (E.164 numbers in the account's
region, tags, name lengths, unique names) are the services'; these forms only carry the values
and their CSRF token, so the API and the dashboard say the same thing about the same input."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired

from app.models import Contact, Group
from app.models.contact import CONTACT_TYPES

TYPE_CHOICES = [SelectChoice(kind, kind.capitalize()) for kind in CONTACT_TYPES]


class ContactForm(FlaskForm):
    name = StringField("Name", render_kw={"autocomplete": "off"})
    phone_number = StringField("Phone number", render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField("Email", render_kw={"autocomplete": "off"})
    tags = StringField("Tags", render_kw={"autocomplete": "off"})
    type = SelectField("Type", choices=TYPE_CHOICES, default="person")

    @classmethod
    def for_contact(cls, contact: Contact, **kwargs) -> "ContactForm":
        """The form that edits ``contact``: its fields are prefixed with the contact's id, so any
        number of rows can be open for editing on one page without two fields sharing an id."""
        data = {"name": contact.name, "phone_number": contact.phone_number, "email": contact.email,
                "tags": ", ".join(contact.tags or []), "type": contact.type}
        return cls(prefix=f"c-{contact.id}", data=data, **kwargs)

    def values(self) -> dict:
        """The service's field values; tags are typed comma-separated."""
        tags = [tag for tag in (self.tags.data or "").split(",")]
        return {"name": self.name.data or "", "phone_number": self.phone_number.data or None,
                "email": self.email.data or None, "tags": tags, "type": self.type.data}


class GroupForm(FlaskForm):
    name = StringField("Name", render_kw={"autocomplete": "off"})
    description = TextAreaField("Description", render_kw={"rows": 2})

    @classmethod
    def for_group(cls, group: Group, **kwargs) -> "GroupForm":
        return cls(prefix=f"g-{group.id}", data={"name": group.name, "description": group.description}, **kwargs)


class OptOutForm(FlaskForm):
    number = StringField("Phone number", validators=[DataRequired("Enter a phone number.")],
                         render_kw={"inputmode": "tel", "autocomplete": "off"})
