"""The groups pages: the list with member counts, creating, renaming in place and deleting groups,
and a group's page with its members (a page at a time), removing members and adding them by
searching contacts. Each page and fragment is fetched whole and as htmx asks for it, by each role."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Contact, Group
from app.services import contacts as contact_service
from app.services import groups as group_service
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

ROLES = ["admin", "manager", "marketer", "viewer"]
EDITORS = ["admin", "marketer"]
READ_ONLY = ["manager", "viewer"]


def make_contact(account, name, number=None, **fields):
    return contact_service.create_contact(account, {"name": name, "phone_number": number, **fields})


def group_form(group, **values) -> dict:
    current = {"name": group.name, "description": group.description or ""}
    return {f"g-{group.id}-{key}": value for key, value in {**current, **values}.items()}


@pytest.fixture
def marketer(login_as):
    return login_as("marketer")


@pytest.fixture
def vip(account):
    """A group of two, and a contact outside it."""
    group = group_service.create_group(account, "VIP", "Best customers")
    members = [make_contact(account, "Ada", "+4791000001", tags=["gold"]), make_contact(account, "Bo", "+4791000002")]
    make_contact(account, "Outsider", "+4791000003")
    group_service.add_members(account, group.id, [m.id for m in members])
    return group


# -- the list ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_groups_with_member_counts(login_as, account, vip, other_account, role):
    group_service.create_group(account, "Empty")
    group_service.create_group(other_account[0], "Theirs")
    browser = login_as(role)
    html = full_page(browser.get("/groups"))
    vip_row = html.split(f'<tr id="group-{vip.id}">')[1].split("</tr>")[0]
    assert f'<a href="/groups/{vip.id}">VIP</a>' in vip_row and "Best customers" in vip_row
    assert '<td class="number">2</td>' in vip_row
    assert "Empty" in html and "Theirs" not in html
    assert ('id="new-group"' in html) == (role in EDITORS)
    assert (">Rename<" in html and ">Delete<" in html) == (role in EDITORS)

    fragment = htmx_fragment(browser.get("/groups", htmx=True))
    assert fragment.lstrip().startswith('<section id="group-list">')
    assert "VIP" in fragment and "Theirs" not in fragment and 'id="new-group"' not in fragment


def test_group_list_pages(login_as, account):
    for i in range(55):
        group_service.create_group(account, f"Group {i:02d}")
    browser = login_as("viewer")
    first = browser.get("/groups").get_data(as_text=True)
    assert "Group 49" in first and "Group 50" not in first and 'href="/groups?page=2"' in first
    second = htmx_fragment(browser.get("/groups?page=2", htmx=True))
    assert "Group 50" in second and "Group 54" in second and "Group 49" not in second


# -- creating, renaming, deleting ----------------------------------------------------------------

@pytest.mark.parametrize("role", EDITORS)
def test_create_without_javascript(login_as, account, role):
    browser = login_as(role)
    response = browser.post("/groups", {"name": "  Newsletter  ", "description": "Monthly"})
    assert response.status_code == 303 and response.headers["Location"] == "/groups"
    group = db.session.scalars(db.select(Group).where(Group.name == "Newsletter")).one()
    assert group.account_id == account.id and group.description == "Monthly"
    assert "Created group Newsletter." in browser.get("/groups").get_data(as_text=True)


def test_create_with_htmx_answers_a_fresh_form_and_the_list(marketer, vip):
    response = marketer.post("/groups", {"name": "Alpha"}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="new-group"') and 'value="Alpha"' not in html
    assert '<section id="group-list" hx-swap-oob="true">' in html.split("</form>", 1)[1]
    assert html.index(">Alpha</a>") < html.index(">VIP</a>")  # the list, alphabetical
    assert "Created group Alpha." in html


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("name, message", [
    ("vip", "A group named &#39;VIP&#39; already exists"),
    ("", "Enter a name."),
    ("x" * 101, "Name may be at most 100 characters"),
])
def test_refusals_are_next_to_the_name(marketer, vip, htmx, name, message):
    response = marketer.post("/groups", {"name": name, "description": "kept"}, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="error" id="name-error">{message}' in html
    assert "kept</textarea>" in html
    if htmx:
        assert htmx_fragment(response).lstrip().startswith('<form id="new-group"')
    else:
        full_page(response)


def test_rename_in_place(marketer, vip):
    response = marketer.get(f"/groups/{vip.id}/edit", htmx=True)
    html = htmx_fragment(response)
    assert html.lstrip().startswith(f'<tr id="group-{vip.id}" class="editing">')
    assert f'name="g-{vip.id}-name"' in html and 'value="VIP"' in html

    response = marketer.post(f"/groups/{vip.id}", group_form(vip, name="VIP customers"), htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith(f'<tr id="group-{vip.id}">')
    assert "VIP customers" in html and '<td class="number">2</td>' in html and "Saved group VIP customers." in html
    assert fresh(Group, vip.id).name == "VIP customers"


def test_rename_without_javascript(marketer, vip):
    assert "<h1>Rename VIP</h1>" in full_page(marketer.get(f"/groups/{vip.id}/edit"))
    response = marketer.post(f"/groups/{vip.id}", group_form(vip, description=""))
    assert response.status_code == 303 and response.headers["Location"] == f"/groups/{vip.id}"
    assert fresh(Group, vip.id).description is None


def test_rename_to_a_taken_name_is_refused(marketer, account, vip):
    group_service.create_group(account, "Staff")
    response = marketer.post(f"/groups/{vip.id}", group_form(vip, name="STAFF"), htmx=True)
    assert response.status_code == 422
    assert f'id="g-{vip.id}-name-error">A group named &#39;Staff&#39; already exists' in response.get_data(as_text=True)
    assert fresh(Group, vip.id).name == "VIP"


def test_delete_keeps_the_contacts(marketer, vip):
    group_id = vip.id
    response = marketer.post(f"/groups/{group_id}/delete", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert "<tr" not in html and "Deleted group VIP. Its contacts are kept." in html
    assert fresh(Group, group_id) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Contact)) == 3


def test_delete_without_javascript_and_from_the_groups_page(marketer, account, vip):
    other = group_service.create_group(account, "Other")
    first, second = vip.id, other.id
    response = marketer.post(f"/groups/{first}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/groups"
    response = marketer.post(f"/groups/{second}/delete", {"from_page": "detail"}, htmx=True)
    assert response.headers["HX-Redirect"] == "/groups"
    assert fresh(Group, first) is None and fresh(Group, second) is None


def test_script_in_a_group_name_is_shown_as_text(marketer):
    marketer.post("/groups", {"name": "<img src=x onerror=alert(1)>"})
    group = db.session.scalars(db.select(Group)).one()
    for response in (marketer.get("/groups"), marketer.get(f"/groups/{group.id}")):
        html = response.get_data(as_text=True)
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


# -- a group's page and its members --------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_group_page_lists_members(login_as, vip, role):
    browser = login_as(role)
    html = full_page(browser.get(f"/groups/{vip.id}"))
    assert "<h1>VIP</h1>" in html and "Best customers" in html
    assert 'Members (<span id="member-count">2</span>)' in html
    members = html.split('<tbody id="member-rows">')[1].split("</tbody>")[0]
    assert "Ada" in members and "Bo" in members and "Outsider" not in members
    assert ('id="member-search"' in html and ">Remove<" in html) == (role in EDITORS)

    fragment = htmx_fragment(browser.get(f"/groups/{vip.id}", htmx=True))
    assert fragment.lstrip().startswith('<section id="group-members">')
    assert "Ada" in fragment and "<h1>" not in fragment


def test_members_page_by_page(login_as, account):
    group = group_service.create_group(account, "Big")
    contacts = [make_contact(account, f"Member {i:02d}", f"+479300{i:04d}") for i in range(60)]
    group_service.add_members(account, group.id, [c.id for c in contacts])
    browser = login_as("viewer")
    first = browser.get(f"/groups/{group.id}").get_data(as_text=True)
    assert "Member 49" in first and "Member 50" not in first and "1–50 of 60 members" in first
    assert f'hx-get="/groups/{group.id}?page=2"' in first and 'hx-target="#group-members"' in first
    second = htmx_fragment(browser.get(f"/groups/{group.id}?page=2", htmx=True))
    assert "Member 50" in second and "Member 59" in second and "Member 49" not in second


def test_remove_a_member(marketer, account, vip):
    ada = db.session.scalars(db.select(Contact).where(Contact.name == "Ada")).one()
    response = marketer.post(f"/groups/{vip.id}/members/{ada.id}/remove", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert "<tr" not in html and "Removed Ada from VIP." in html
    assert '<template><span id="member-count" hx-swap-oob="true">1</span></template>' in html
    assert group_service.member_count(vip) == 1
    assert fresh(Contact, ada.id) is not None  # only the membership goes

    bo = db.session.scalars(db.select(Contact).where(Contact.name == "Bo")).one()
    response = marketer.post(f"/groups/{vip.id}/members/{bo.id}/remove")
    assert response.status_code == 303 and response.headers["Location"] == f"/groups/{vip.id}"
    assert group_service.member_count(vip) == 0


def test_removing_a_contact_that_is_not_a_member_is_404(marketer, account, vip):
    outsider = db.session.scalars(db.select(Contact).where(Contact.name == "Outsider")).one()
    assert marketer.post(f"/groups/{vip.id}/members/{outsider.id}/remove", htmx=True).status_code == 404


class TestFindingAndAddingMembers:
    @pytest.mark.parametrize("htmx", [False, True])
    def test_search_marks_those_already_in(self, marketer, vip, htmx):
        response = marketer.get(f"/groups/{vip.id}/add?search=o", htmx=htmx)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        found = html.split('<section id="candidates">')[1].split("</section>")[0]
        assert "Bo" in found and "Outsider" in found and "Ada" not in found
        bo_row = found.split("Bo</td>")[0].rsplit("<tr", 1)[1]
        assert '<span class="badge active">member</span>' in bo_row
        outsider_row = found.split("Outsider</td>")[0].rsplit("<tr", 1)[1]
        assert 'type="checkbox" name="contact_ids"' in outsider_row
        if htmx:
            assert htmx_fragment(response).lstrip().startswith('<section id="candidates">')
        else:
            assert "<h1>Add members to VIP</h1>" in full_page(response)

    def test_the_group_page_searches_as_you_type(self, marketer, vip):
        html = marketer.get(f"/groups/{vip.id}").get_data(as_text=True)
        box = html.split('id="member-search-term"')[1].split(">")[0]
        assert f'hx-get="/groups/{vip.id}/add"' in box
        assert 'hx-trigger="input changed delay:300ms, search"' in box and 'hx-target="#candidates"' in box
        assert "Type a name, number or email to find contacts." in html

    def test_an_empty_search_finds_nothing_yet(self, marketer, vip):
        html = htmx_fragment(marketer.get(f"/groups/{vip.id}/add?search=", htmx=True))
        assert "Type a name, number or email" in html and "<table" not in html

    def test_add_with_htmx_redraws_results_and_members(self, marketer, account, vip):
        outsider = db.session.scalars(db.select(Contact).where(Contact.name == "Outsider")).one()
        response = marketer.post(f"/groups/{vip.id}/members", {"contact_ids": [outsider.id], "search": "o",
                                                              "page": "1"}, htmx=True)
        assert response.status_code == 200
        html = htmx_fragment(response)
        assert html.lstrip().startswith('<section id="candidates">')
        results = html.split('<section id="candidates">')[1].split("</section>")[0]
        assert "Outsider" in results and 'type="checkbox"' not in results  # both found now members
        assert "Add the ticked contacts" not in results  # nothing left to add
        assert '<section id="group-members" hx-swap-oob="true">' in html
        assert '<span id="member-count">3</span>' in html
        assert "Added 1 contact to VIP." in html
        assert group_service.member_count(vip) == 3

    def test_add_without_javascript(self, marketer, vip):
        outsider = db.session.scalars(db.select(Contact).where(Contact.name == "Outsider")).one()
        response = marketer.post(f"/groups/{vip.id}/members", {"contact_ids": [outsider.id]})
        assert response.status_code == 303 and response.headers["Location"] == f"/groups/{vip.id}"
        assert "Added 1 contact to VIP." in marketer.get(f"/groups/{vip.id}").get_data(as_text=True)

    def test_adding_nothing_or_strangers_is_refused(self, marketer, vip, other_account):
        theirs = make_contact(other_account[0], "Theirs", "+4791999999")
        response = marketer.post(f"/groups/{vip.id}/members", {"search": "o"}, htmx=True)
        assert response.status_code == 422 and "Tick the contacts to add first." in response.get_data(as_text=True)
        response = marketer.post(f"/groups/{vip.id}/members", {"contact_ids": [theirs.id]}, htmx=True)
        assert response.status_code == 422
        assert "Unknown contact ids (nothing was added)" in response.get_data(as_text=True)
        assert group_service.member_count(vip) == 2


# -- who may do what, and whose groups -----------------------------------------------------------

def _changes(group_id: str, contact_id: str) -> list[str]:
    return ["/groups", f"/groups/{group_id}", f"/groups/{group_id}/delete", f"/groups/{group_id}/members",
            f"/groups/{group_id}/members/{contact_id}/remove"]


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_cannot_change_anything_by_hand_crafted_requests(login_as, account, vip, role):
    browser = login_as(role)
    ada = db.session.scalars(db.select(Contact).where(Contact.name == "Ada")).one()
    outsider = db.session.scalars(db.select(Contact).where(Contact.name == "Outsider")).one()
    data = {"name": "Hacked", "contact_ids": [outsider.id], **group_form(vip, name="Hacked")}
    for path in _changes(vip.id, ada.id):
        assert browser.post(path, data).status_code == 403, path
        assert browser.post(path, data, htmx=True).status_code == 403, path
    for path in (f"/groups/{vip.id}/edit", f"/groups/{vip.id}/add?search=a"):
        assert browser.get(path).status_code == 403, path
        assert browser.get(path, htmx=True).status_code == 403, path
    assert fresh(Group, vip.id).name == "VIP" and group_service.member_count(vip) == 2
    assert db.session.scalar(db.select(db.func.count()).select_from(Group)) == 1


def test_every_change_needs_the_csrf_token(marketer, account, vip):
    ada = db.session.scalars(db.select(Contact).where(Contact.name == "Ada")).one()
    for path in _changes(vip.id, ada.id):
        assert marketer.post(path, {"name": "x"}, csrf=False).status_code == 400, path
        assert marketer.request("POST", path, data={"name": "x"}, htmx=True).status_code == 400, path
    assert fresh(Group, vip.id) is not None and group_service.member_count(vip) == 2


def test_another_accounts_group_is_404_everywhere(login_as, account, other_account):
    theirs = group_service.create_group(other_account[0], "Theirs")
    their_contact = make_contact(other_account[0], "Their member", "+4791999999")
    group_service.add_members(other_account[0], theirs.id, [their_contact.id])
    mine = make_contact(account, "Mine", "+4791000001")
    admin = login_as("admin")
    for htmx in (False, True):
        for path in (f"/groups/{theirs.id}", f"/groups/{theirs.id}/edit", f"/groups/{theirs.id}/add?search=t"):
            assert admin.get(path, htmx=htmx).status_code == 404, path
        for path in _changes(theirs.id, their_contact.id)[1:]:
            assert admin.post(path, {"name": "Mine now", "contact_ids": [mine.id]}, htmx=htmx).status_code == 404, path
    assert fresh(Group, theirs.id).name == "Theirs" and group_service.member_count(theirs) == 1


def test_the_search_for_members_finds_only_the_accounts_contacts(marketer, vip, other_account):
    make_contact(other_account[0], "Olga Other", "+4791999999")
    html = marketer.get(f"/groups/{vip.id}/add?search=olga").get_data(as_text=True)
    assert "Olga" not in html.split('<section id="candidates">')[1]
    assert "No contacts match" in html


def test_member_ids_among_and_groups_of(account, vip):
    ada = db.session.scalars(db.select(Contact).where(Contact.name == "Ada")).one()
    outsider = db.session.scalars(db.select(Contact).where(Contact.name == "Outsider")).one()
    assert group_service.member_ids_among(account, vip.id, [ada.id, outsider.id, ada.id]) == {ada.id}
    other = group_service.create_group(account, "Another")
    group_service.add_members(account, other.id, [ada.id])
    assert [g.name for g in group_service.groups_of(account, ada.id)] == ["Another", "VIP"]
