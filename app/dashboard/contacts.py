"""Contacts: everyone reads the list and a contact's page with its message history; admins and
marketers add, edit, delete, anonymise (GDPR) and put contacts into groups.

The list's filters (search, tag, group) and page live in the query string, so a filtered page is a
link; the search box, the selects and the pager ask for the same URL with htmx and get the list's
fragment back (``contacts/_list.html``).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.contact_forms import ContactForm
from app.dashboard.pages import is_htmx, owned_or_404, render
from app.models import Contact, Group
from app.services import contacts as contact_service
from app.services import groups as group_service
from app.services.contacts import ContactFilter
from app.services.errors import ServiceError

CONTACT_EDITORS = ("admin", "marketer")  # contacts, groups and opt-outs
PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 25
MAX_SEARCH = 200
MAX_PAGE = 1_000_000  # far past any real list; keeps the offset inside every database's integers
MAX_GROUP_CHOICES = 500
FIELD_LABELS = {"name": "Name", "phone_number": "Phone number", "email": "Email", "tags": "Tags", "type": "Type"}


# -- shared by the contacts, groups and opt-outs pages -------------------------------------------

def page_number(values: MultiDict | None = None) -> int:
    """The 1-based ``page``; anything unreadable is the first page (a typo in a link is no error)."""
    try:
        page = int((values if values is not None else request.args).get("page", "1"))
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def follow(to: str):
    """After a change whose page is gone or stale (a deleted contact's own page, or any change
    made without JavaScript): show ``to``. htmx follows ``HX-Redirect`` with a full page load."""
    if is_htmx():
        return "", 200, {"HX-Redirect": to}
    return redirect(to, 303)


def from_detail_page() -> bool:
    """The change was made on the item's own page rather than in a row of a list."""
    return request.form.get("from_page") == "detail"


def show_field_error(form, exc: ServiceError, labels: dict[str, str], default: str | None = None) -> None:
    """The service's message next to the field it is about, its leading field name (the API's)
    replaced by the form's label. A message names its field in ``fields`` or as its first word
    ("name may be at most ..."); one about no field goes next to ``default``, or above the form."""
    named = [f["loc"][-1] for f in exc.fields if f.get("loc")] or [exc.message.split(" ", 1)[0]]
    field = named[0] if named[0] in labels else default
    message = exc.message
    if exc.code == "name_required":
        message = "Enter a name."
    elif field and message.startswith(f"{field} "):
        message = labels[field] + message[len(field):]
    target = getattr(form, field) if field else None
    if target is None:
        form.form_errors.append(message)
    else:
        target.errors = [*target.errors, message]


# -- the list ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ListQuery:
    """The list's filters as the query string (or a form that carries them along) gives them."""

    search: str = ""
    tag: str = ""
    group: str = ""

    @classmethod
    def read(cls, values: MultiDict) -> "ListQuery":
        return cls(search=(values.get("search") or "").strip()[:MAX_SEARCH],
                   tag=(values.get("tag") or "").strip(), group=(values.get("group") or "").strip())

    @property
    def active(self) -> bool:
        return bool(self.search or self.tag or self.group)

    def contact_filter(self) -> ContactFilter:
        return ContactFilter(search=self.search or None, tags=(self.tag,) if self.tag else (),
                             group_id=self.group or None)

    def params(self) -> dict[str, str]:
        """For links: only the filters that are set."""
        return {k: v for k, v in (("search", self.search), ("tag", self.tag), ("group", self.group)) if v}


def all_groups() -> list[Group]:
    return group_service.list_groups(current_user.account, 1, MAX_GROUP_CHOICES).items


def _list(query: ListQuery, page: int, **context) -> dict:
    """The list's context; a full page also gets the filters' and the bulk form's choices."""
    account = current_user.account
    result = contact_service.list_contacts(account, query.contact_filter(), page, PAGE_SIZE)
    context = {"result": result, "query": query, **context}
    if not is_htmx():
        context.update(groups=all_groups(), tags=contact_service.tags_in_use(account))
    return context


@dashboard.get("/contacts")
@role_required(*EVERYONE)
def contacts():
    return render("contacts/index.html", "contacts/_list.html",
                  **_list(ListQuery.read(request.args), page_number(), form=ContactForm(formdata=None)))


