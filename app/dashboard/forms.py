"""The dashboard's forms. Each carries a CSRF token; rules that the services already enforce
(email shape, sender ids, name lengths) are left to them so both front doors say the same thing."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from app.models import ROLES
from app.services.passwords import MAX_LENGTH

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]
# Sign-in accepts any length up to the policy's maximum; the rest of the policy (app/services/
# passwords.py) is checked by the services wherever a password is set, so every door says the same.
MAX_PASSWORD = MAX_LENGTH


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)], render_kw={"autocomplete": "off"})
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer")
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_PASSWORD)],
                             render_kw={"autocomplete": "new-password"})


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_PASSWORD)],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password", validators=[InputRequired(), Length(max=MAX_PASSWORD)],
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("New password again", validators=[InputRequired(), Length(max=MAX_PASSWORD)],
                            render_kw={"autocomplete": "new-password"})


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=120)])


class SenderProfileForm(FlaskForm):
    name = StringField("Name")
    # Not stripped: the service rejects leading/trailing spaces instead of silently changing the id.
    sender_id = StringField("Sender ID")
    allow_reply = BooleanField("Allow replies")
    is_default = BooleanField("Make this the default sender")
    brand_confirmation = BooleanField("We own this brand name or may use it")
