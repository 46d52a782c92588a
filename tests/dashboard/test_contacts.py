"""The contacts pages: the list (search as you type, tag and group filters, pages), adding and
editing in place, deleting, GDPR anonymising, ticking contacts into a group, and a contact's page
with its message history. Every page and fragment is fetched as a whole page and as htmx asks for
it, by each role; the rules behind the forms are the services' (app.services.contacts)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Contact, Message, Status, utcnow
from app.services import contacts as contact_service
from app.services import groups as group_service
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

ROLES = ["admin", "manager", "marketer", "viewer"]
EDITORS = ["admin", "marketer"]
READ_ONLY = ["manager", "viewer"]
XSS = '<script>alert("x")</script>'


def make(account, name, number=None, **fields):
    return contact_service.create_contact(account, {"name": name, "phone_number": number, **fields})


def rows(html: str) -> list[str]:
    """The ids of the contact rows, in order."""
    return re.findall(r'<tr id="contact-([0-9a-f-]{36})"', html)


def form_for(contact, **values) -> dict:
    """An edit row's fields, prefixed with the contact's id as the form renders them."""
    current = {"name": contact.name, "phone_number": contact.phone_number or "", "email": contact.email or "",
               "tags": ", ".join(contact.tags or []), "type": contact.type}
    return {f"c-{contact.id}-{key}": value for key, value in {**current, **values}.items()}


@pytest.fixture
def marketer(login_as):
    return login_as("marketer")


@pytest.fixture
def people(account):
    return [make(account, "Ada Lovelace", "+4791000001", email="ada@example.com", tags=["VIP", "Oslo"]),
            make(account, "Bjørn Dæhlie", "+47 910 00 002", tags=["skier"]),
            make(account, "Cecilie Berg", "004791000003", tags=["vip"])]


# -- the list ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_list_as_a_page_and_as_a_fragment(login_as, people, other_account, role):
    make(other_account[0], "Stranger Danger", "+4791999999")
    browser = login_as(role)
    html = full_page(browser.get("/contacts"))
    assert "Ada Lovelace" in html and "Bjørn Dæhlie" in html and "Stranger Danger" not in html
    assert "<code>+4791000002</code>" in html  # stored and shown in E.164
    assert '<a href="/contacts" aria-current="page">Contacts</a>' in html

    fragment = htmx_fragment(browser.get("/contacts", htmx=True))
    assert fragment.lstrip().startswith('<section id="contact-list">')
    assert "Ada Lovelace" in fragment and "Stranger Danger" not in fragment
    assert 'id="contact-filters"' not in fragment and 'id="new-contact"' not in fragment


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_get_no_controls(login_as, people, role):
    html = login_as(role).get("/contacts").get_data(as_text=True)
    for control in ('id="new-contact"', 'id="bulk-form"', 'type="checkbox"', ">Edit<", ">Delete<",
                    "Anonymise (GDPR)"):
        assert control not in html, control
    assert 'id="contact-filters"' in html  # reading includes searching


@pytest.mark.parametrize("role", EDITORS)
def test_editors_get_the_controls(login_as, people, role):
    html = login_as(role).get("/contacts").get_data(as_text=True)
    for control in ('id="new-contact"', 'id="bulk-form"', 'form="bulk-form"', ">Edit<", ">Delete<",
                    "Anonymise (GDPR)", "hx-confirm="):
        assert control in html, control


def test_search_box_asks_the_same_url_for_the_rows_as_you_type(marketer):
    html = marketer.get("/contacts").get_data(as_text=True)
    box = html.split('id="contact-search"')[1].split(">")[0]
    assert 'hx-get="/contacts"' in box
    assert 'hx-trigger="input changed delay:300ms, search"' in box
    assert 'hx-target="#contact-list"' in box and 'hx-push-url="true"' in box
    assert 'hx-include="#contact-filters"' in box


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("term, expected", [
    ("ada", ["Ada Lovelace"]),                       # part of a name, any case
    ("DÆHLIE", ["Bjørn Dæhlie"]),                     # beyond ASCII
    ("910 00 003", ["Cecilie Berg"]),                 # a number typed with spaces
    ("ada@example", ["Ada Lovelace"]),                # email
    ("9100000", ["Ada Lovelace", "Bjørn Dæhlie", "Cecilie Berg"]),
    ("nobody", []),
])
def test_search(login_as, people, htmx, term, expected):
    response = login_as("viewer").get(f"/contacts?search={term}", htmx=htmx)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    by_id = {c.id: c.name for c in people}
    assert [by_id[i] for i in rows(html)] == expected
    if not expected:
        assert "No contacts match these filters." in html
    if not htmx:
        assert f'value="{term}"' in html  # the box shows what was searched


@pytest.mark.parametrize("htmx", [False, True])
def test_tag_filter_ignores_case_and_lists_the_tags(login_as, people, htmx):
    browser = login_as("viewer")
    html = browser.get("/contacts?tag=VIP", htmx=htmx).get_data(as_text=True)
    assert {people[0].id, people[2].id} == set(rows(html))
    page = browser.get("/contacts?tag=VIP").get_data(as_text=True)
    tags = page.split('id="contact-tag"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', tags) == ["", "Oslo", "skier", "VIP"]
    assert '<option value="VIP" selected>' in tags


@pytest.mark.parametrize("htmx", [False, True])
def test_group_filter_and_combined_filters(login_as, account, people, htmx):
    group = group_service.create_group(account, "Skiers & friends")
    group_service.add_members(account, group.id, [people[1].id, people[2].id])
    browser = login_as("viewer")
    html = browser.get(f"/contacts?group={group.id}", htmx=htmx).get_data(as_text=True)
    assert set(rows(html)) == {people[1].id, people[2].id}
    html = browser.get(f"/contacts?group={group.id}&tag=vip&search=cec", htmx=htmx).get_data(as_text=True)
    assert rows(html) == [people[2].id]
    page = browser.get(f"/contacts?group={group.id}").get_data(as_text=True)
    assert f'<option value="{group.id}" selected>Skiers &amp; friends</option>' in page


def test_another_accounts_group_as_a_filter_is_404(login_as, other_account):
    theirs = group_service.create_group(other_account[0], "Theirs")
    browser = login_as("admin")
    assert browser.get(f"/contacts?group={theirs.id}").status_code == 404
    assert browser.get(f"/contacts?group={theirs.id}", htmx=True).status_code == 404


class TestPages:
    @pytest.fixture
    def many(self, account):
        return [make(account, f"Person {i:03d}", f"+479200{i:04d}", tags=["even" if i % 2 == 0 else "odd"])
                for i in range(120)]

    def test_first_page_and_links(self, login_as, many):
        html = login_as("viewer").get("/contacts").get_data(as_text=True)
        assert len(rows(html)) == 50 and "Person 000" in html and "Person 050" not in html
        assert "1–50 of 120 contacts" in html and "Page 1 of 3" in html
        assert 'href="/contacts?page=2"' in html and 'hx-get="/contacts?page=2"' in html
        assert 'rel="prev"' not in html

    @pytest.mark.parametrize("htmx", [False, True])
    def test_later_pages(self, login_as, many, htmx):
        browser = login_as("viewer")
        second = browser.get("/contacts?page=2", htmx=htmx).get_data(as_text=True)
        assert len(rows(second)) == 50 and "Person 050" in second and "Person 099" in second
        assert 'href="/contacts?page=1"' in second and 'href="/contacts?page=3"' in second
        last = browser.get("/contacts?page=3", htmx=htmx).get_data(as_text=True)
        assert len(rows(last)) == 20 and "101–120 of 120 contacts" in last and 'rel="next"' not in last
        if htmx:
            assert second.lstrip().startswith('<section id="contact-list">')

    def test_pages_keep_the_filters(self, login_as, many):
        html = login_as("viewer").get("/contacts?tag=even&search=person").get_data(as_text=True)
        assert len(rows(html)) == 50 and "1–50 of 60 contacts" in html
        assert 'href="/contacts?page=2&amp;search=person&amp;tag=even"' in html
        second = login_as("viewer").get("/contacts?page=2&search=person&tag=even").get_data(as_text=True)
        assert len(rows(second)) == 10 and "Person 118" in second and "Person 001" not in second

    @pytest.mark.parametrize("page", ["0", "-3", "abc", ""])
    def test_unreadable_page_numbers_are_the_first_page(self, login_as, many, page):
        response = login_as("viewer").get(f"/contacts?page={page}")
        assert response.status_code == 200 and "Person 000" in response.get_data(as_text=True)

    def test_a_page_past_the_end_is_empty_with_a_way_back(self, login_as, many):
        html = login_as("viewer").get("/contacts?page=9").get_data(as_text=True)
        assert rows(html) == [] and "No contacts on this page." in html
        assert 'href="/contacts?page=3"' in html


# -- adding --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", EDITORS)
def test_add_without_javascript(login_as, account, role):
    browser = login_as(role)
    response = browser.post("/contacts", {"name": "Kari Nordmann", "phone_number": "412 34 567",
                                          "email": "kari@example.com", "tags": "vip, Oslo ,, vip", "type": "person"})
    assert response.status_code == 303 and response.headers["Location"] == "/contacts"
    contact = db.session.scalars(db.select(Contact).where(Contact.name == "Kari Nordmann")).one()
    assert contact.account_id == account.id
    assert contact.phone_number == "+4741234567"  # read as a Norwegian number: the account's region
    assert contact.tags == ["vip", "Oslo"]
    assert "Added Kari Nordmann." in browser.get("/contacts").get_data(as_text=True)


def test_add_with_htmx_answers_a_fresh_form_and_the_new_row_on_top(marketer, people):
    response = marketer.post("/contacts", {"name": "Zed", "phone_number": "+4741234567", "type": "person"}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="new-contact"')
    assert 'value="Zed"' not in html  # cleared
    new = db.session.scalars(db.select(Contact).where(Contact.name == "Zed")).one()
    assert '<template><tbody hx-swap-oob="afterbegin:#contact-rows">' in html
    assert f'<tr id="contact-{new.id}" class="added">' in html
    assert "Added Zed." in html and 'hx-swap-oob="true"' in html  # the flash, out of band


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("number, message", [
    ("12", "Phone number &#39;12&#39; is too short"),
    ("+999123456", "Phone number &#39;+999123456&#39; has an unknown country code"),
    ("call me", "Phone number &#39;call me&#39; contains letters; a phone number may only contain digits"),
])
def test_an_invalid_number_is_shown_next_to_the_field_and_kept(marketer, number, message, htmx):
    response = marketer.post("/contacts", {"name": "Nils", "phone_number": number, "type": "person"}, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="error" id="phone_number-error">{message}</p>' in html
    assert f'value="{number}"' in html and 'value="Nils"' in html
    assert 'aria-invalid="true"' in html
    assert db.session.scalars(db.select(Contact).where(Contact.name == "Nils")).first() is None
    if htmx:
        assert htmx_fragment(response).lstrip().startswith('<form id="new-contact"')
    else:
        full_page(response)


def test_a_number_already_in_use_is_refused_next_to_the_field(marketer, people):
    response = marketer.post("/contacts", {"name": "Copy", "phone_number": "91000001", "type": "person"}, htmx=True)
    assert response.status_code == 422
    error = response.get_data(as_text=True).split('id="phone_number-error">')[1].split("</p>")[0]
    assert "A contact with phone number +4791000001 already exists" in error


@pytest.mark.parametrize("values, field, message", [
    ({"name": "", "phone_number": "91234567"}, "name", "Enter a name."),
    ({"name": "x" * 201}, "name", "Name may be at most 200 characters"),
    ({"name": "Eve", "email": "not-an-email"}, "email", "Email &#39;not-an-email&#39; is not a valid email address"),
    ({"name": "Eve", "tags": "x" * 51}, "tags", "Tags may be at most 50 characters each"),
    ({"name": "Eve", "type": "robot"}, "type", "Not a valid choice."),
])
def test_other_refusals_are_next_to_their_fields(marketer, values, field, message):
    response = marketer.post("/contacts", {"type": "person", **values}, htmx=True)
    assert response.status_code == 422
    assert f'<p class="error" id="{field}-error">{message}' in response.get_data(as_text=True)


def test_script_in_a_name_is_shown_as_text(marketer, account):
    marketer.post("/contacts", {"name": XSS, "phone_number": "91234567", "tags": "<b>bold</b>", "type": "person"})
    contact = db.session.scalars(db.select(Contact).where(Contact.phone_number == "+4791234567")).one()
    for response in (marketer.get("/contacts"), marketer.get("/contacts", htmx=True),
                     marketer.get(f"/contacts/{contact.id}"), marketer.get(f"/contacts/{contact.id}/edit", htmx=True)):
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


# -- editing in place ----------------------------------------------------------------------------

def test_edit_turns_the_row_into_a_form(marketer, people):
    ada = people[0]
    response = marketer.get(f"/contacts/{ada.id}/edit", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith(f'<tr id="contact-{ada.id}" class="editing">')
    assert f'hx-post="/contacts/{ada.id}"' in html and 'hx-target="closest tr"' in html
    assert f'name="c-{ada.id}-name"' in html and 'value="Ada Lovelace"' in html
    assert 'value="VIP, Oslo"' in html
    assert 'hx-include="#contact-filters, #contact-list-page"' in html  # Cancel redraws the list as it was


def test_edit_page_without_javascript(marketer, people):
    html = full_page(marketer.get(f"/contacts/{people[0].id}/edit"))
    assert "<h1>Edit Ada Lovelace</h1>" in html and f'action="/contacts/{people[0].id}"' in html


def test_save_with_htmx_swaps_the_row_back(marketer, people):
    ada = people[0]
    response = marketer.post(f"/contacts/{ada.id}", form_for(ada, name="Ada King", phone_number="91000009",
                                                             tags="VIP"), htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith(f'<tr id="contact-{ada.id}">')
    assert "Ada King" in html and "<code>+4791000009</code>" in html and "Saved Ada King." in html
    saved = fresh(Contact, ada.id)
    assert saved.name == "Ada King" and saved.phone_number == "+4791000009" and saved.tags == ["VIP"]


def test_save_without_javascript_shows_the_contact(marketer, people):
    ada = people[0]
    response = marketer.post(f"/contacts/{ada.id}", form_for(ada, email=""))
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/{ada.id}"
    assert fresh(Contact, ada.id).email is None


@pytest.mark.parametrize("htmx", [False, True])
def test_a_refused_edit_keeps_the_form_with_the_message(marketer, people, htmx):
    ada = people[0]
    response = marketer.post(f"/contacts/{ada.id}", form_for(ada, phone_number="0"), htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="error" id="c-{ada.id}-phone_number-error">Phone number &#39;0&#39; is too short</p>' in html
    assert 'value="0"' in html
    assert fresh(Contact, ada.id).phone_number == "+4791000001"
    if htmx:
        assert htmx_fragment(response).lstrip().startswith(f'<tr id="contact-{ada.id}" class="editing">')
    else:
        assert "<h1>Edit Ada Lovelace</h1>" in full_page(response)


def test_an_anonymised_contact_cannot_be_edited(marketer, account, people):
    contact_service.gdpr_delete(account, people[0].id)
    response = marketer.post(f"/contacts/{people[0].id}", form_for(fresh(Contact, people[0].id), name="Back"),
                             htmx=True)
    assert response.status_code == 422
    assert "was anonymised (GDPR erasure) and cannot be changed" in response.get_data(as_text=True)
    assert fresh(Contact, people[0].id).name == "Anonymised"


# -- deleting and anonymising --------------------------------------------------------------------

def test_delete_with_htmx_removes_the_row(marketer, account, people):
    group = group_service.create_group(account, "G")
    ada = people[0].id
    group_service.add_members(account, group.id, [ada])
    response = marketer.post(f"/contacts/{ada}/delete", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.startswith("<template>") and "Deleted Ada Lovelace." in html and "<tr" not in html
    assert fresh(Contact, ada) is None
    assert group_service.member_count(group) == 0


def test_delete_without_javascript_and_from_the_contacts_page(marketer, people):
    first, second = people[0].id, people[1].id
    response = marketer.post(f"/contacts/{first}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/contacts"
    # On the contact's own page htmx is told to load the list instead: the page is gone.
    response = marketer.post(f"/contacts/{second}/delete", {"from_page": "detail"}, htmx=True)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/contacts"
    assert fresh(Contact, first) is None and fresh(Contact, second) is None
    assert "Deleted Bjørn Dæhlie." in marketer.get("/contacts").get_data(as_text=True)


def test_anonymise_with_htmx_redraws_the_row(marketer, account, people):
    group = group_service.create_group(account, "G")
    group_service.add_members(account, group.id, [people[0].id])
    response = marketer.post(f"/contacts/{people[0].id}/anonymise", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith(f'<tr id="contact-{people[0].id}" class="inactive">')
    assert '<span class="badge inactive">anonymised</span>' in html
    assert "Ada" not in html and "+4791000001" not in html and ">Edit<" not in html
    contact = fresh(Contact, people[0].id)
    assert contact.name == "Anonymised" and contact.phone_number is None and contact.anonymised_at
    assert group_service.member_count(group) == 0


def test_anonymise_without_javascript_shows_the_contact(marketer, people):
    response = marketer.post(f"/contacts/{people[0].id}/anonymise")
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/{people[0].id}"
    response = marketer.post(f"/contacts/{people[1].id}/anonymise", {"from_page": "detail"}, htmx=True)
    assert response.headers["HX-Redirect"] == f"/contacts/{people[1].id}"
    html = marketer.get(f"/contacts/{people[1].id}").get_data(as_text=True)
    assert "Erased the contact&#39;s personal data (GDPR)" in html and "Bjørn" not in html


# -- ticking contacts into a group ---------------------------------------------------------------

def test_bulk_add_with_htmx(marketer, account, people):
    group = group_service.create_group(account, "VIP")
    group_service.add_members(account, group.id, [people[0].id])
    response = marketer.post("/contacts/add-to-group",
                             {"group_id": group.id, "contact_ids": [people[0].id, people[2].id]}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="bulk-form"')
    assert "Added 1 contact to VIP. 1 was already in it." in html
    assert group_service.member_count(group) == 2


def test_bulk_add_without_javascript_goes_back_to_the_list_as_it_was(marketer, account, people):
    group = group_service.create_group(account, "VIP")
    response = marketer.post("/contacts/add-to-group", {"group_id": group.id, "contact_ids": [people[1].id],
                                                        "search": "bj", "tag": "", "page": "2"})
    assert response.status_code == 303 and response.headers["Location"] == "/contacts?search=bj&page=2"
    assert "Added 1 contact to VIP." in marketer.get("/contacts").get_data(as_text=True)


@pytest.mark.parametrize("data, message", [
    ({"contact_ids": []}, "Choose a group."),
    ({"group_id": "GROUP"}, "Tick the contacts to add first."),
])
def test_bulk_add_needs_a_group_and_contacts(marketer, account, people, data, message):
    group = group_service.create_group(account, "VIP")
    data = {k: (group.id if v == "GROUP" else v) for k, v in data.items()}
    response = marketer.post("/contacts/add-to-group", data, htmx=True)
    assert response.status_code == 422
    assert f'<p class="error" id="bulk-error" role="alert">{message}</p>' in htmx_fragment(response)


def test_bulk_add_of_another_accounts_contacts_adds_nothing(marketer, account, people, other_account):
    group = group_service.create_group(account, "VIP")
    theirs = make(other_account[0], "Theirs", "+4791999999")
    response = marketer.post("/contacts/add-to-group", {"group_id": group.id,
                                                        "contact_ids": [people[0].id, theirs.id]}, htmx=True)
    assert response.status_code == 422
    assert "Unknown contact ids (nothing was added)" in response.get_data(as_text=True)
    assert group_service.member_count(group) == 0


def test_bulk_add_into_another_accounts_group_is_404(marketer, people, other_account):
    theirs = group_service.create_group(other_account[0], "Theirs")
    for htmx in (False, True):
        response = marketer.post("/contacts/add-to-group", {"group_id": theirs.id, "contact_ids": [people[0].id]},
                                 htmx=htmx)
        assert response.status_code == 404
    assert group_service.member_count(theirs) == 0


def test_bulk_form_without_groups_points_to_the_groups_page(marketer, people):
    html = marketer.get("/contacts").get_data(as_text=True)
    assert '<a href="/groups">create a group</a>' in html


# -- a contact's page ----------------------------------------------------------------------------

def _message(account_id, direction, number, body, status, minutes_ago):
    other = "+4790000000"
    message = Message(account_id=account_id, direction=direction, body=body, status=status,
                      to_number=number if direction == "OUTBOUND" else other,
                      from_number=other if direction == "OUTBOUND" else number,
                      created_at=utcnow() - timedelta(minutes=minutes_ago))
    db.session.add(message)
    db.session.commit()
    return message


@pytest.mark.parametrize("role", ROLES)
def test_contact_page_with_message_history_newest_first(login_as, account, other_account, people, role):
    ada = people[0]
    _message(account.id, "OUTBOUND", ada.phone_number, "First hello", Status.DELIVERED, 30)
    _message(account.id, "INBOUND", ada.phone_number, "Reply from Ada", Status.RECEIVED, 20)
    third = _message(account.id, "OUTBOUND", ada.phone_number, "Third", Status.FAILED, 10)
    _message(account.id, "OUTBOUND", people[1].phone_number, "To Bjørn", Status.SENT, 5)
    _message(other_account[0].id, "OUTBOUND", ada.phone_number, "Other tenant", Status.SENT, 1)
    group = group_service.create_group(account, "VIP")
    group_service.add_members(account, group.id, [ada.id])
    browser = login_as(role)

    html = full_page(browser.get(f"/contacts/{ada.id}"))
    assert "<h1>Ada Lovelace</h1>" in html and f'<a href="/groups/{group.id}">VIP</a>' in html
    assert html.index("Third") < html.index("Reply from Ada") < html.index("First hello")
    assert '<span class="badge status delivered">delivered</span>' in html
    assert '<span class="badge status failed">failed</span>' in html and "Received" in html
    assert "To Bjørn" not in html and "Other tenant" not in html
    if "dashboard.message" in browser.app.view_functions:  # the messages log, when it is there
        assert f'<a href="/messages/{third.id}">' in html
    assert (">Delete<" in html) == (role in EDITORS)

    fragment = htmx_fragment(browser.get(f"/contacts/{ada.id}", htmx=True))
    assert fragment.lstrip().startswith('<section id="contact-history">')
    assert "Third" in fragment and "<h1>" not in fragment


def test_history_pages(login_as, account, people):
    ada = people[0]
    for i in range(30):
        _message(account.id, "OUTBOUND", ada.phone_number, f"Message {i:02d}", Status.DELIVERED, 100 - i)
    browser = login_as("viewer")
    first = browser.get(f"/contacts/{ada.id}").get_data(as_text=True)
    assert "Message 29" in first and "Message 05" in first and "Message 04" not in first
    assert f'hx-get="/contacts/{ada.id}?page=2"' in first and 'hx-target="#contact-history"' in first
    second = htmx_fragment(browser.get(f"/contacts/{ada.id}?page=2", htmx=True))
    assert "Message 04" in second and "Message 00" in second and "Message 05" not in second


def test_a_contact_without_a_number_has_no_history_not_everyones(login_as, account, people):
    _message(account.id, "OUTBOUND", people[0].phone_number, "Someone else's", Status.DELIVERED, 5)
    nobody = make(account, "No Number")
    html = login_as("viewer").get(f"/contacts/{nobody.id}").get_data(as_text=True)
    assert "No phone number, so no messages." in html and "Someone else" not in html


# -- who may do what, and whose contacts -----------------------------------------------------------

def _changes(contact_id: str) -> list[str]:
    return ["/contacts", f"/contacts/{contact_id}", f"/contacts/{contact_id}/delete",
            f"/contacts/{contact_id}/anonymise", "/contacts/add-to-group"]


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_cannot_change_anything_by_hand_crafted_requests(login_as, account, people, role):
    group = group_service.create_group(account, "VIP")
    browser = login_as(role)
    data = {"name": "Hacked", "phone_number": "91111111", "type": "person", "group_id": group.id,
            "contact_ids": [people[0].id], **form_for(people[0], name="Hacked")}
    for path in _changes(people[0].id):
        assert browser.post(path, data).status_code == 403, path
        assert browser.post(path, data, htmx=True).status_code == 403, path
    assert browser.get(f"/contacts/{people[0].id}/edit").status_code == 403
    assert browser.get(f"/contacts/{people[0].id}/edit", htmx=True).status_code == 403
    contact = fresh(Contact, people[0].id)
    assert contact.name == "Ada Lovelace" and contact.anonymised_at is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Contact)) == 3
    assert group_service.member_count(group) == 0


def test_every_change_needs_the_csrf_token(marketer, account, people):
    group = group_service.create_group(account, "VIP")
    data = {"name": "x", "group_id": group.id, "contact_ids": [people[0].id]}
    for path in _changes(people[0].id):
        assert marketer.post(path, data, csrf=False).status_code == 400, path
        assert marketer.request("POST", path, data=data, htmx=True).status_code == 400, path
    assert fresh(Contact, people[0].id) is not None and group_service.member_count(group) == 0


def test_another_accounts_contact_is_404_everywhere(login_as, other_account):
    theirs = make(other_account[0], "Theirs", "+4791999999")
    admin = login_as("admin")
    for htmx in (False, True):
        for path in (f"/contacts/{theirs.id}", f"/contacts/{theirs.id}/edit"):
            assert admin.get(path, htmx=htmx).status_code == 404, path
        for path in (f"/contacts/{theirs.id}", f"/contacts/{theirs.id}/delete", f"/contacts/{theirs.id}/anonymise"):
            assert admin.post(path, {"name": "Mine now"}, htmx=htmx).status_code == 404, path
    assert admin.get("/contacts/no-such-id").status_code == 404
    contact = fresh(Contact, theirs.id)
    assert contact.name == "Theirs" and contact.anonymised_at is None


@pytest.mark.parametrize("role", ROLES)
def test_navigation_links_the_directory_for_every_role(login_as, role):
    nav = login_as(role).get("/").get_data(as_text=True).split('<ul class="nav">')[1].split("</ul>")[0]
    for path, label in (("/contacts", "Contacts"), ("/groups", "Groups"), ("/opt-outs", "Opt-outs")):
        assert f'<a href="{path}">{label}</a>' in nav


def test_tags_in_use_are_listed_once_ignoring_case(account, other_account):
    make(account, "A", tags=["vip", "Oslo"])
    make(account, "B", tags=["VIP", "bergen"])
    make(account, "C")
    make(other_account[0], "D", tags=["secret"])
    assert contact_service.tags_in_use(account) == ["bergen", "Oslo", "VIP"]
