"""Keywords: everyone sees the account's keywords with how many texts each received and when the
last one came; admins and marketers create, change and delete them, through the same keywords
service as ``/v1/sms/keywords`` (spelling, reserved words, one per account ignoring case, the
webhook URL's safety check).

``GET /keywords?keyword=...`` with ``HX-Request`` answers whether that keyword is free (the create
form asks as the person types); without it, the page with the form filled in and the answer shown.
"""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.contacts import follow
from app.dashboard.keyword_forms import LABELS, KeywordFields, KeywordForm
from app.dashboard.pages import is_htmx, owned_or_404, render
from app.models import Keyword
from app.services import keywords as keyword_service
from app.services.errors import ServiceError

KEYWORD_EDITORS = ("admin", "marketer")
MAX_CHECKED = 64  # longer than any keyword: enough to say why it is not one


def _page(**context) -> dict:
    return {"keywords": keyword_service.list_keywords(current_user.account), **context}


@dashboard.get("/keywords")
@role_required(*EVERYONE)
def keywords():
    typed = request.args.get("keyword")
    availability = _availability(typed)
    if is_htmx():
        return render("keywords/index.html", "keywords/_availability.html", availability=availability)
    form = KeywordForm(formdata=None, data={"keyword": (typed or "")[:MAX_CHECKED]})
    return render("keywords/index.html", "keywords/_list.html", **_page(form=form, availability=availability))


def _availability(typed: str | None):
    if typed is None or not typed.strip():
        return None
    return keyword_service.check_availability(current_user.account, typed[:MAX_CHECKED])


@dashboard.post("/keywords")
@role_required(*KEYWORD_EDITORS)
def create_keyword():
    form = KeywordForm()
    if form.validate_on_submit():
        try:
            keyword = keyword_service.create_keyword(current_user.account, form.keyword.data or "", **form.values())
        except ServiceError as exc:
            show_keyword_error(form, exc, default="keyword")
        else:
            flash(f"Created the keyword {keyword.keyword}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.keywords"), 303)
            return render("keywords/index.html", "keywords/_form.html", oob=("keywords/_new_row.html",),
                          form=KeywordForm(formdata=None), keyword=keyword)
    context = {"form": form} if is_htmx() else _page(form=form)
    return render("keywords/index.html", "keywords/_form.html", http_status=422, **context)


@dashboard.get("/keywords/<keyword_id>/edit")
@role_required(*KEYWORD_EDITORS)
def edit_keyword(keyword_id: str):
    keyword = owned_or_404(Keyword, keyword_id)
    return render("keywords/edit.html", "keywords/_edit_row.html", keyword=keyword,
                  form=KeywordFields.for_keyword(keyword))


@dashboard.get("/keywords/<keyword_id>")
@role_required(*EVERYONE)
def keyword_row(keyword_id: str):
    """A keyword's row (what "Cancel" in its edit row asks for); without htmx, the list."""
    keyword = owned_or_404(Keyword, keyword_id)
    if not is_htmx():
        return redirect(url_for("dashboard.keywords"), 303)
    return render("keywords/index.html", "keywords/_row.html", keyword=keyword)


@dashboard.post("/keywords/<keyword_id>")
@role_required(*KEYWORD_EDITORS)
def update_keyword(keyword_id: str):
    keyword = owned_or_404(Keyword, keyword_id)
    form = KeywordFields.for_keyword(keyword)
    if form.validate_on_submit():
        try:
            keyword_service.update_keyword(current_user.account, keyword.id, form.values())
        except ServiceError as exc:
            show_keyword_error(form, exc)
        else:
            flash(f"Saved the keyword {keyword.keyword}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.keywords"), 303)
            return render("keywords/index.html", "keywords/_row.html", keyword=keyword)
    return render("keywords/edit.html", "keywords/_edit_row.html", http_status=422, keyword=keyword, form=form)


@dashboard.post("/keywords/<keyword_id>/delete")
@role_required(*KEYWORD_EDITORS)
def delete_keyword(keyword_id: str):
    keyword = owned_or_404(Keyword, keyword_id)
    word = keyword.keyword
    keyword_service.delete_keyword(current_user.account, keyword.id)
    flash(f"Deleted the keyword {word}. Texts starting with it are no longer counted or answered.", "success")
    if not is_htmx():
        return follow(url_for("dashboard.keywords"))
    return render("keywords/index.html", "contacts/_gone.html")


# The API's field names as they appear in the service's messages, longest first.
_API_NAMES = sorted((name for name in LABELS if "_" in name), key=len, reverse=True)


def show_keyword_error(form: KeywordFields, exc: ServiceError, default: str | None = None) -> None:
    """The service's message next to the field it names (else ``default``, else above the form),
    with the form's labels in place of the API's field names."""
    named = [f["loc"][-1] for f in exc.fields if f.get("loc")]
    name = next((n for n in named if n in form), default)
    message = exc.message
    for api_name in _API_NAMES:
        message = message.replace(api_name, f"'{LABELS[api_name]}'")
    message = message[:1].upper() + message[1:]
    if name is None or name not in form:
        form.form_errors.append(message)
    else:
        form[name].errors = [*form[name].errors, message]
