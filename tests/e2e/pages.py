"""Steps the browser journeys share."""
from __future__ import annotations

from playwright.sync_api import Page, expect


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_text(email, exact=True)).to_be_visible()
