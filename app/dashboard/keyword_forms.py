"""Forms of the keywords page. Field names are the API's, so a refusal of the keywords service
(spelling, reserved words, the webhook URL's safety check, the auto-reply's length) lands next to
the field it is about; the rules themselves are the service's, the same for both front doors."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from app.dashboard.send_forms import one_newline
from app.models import Keyword
from app.sms.keywords import MAX_LENGTH

# The form's labels, also put in place of the API's field names in the service's messages.
LABELS = {
    "keyword": "Keyword", "description": "Description", "webhook_url": "Webhook URL",
    "auto_reply_message": "Auto-reply text", "auto_reply_enabled": "Send the auto-reply", "is_active": "Active",
}


class KeywordFields(FlaskForm):
    """What may change after creation: everything but the keyword."""

    description = TextAreaField(LABELS["description"], render_kw={"rows": 2})
    webhook_url = StringField(LABELS["webhook_url"], render_kw={
        "type": "url", "autocomplete": "off", "placeholder": "https://example.com/sms/inbound"})
    auto_reply_message = TextAreaField(LABELS["auto_reply_message"], filters=[one_newline], render_kw={"rows": 2})
    auto_reply_enabled = BooleanField(LABELS["auto_reply_enabled"])
    is_active = BooleanField(LABELS["is_active"], default=True)

    def values(self) -> dict:
        return {"description": self.description.data, "webhook_url": (self.webhook_url.data or "").strip() or None,
                "auto_reply_message": self.auto_reply_message.data,
                "auto_reply_enabled": bool(self.auto_reply_enabled.data), "is_active": bool(self.is_active.data)}

    @classmethod
    def for_keyword(cls, keyword: Keyword, **kwargs) -> "KeywordFields":
        """The edit form of ``keyword``, prefixed with its id so several rows can be open at once."""
        data = {name: getattr(keyword, name) for name in
                ("description", "webhook_url", "auto_reply_message", "auto_reply_enabled", "is_active")}
        return cls(prefix=f"k-{keyword.id}", data=data, **kwargs)


class KeywordForm(KeywordFields):
    # Not stripped or checked here: the service says what is wrong with a spelling.
    keyword = StringField(LABELS["keyword"], render_kw={
        "autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false", "maxlength": MAX_LENGTH + 20})

    def check_as_typed(self, url: str) -> "KeywordForm":
        """Make the keyword field ask ``url`` whether the word is free as it is typed."""
        self.keyword.render_kw = {**self.keyword.render_kw, "hx-get": url, "hx-trigger": "input changed delay:300ms",
                                  "hx-target": "#keyword-availability", "hx-swap": "outerHTML",
                                  "aria-describedby": "keyword-availability"}
        return self