@dashboard.post("/contacts")
@role_required(*CONTACT_EDITORS)
def create_contact():
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact = contact_service.create_contact(current_user.account, form.values())
        except ServiceError as exc:
            show_field_error(form, exc, FIELD_LABELS)
        else:
            flash(f"Added {contact.name}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.contacts"), 303)
            # The new contact goes on top of the list in view, whatever its filters: it was just added.
            return render("contacts/index.html", "contacts/_form.html", oob=("contacts/_new_row.html",),
                          form=ContactForm(formdata=None), contact=contact)
    context = {"form": form} if is_htmx() else _list(ListQuery(), 1, form=form)
    return render("contacts/index.html", "contacts/_form.html", http_status=422, **context)


@dashboard.post("/contacts/add-to-group")
@role_required(*CONTACT_EDITORS)
def add_contacts_to_group():
    """The bulk form: the ticked contacts of the list into one group."""
    group_id = request.form.get("group_id", "")
    error = None
    if not group_id:
        error = "Choose a group."
    else:
        group = owned_or_404(Group, group_id)
        try:
            result = group_service.add_members(current_user.account, group.id, request.form.getlist("contact_ids"))
        except ServiceError as exc:
            error = "Tick the contacts to add first." if exc.code == "no_contacts" else exc.message
        else:
            flash(added_message(group, result), "success")
    if not is_htmx():
        if error:
            flash(error, "error")
        back = ListQuery.read(request.form).params()
        if page_number(request.form) > 1:
            back["page"] = page_number(request.form)
        return redirect(url_for("dashboard.contacts", **back), 303)
    return render("contacts/index.html", "contacts/_bulk.html", http_status=422 if error else 200,
                  groups=all_groups(), bulk_error=error, chosen_group=group_id)


def added_message(group: Group, result: dict) -> str:
    added, already = len(result["added"]), len(result["already_members"])
    message = f"Added {added} contact{'s' if added != 1 else ''} to {group.name}."
    if already:
        message += f" {already} {'was' if already == 1 else 'were'} already in it."
    return message


# -- one contact ---------------------------------------------------------------------------------

@dashboard.get("/contacts/<contact_id>")
@role_required(*EVERYONE)
def contact(contact_id: str):
    found = owned_or_404(Contact, contact_id)
    context = {"contact": found, "history": contact_service.message_history(
        current_user.account, found, page_number(), HISTORY_PAGE_SIZE)}
    if not is_htmx():
        context["groups"] = group_service.groups_of(current_user.account, found.id)
    return render("contacts/show.html", "contacts/_history.html", **context)


@dashboard.get("/contacts/<contact_id>/edit")
@role_required(*CONTACT_EDITORS)
def edit_contact(contact_id: str):
    found = owned_or_404(Contact, contact_id)
    return render("contacts/edit.html", "contacts/_edit_row.html", contact=found, form=ContactForm.for_contact(found))


@dashboard.post("/contacts/<contact_id>")
@role_required(*CONTACT_EDITORS)
def update_contact(contact_id: str):
    found = owned_or_404(Contact, contact_id)
    form = ContactForm.for_contact(found)
    if form.validate_on_submit():
        try:
            contact_service.update_contact(current_user.account, found.id, form.values())
        except ServiceError as exc:
            show_field_error(form, exc, FIELD_LABELS)
        else:
            flash(f"Saved {found.name}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.contact", contact_id=found.id), 303)
            return render("contacts/edit.html", "contacts/_row.html", contact=found)
    return render("contacts/edit.html", "contacts/_edit_row.html", http_status=422, contact=found, form=form)


@dashboard.post("/contacts/<contact_id>/delete")
@role_required(*CONTACT_EDITORS)
def delete_contact(contact_id: str):
    found = owned_or_404(Contact, contact_id)
    name = found.name
    contact_service.delete_contact(current_user.account, found.id)
    flash(f"Deleted {name}.", "success")
    if not is_htmx() or from_detail_page():
        return follow(url_for("dashboard.contacts"))
    return render("contacts/index.html", "contacts/_gone.html")


@dashboard.post("/contacts/<contact_id>/anonymise")
@role_required(*CONTACT_EDITORS)
def anonymise_contact(contact_id: str):
    found = owned_or_404(Contact, contact_id)
    contact_service.gdpr_delete(current_user.account, found.id)
    flash("Erased the contact's personal data (GDPR). Its messages stay, and an opt-out stays in force.", "success")
    if not is_htmx() or from_detail_page():
        return follow(url_for("dashboard.contact", contact_id=found.id))
    return render("contacts/show.html", "contacts/_row.html", contact=found)
