"""Request bodies of ``/v1/sms/keywords`` (types and shapes; the rules are in
``services.keywords`` and ``app.sms.keywords``)."""
from __future__ import annotations

from pydantic import Field, StrictBool, StrictStr

from app.api.schemas import Body


class KeywordChanges(Body):
    """The fields of a keyword to change; only the fields sent change (null clears description,
    webhook_url and auto_reply_message; null for a flag leaves it as it is). ``keyword`` may be
    sent but must equal the current one: it cannot change. Unknown fields are ignored."""

    keyword: StrictStr | None = Field(None, description="The current keyword (immutable: any other value is 422 "
                                                        "keyword_immutable)")
    description: StrictStr | None = Field(None, description="Free text, at most 500 characters")
    webhook_url: StrictStr | None = Field(None, description="HTTPS URL that inbound messages starting with the "
                                                            "keyword are POSTed to (event sms.inbound); "
                                                            "private and loopback addresses are refused")
    auto_reply_message: StrictStr | None = Field(None, description="Text sent back to the sender of a matching "
                                                                   "message, at most 1600 characters")
    auto_reply_enabled: StrictBool | None = Field(None, description="Send auto_reply_message to matching "
                                                                    "messages (needs auto_reply_message)")
    is_active: StrictBool | None = Field(None, description="Whether the keyword routes inbound messages")

    def values(self) -> dict:
        return {name: getattr(self, name) for name in self.model_fields_set}


class KeywordBody(KeywordChanges):
    """A new keyword. Unknown fields are ignored."""

    keyword: StrictStr = Field(description="Required. 2 to 20 ASCII letters and digits (A-Z, 0-9; no Æ/Ø/Å, spaces "
                                           "or punctuation), unique in the account ignoring case; not a reserved "
                                           "opt-out, opt-in or help word (STOP, STOPP, SLUTT, START, HELP, HJELP, "
                                           "INFO, ...). Stored as written; matched ignoring case")
    auto_reply_enabled: StrictBool | None = Field(None, description="Send auto_reply_message to matching messages "
                                                                    "(default false; needs auto_reply_message)")
    is_active: StrictBool | None = Field(None, description="Whether the keyword routes inbound messages "
                                                           "(default true)")
