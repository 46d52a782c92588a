"""Groups: everyone sees them with their member counts and members; admins and marketers create,
rename and delete groups and add or remove members (adding by searching contacts here, or by
ticking contacts in the contact list)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.contact_forms import GroupForm
from app.dashboard.contacts import (
    CONTACT_EDITORS,
    MAX_SEARCH,
    added_message,
    follow,
    from_detail_page,
    page_number,
    show_field_error,
)
from app.dashboard.pages import is_htmx, owned_or_404, render
from app.models import Contact, Group
from app.services import contacts as contact_service
from app.services import groups as group_service
from app.services.contacts import ContactFilter
from app.services.errors import ServiceError

PAGE_SIZE = 50
MEMBERS_PAGE_SIZE = 50
CANDIDATES_PAGE_SIZE = 20
FIELD_LABELS = {"name": "Name", "description": "Description"}


def _groups(page: int, **context) -> dict:
    result = group_service.list_groups(current_user.account, page, PAGE_SIZE)
    return {"result": result, "counts": group_service.member_counts(result.items), **context}


@dashboard.get("/groups")
@role_required(*EVERYONE)
def groups():
    return render("groups/index.html", "groups/_list.html", **_groups(page_number(), form=GroupForm(formdata=None)))


@dashboard.post("/groups")
@role_required(*CONTACT_EDITORS)
def create_group():
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = group_service.create_group(current_user.account, form.name.data, form.description.data)
        except ServiceError as exc:
            show_field_error(form, exc, FIELD_LABELS, default="name")
        else:
            flash(f"Created group {group.name}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.groups"), 303)
            return render("groups/index.html", "groups/_form.html", oob=("groups/_list.html",),
                          **_groups(1, form=GroupForm(formdata=None)))
    return render("groups/index.html", "groups/_form.html", http_status=422, **_groups(1, form=form))


# -- one group -----------------------------------------------------------------------------------

def _members(group: Group, page: int, **context) -> dict:
    result = group_service.list_members(current_user.account, group.id, page, MEMBERS_PAGE_SIZE)
    return {"group": group, "members": result, **context}


@dashboard.get("/groups/<group_id>")
@role_required(*EVERYONE)
def group(group_id: str):
    found = owned_or_404(Group, group_id)
    return render("groups/show.html", "groups/_members.html", **_members(found, page_number(), search=""))


@dashboard.get("/groups/<group_id>/edit")
@role_required(*CONTACT_EDITORS)
def edit_group(group_id: str):
    found = owned_or_404(Group, group_id)
    return render("groups/edit.html", "groups/_edit_row.html", group=found, form=GroupForm.for_group(found))


@dashboard.post("/groups/<group_id>")
@role_required(*CONTACT_EDITORS)
def update_group(group_id: str):
    found = owned_or_404(Group, group_id)
    form = GroupForm.for_group(found)
    if form.validate_on_submit():
        try:
            group_service.update_group(current_user.account, found.id,
                                       {"name": form.name.data, "description": form.description.data})
        except ServiceError as exc:
            show_field_error(form, exc, FIELD_LABELS, default="name")
        else:
            flash(f"Saved group {found.name}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.group", group_id=found.id), 303)
            return render("groups/edit.html", "groups/_row.html", group=found,
                          counts={found.id: group_service.member_count(found)})
    return render("groups/edit.html", "groups/_edit_row.html", http_status=422, group=found, form=form)


@dashboard.post("/groups/<group_id>/delete")
@role_required(*CONTACT_EDITORS)
def delete_group(group_id: str):
    found = owned_or_404(Group, group_id)
    name = found.name
    group_service.delete_group(current_user.account, found.id)
    flash(f"Deleted group {name}. Its contacts are kept.", "success")
    if not is_htmx() or from_detail_page():
        return follow(url_for("dashboard.groups"))
    return render("groups/index.html", "contacts/_gone.html")


# -- members -------------------------------------------------------------------------------------

def _candidates(group: Group, search: str, page: int) -> dict:
    """Contacts matching ``search``, those already in the group marked as such."""
    if not search:
        return {"search": "", "candidates": None, "member_ids": set()}
    result = contact_service.list_contacts(current_user.account, ContactFilter(search=search), page,
                                           CANDIDATES_PAGE_SIZE)
    members = group_service.member_ids_among(current_user.account, group.id, [c.id for c in result.items])
    return {"search": search, "candidates": result, "member_ids": members}


def _search_term(values) -> str:
    return (values.get("search") or "").strip()[:MAX_SEARCH]


@dashboard.get("/groups/<group_id>/add")
@role_required(*CONTACT_EDITORS)
def find_members(group_id: str):
    """Finding contacts to add: a page of its own without JavaScript; on the group's page the
    search box asks this URL for the results as you type."""
    found = owned_or_404(Group, group_id)
    return render("groups/add.html", "groups/_candidates.html", group=found,
                  **_candidates(found, _search_term(request.args), page_number()))


@dashboard.post("/groups/<group_id>/members")
@role_required(*CONTACT_EDITORS)
def add_group_members(group_id: str):
    found = owned_or_404(Group, group_id)
    status = 200
    try:
        result = group_service.add_members(current_user.account, found.id, request.form.getlist("contact_ids"))
    except ServiceError as exc:
        flash("Tick the contacts to add first." if exc.code == "no_contacts" else exc.message, "error")
        status = 422
    else:
        flash(added_message(found, result), "success")
    if not is_htmx():
        return redirect(url_for("dashboard.group", group_id=found.id), 303)
    # The results are redrawn (the added ones now marked) and the member list with them.
    return render("groups/show.html", "groups/_candidates.html", oob=("groups/_members.html",), http_status=status,
                  **_members(found, 1), **_candidates(found, _search_term(request.form), page_number(request.form)))


@dashboard.post("/groups/<group_id>/members/<contact_id>/remove")
@role_required(*CONTACT_EDITORS)
def remove_group_member(group_id: str, contact_id: str):
    found = owned_or_404(Group, group_id)
    member = owned_or_404(Contact, contact_id)
    group_service.remove_member(current_user.account, found.id, member.id)
    flash(f"Removed {member.name} from {found.name}.", "success")
    if not is_htmx():
        return redirect(url_for("dashboard.group", group_id=found.id), 303)
    return render("groups/show.html", "contacts/_gone.html", oob=("groups/_count.html",), group=found,
                  member_count=group_service.member_count(found))
