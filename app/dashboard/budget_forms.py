"""Forms of budgets: the account's monthly spending limit (``/budget``) and the amount field the
campaign composer's spending cap uses too. Amounts are read by ``app.sms.budget.parse_amount``,
the rule the API applies to ``spend_cap``, so both doors accept and refuse the same text."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

from app.sms.budget import parse_amount


class AmountField(StringField):
    """An optional amount in the account currency (empty: none); ``data`` is a Decimal or None."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = parse_amount(self.raw)
        except ValueError as exc:
            self.data = None
            self.amount_error = str(exc)

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else str(self.data)

    def pre_validate(self, form):
        if getattr(self, "amount_error", None):
            raise ValidationError(self.amount_error)


class BudgetForm(FlaskForm):
    monthly_spend_limit = AmountField("Monthly spending limit", render_kw={"inputmode": "decimal",
                                                                           "autocomplete": "off"})


class CapForm(FlaskForm):
    """A campaign's spending cap, changed on its page (the composer has the same field)."""

    spend_cap = AmountField("Spending cap", render_kw={"inputmode": "decimal", "autocomplete": "off"})
